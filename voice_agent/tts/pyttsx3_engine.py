"""pyttsx3 text to speech (espeak-ng on Linux), driven by one worker thread per process.

espeak-ng is process-global (one synthesis callback) and synthesizes in a thread of its
own, and pyttsx3's run loop is known to hang when driven from several threads. So a single
worker owns the only engine: every `Pyttsx3TTS` is a handle that queues requests, with its
own rate and voice, to that worker and waits on a future with a timeout. A worker that
overruns the timeout is retired and a fresh one (with a fresh engine) starts on the next
call. Recovery is best effort: an engine stuck inside espeak-ng cannot be stopped.

Measured here (2 cores): a 16-word sentence takes 15-25 ms for about 4 s of audio.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import importlib.util
import logging
import os
import queue
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from voice_agent.config import TtsConfig
from voice_agent.errors import ConfigError, UserError
from voice_agent.tts.base import Speech
from voice_agent.tts.chunker import speakable

log = logging.getLogger(__name__)
T = TypeVar("T")

ESPEAK_SAMPLE_RATE = 22050  # what espeak_Initialize reports; pyttsx3 writes it in the header


@dataclass(frozen=True)
class _Engine:
    pyttsx3: Any  # pyttsx3.Engine, imported lazily
    default_voice: str  # restored for handles without a voice: another may have changed it
    wav_path: str  # reused by every job: a temporary directory per job costs 3 ms
    busy: Callable[[], bool]  # whether espeak-ng's command queue is still working

    def wait_idle(self, limit_s: float = 1.0) -> None:
        """Let espeak-ng apply queued settings: pyttsx3 starts every run loop by cancelling
        whatever espeak-ng is still doing, and that drops a just-queued rate or voice."""
        deadline = time.monotonic() + limit_s
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.0005)


_Job = tuple[Callable[[_Engine], Any], Future]


class TtsTimeoutError(RuntimeError):
    """The engine did not finish in time; it is replaced on the next call."""


class _Worker:
    """The thread that owns the pyttsx3 engine; a job is a function of the engine."""

    def __init__(self) -> None:
        self.engine: _Engine | None = None
        self.retired = False
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="pyttsx3-worker", daemon=True).start()

    def submit(self, job: Callable[[_Engine], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future

    def retire(self) -> None:
        """Fail what is queued and stop once the current job (maybe hung forever) returns."""
        self.retired = True
        self._jobs.put(None)

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            if self.retired:
                future.set_exception(TtsTimeoutError("pyttsx3 was restarted after a hang"))
                continue
            try:
                future.set_result(job(self._engine()))
            except Exception as exc:  # delivered to the caller, who raises it
                future.set_exception(exc)

    def _engine(self) -> _Engine:
        if self.engine is None:
            self.engine = _new_engine()
        return self.engine


def _new_engine() -> _Engine:
    import pyttsx3

    try:
        # Not pyttsx3.init(): it hands back a cached engine, which may be a hung one.
        engine = pyttsx3.Engine()
    except (OSError, RuntimeError) as exc:
        raise UserError(
            f"pyttsx3 could not start its speech engine ({exc}): install espeak-ng "
            "(`sudo apt-get install espeak-ng`, or `make install` as root)"
        ) from None
    busy = _espeak_hooks() if engine.driver_name == "espeak" else _never_busy
    fd, wav_path = tempfile.mkstemp(prefix="voice-agent-tts-", suffix=".wav")
    os.close(fd)
    atexit.register(Path(wav_path).unlink, missing_ok=True)
    # A fresh engine's first runAndWait returns before espeak-ng (which synthesizes in its
    # own thread) is done, and that late finish then cuts the next job short. An empty
    # first loop leaves the engine idle; from then on runAndWait waits for the audio.
    engine.runAndWait()
    return _Engine(engine, engine.getProperty("voice"), wav_path, busy)


def _espeak_hooks() -> Callable[[], bool]:
    """Quiet the espeak driver; return espeak-ng's is-busy check."""
    from pyttsx3.drivers import _espeak

    # The driver print()s "Audio saved to ..." for every file, into the terminal UI.
    driver = sys.modules["pyttsx3.drivers.espeak"]
    driver.print = lambda *args, **_: log.debug(" ".join(map(str, args)))  # type: ignore[attr-defined]
    return _espeak.IsPlaying


def _never_busy() -> bool:
    return False


