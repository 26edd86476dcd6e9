"""Stand-in stages that fail on cue, for driving the real pipeline through each failure.

Each wraps or imitates the protocol of a real stage (STT, TTS, LLM, audio in/out) and
raises on the calls listed in `fail_on` (0-based call numbers), then works again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from audio_fixtures import Stream

from voice_agent.llm.base import LLMError
from voice_agent.stt import Transcript
from voice_agent.tts.base import Speech


class Broken(RuntimeError):
    """The injected failure."""


@dataclass
class ScriptedSTT:
    """Hears the scripted sentences in order, one per utterance; keeps the contexts given."""

    sentences: list[str]
    fail_on: set[int] = field(default_factory=set)
    calls: int = 0
    contexts: list[str | None] = field(default_factory=list)

    def transcribe(self, pcm: bytes, context: str | None = None) -> Transcript:
        n, self.calls = self.calls, self.calls + 1
        self.contexts.append(context)
        if n in self.fail_on:
            raise Broken("the speech model crashed")
        return Transcript(self.sentences[n], "en", len(pcm) / 32000, 1.0)

    def load(self) -> None: ...

    def warmup(self) -> None: ...


@dataclass
class QuickTTS:
    """0.3 s of a tone per sentence, instantly."""

    fail_on: set[int] = field(default_factory=set)
    spoken: list[str] = field(default_factory=list)
    name: str = "quick"
    calls: int = 0

    def synthesize(self, text: str) -> Speech:
        n, self.calls = self.calls, self.calls + 1
        if n in self.fail_on:
            raise Broken("the voice crashed")
        self.spoken.append(text)
        tone = (np.sin(np.arange(6615) * 0.05) * 8000).astype("<i2")
        return Speech(tone.tobytes(), 22050)

    def warmup(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class ScriptedLLM:
    """Streams `reply` word by word, `delay_s` apart; on a failing call it stops midway
    with an LLMError."""

    reply: str = "Paris is the capital of France."
    delay_s: float = 0.0
    fail_on: set[int] = field(default_factory=set)
    replies: list[str] = field(default_factory=list)  # call by call, before `reply`
    seen: list[list[dict]] = field(default_factory=list)  # the messages of each call
    name: str = "scripted"
    calls: int = 0

    def stream_chat(self, messages, **options) -> Iterator[str]:
        n, self.calls = self.calls, self.calls + 1
        self.seen.append(messages)
        words = (self.replies[n] if n < len(self.replies) else self.reply).split(" ")
        for i, word in enumerate(words):
            if n in self.fail_on and i == 2:
                raise LLMError("the stream ended without done")
            time.sleep(self.delay_s)
            yield word if i == 0 else " " + word

    def warmup(self, system_prompts=()) -> None: ...


class MemorySink:
    """A speaker that plays in real time into memory; `fail_on` plays raise."""

    def __init__(self, fail_on: set[int] = frozenset()) -> None:
        self.fail_on = set(fail_on)
        self.played: list[bytes] = []
        self.calls = 0
        self._stop = threading.Event()

    def play(self, pcm: bytes, sample_rate: int) -> None:
        n, self.calls = self.calls, self.calls + 1
        if n in self.fail_on:
            raise Broken("the sound card went away")
        self._stop.clear()
        deadline = time.perf_counter() + len(pcm) / 2 / sample_rate
        while time.perf_counter() < deadline and not self._stop.is_set():
            time.sleep(0.005)
        self.played.append(pcm)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None: ...


class PacedSource:
    """A recording delivered at the pace of a microphone (`speed` times real time)."""

    def __init__(self, stream: Stream, frame_ms: int = 20, speed: float = 1.0) -> None:
        self.stream = stream
        self.frame_ms = frame_ms
        self.speed = speed
        self.captured_at = 0.0

    def frames(self) -> Iterator[bytes]:
        start = time.monotonic()
        for i, frame in enumerate(self.stream.frames(self.frame_ms)):
            due = start + i * self.frame_ms / 1000 / self.speed
            time.sleep(max(0.0, due - time.monotonic()))
            self.captured_at = due
            yield frame

    def close(self) -> None: ...


def cli(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """`voice-agent ARGS` in a fresh interpreter, as a user runs it (wide: a table row a line)."""
    return subprocess.run(
        [sys.executable, "-m", "voice_agent", *args],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "1000"},
    )