_lock = threading.Lock()
_worker: _Worker | None = None
# Retired workers stay referenced: freeing a pyttsx3 engine calls espeak's
# SetSynthCallback(None), which would silence the engine that replaced it.
_retired: list[_Worker] = []


def _current_worker() -> _Worker:
    global _worker
    with _lock:
        if _worker is None:
            _worker = _Worker()
        return _worker


def _retire(worker: _Worker) -> None:
    global _worker
    with _lock:
        if _worker is worker:
            _worker = None
            _retired.append(worker)
            worker.retire()


class Pyttsx3TTS:
    """Speech from pyttsx3; `config.rate` in words per minute, `config.voice` an id or name."""

    name = "pyttsx3"

    def __init__(self, config: TtsConfig, timeout_s: float = 5.0) -> None:
        if importlib.util.find_spec("pyttsx3") is None:
            raise UserError("pyttsx3 is not installed: run `pip install -e '.[voice]'`")
        self.sample_rate = ESPEAK_SAMPLE_RATE
        self._rate = config.rate
        self._timeout_s = timeout_s
        self._closed = False
        # Checked now, so a typo fails at start-up rather than at the first answer.
        self._voice = self._call(lambda e: _match_voice(e, config.voice)) if config.voice else None

    def synthesize(self, text: str) -> Speech:
        """Speak `text` (normalised with `speakable`) into memory; blocks until done."""
        if self._closed:
            raise RuntimeError("this pyttsx3 voice is closed")
        text = speakable(text)
        if not text:  # pyttsx3 asserts on empty text; there is nothing to say anyway
            return Speech(b"", self.sample_rate)
        speech = self._call(lambda e: _render(e, text, self._rate, self._voice))
        self.sample_rate = speech.sample_rate
        return speech

    def warmup(self) -> None:
        """Start the worker and its engine and load the voice (about 30 ms)."""
        self.synthesize("Ready.")

    def close(self) -> None:
        """Close this handle; the shared worker stays (idle) for other handles."""
        self._closed = True

    def _call(self, job: Callable[[_Engine], T]) -> T:
        worker = _current_worker()
        future = worker.submit(job)
        try:
            return future.result(timeout=self._timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            _retire(worker)
            raise TtsTimeoutError(
                f"pyttsx3 did not finish speaking within {self._timeout_s:g} s "
                "(the espeak-ng engine hung); it is restarted on the next call"
            ) from None


def _render(state: _Engine, text: str, rate: int, voice: str | None) -> Speech:
    """In the worker thread: synthesize to a WAV file and read it back."""
    engine = state.pyttsx3
    # Per job (under 1 ms): handles sharing the engine may differ in voice and rate.
    engine.setProperty("voice", voice or state.default_voice)
    engine.setProperty("rate", rate)
    state.wait_idle()
    engine.save_to_file(text, state.wav_path)
    engine.runAndWait()
    return _read_wav(state.wav_path)


def _read_wav(path: str) -> Speech:
    with wave.open(path, "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise RuntimeError(
                f"pyttsx3 wrote {wav.getnchannels()} channels of {wav.getsampwidth() * 8}-bit "
                "audio; expected mono 16-bit"
            )
        return Speech(wav.readframes(wav.getnframes()), wav.getframerate())


def _match_voice(state: _Engine, wanted: str) -> str:
    """In the worker thread: the voice id for an id ("gmw/en-us"), language ("en-us") or
    name ("America"); an espeak variant suffix ("en-us+f3") is kept."""
    base, plus, variant = wanted.partition("+")
    key = base.strip().lower()
    voices = state.pyttsx3.getProperty("voices")
    tests: tuple[Callable[[Any], bool], ...] = (
        lambda v: key in (v.id.lower(), v.id.lower().rsplit("/", 1)[-1]),
        lambda v: key in (lang.lower() for lang in v.languages or ()),
        lambda v: key == v.name.lower(),
        lambda v: v.name.lower().startswith(key),
        lambda v: key in v.name.lower(),
    )
    for test in tests:
        for voice in voices:
            if test(voice):
                return voice.id + plus + variant
    raise ConfigError(f"tts.voice: no pyttsx3 voice matches '{wanted}'; {_examples(voices)}")


def _examples(voices: list[Any]) -> str:
    english = [v for v in voices if v.id.lower().rsplit("/", 1)[-1].startswith("en")]
    shown = (english or voices)[:8]
    listed = ", ".join(f'{v.id} "{v.name}"' for v in shown)
    return f"available include {listed} ({len(voices)} in all; `espeak-ng --voices` lists them)"
