"""A Wyoming engine with, optionally, a local engine behind it (stt/tts.fallback).

A server that cannot be reached hands the request to the fallback; one that stops
mid-request ends that turn with one sentence, and the fallback takes the next. The user is
told once, at the first request the fallback serves. While the server is down the fallback
answers, and the server is tried again every `RETRY_S`; when it answers, the user is told.
Without a fallback every request tries the server, and a failure ends its turn.
The fallback is built only when first needed: a satellite may not hold the local models.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from voice_agent.stt import Transcript
from voice_agent.tts.base import Speech
from voice_agent.wyoming.client import ServerDown, ServerError, ServerLost, where

log = logging.getLogger(__name__)
E = TypeVar("E")
R = TypeVar("R")
RETRY_S = 30.0
# How the user hears of each local engine.
LOCAL_NAMES = {
    "faster-whisper": "Whisper on this machine",
    "pyttsx3": "the voice on this machine",
    "piper": "the Piper voice on this machine",
}


class Failover(Generic[E]):
    """Which engine answers a request: the server, or while it is down the fallback."""

    def __init__(
        self,
        role: str,
        uri: str,
        local: Callable[[], E] | None,
        local_engine: str | None,
        notify: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.role, self.uri = role, uri
        self.local_name = LOCAL_NAMES.get(local_engine or "", f"the local {local_engine}")
        self._build = local
        self._local: E | None = None
        self._notify = notify
        self._clock = clock
        self._lock = threading.Lock()
        self._down: ServerError | None = None  # why the server is down, while it is
        self._told = False
        self._retry_at = float("-inf")

    @property
    def has_local(self) -> bool:
        return self._build is not None

    def wants_server(self) -> bool:
        return self._build is None or self._clock() >= self._retry_at

    def run(self, server: Callable[[], R], local: Callable[[E], R]) -> R:
        """`server()`, or `local(fallback)` when the server is down and there is one."""
        if self.wants_server():
            try:
                result = server()
            except ServerDown as exc:
                if not self.has_local:
                    raise
                self.went_down(exc)
            except ServerLost as exc:  # the turn ends with its apology; the next one is local
                if self.has_local:
                    self.went_down(exc)
                raise
            else:
                self.answered()
                return result
        return local(self.local())

    def went_down(self, exc: ServerError) -> None:
        log.warning("%s", exc)
        self._retry_at = self._clock() + RETRY_S
        if self._down is None:
            self._down, self._told = exc, False

    def answered(self) -> None:
        if self._down is not None:
            told, self._down = self._told, None
            if told:
                self._notify(f"The {self.role} at {where(self.uri)} is answering again.")

    def local(self) -> E:
        """The fallback, built on first use; the user hears once that it stands in."""
        if self._down is not None and not self._told:
            self._told = True
            self._notify(
                f"The {self.role} at {where(self.uri)} isn't answering ({self._down.reason}), "
                f"so I'm using {self.local_name} until it is back."
            )
        return self._engine()

    def _engine(self) -> E:
        with self._lock:
            if self._local is None:
                self._local = self._build()
            return self._local

    def warmup(self, server: Callable[[], None], local: Callable[[E], None]) -> None:
        """Warm the server; when it is down, the fallback (or, without one, only log it:
        each turn will say so)."""
        try:
            server()
        except ServerDown as exc:
            self.went_down(exc)
            if self.has_local:
                local(self._engine())
        else:
            self.answered()

    def close(self) -> None:
        close = getattr(self._local, "close", None)
        if close is not None:
            close()


class FailoverSTT:
    """Speech to text from a Wyoming server, with the local engine as fallback."""

    def __init__(self, server, failover: Failover) -> None:
        self.server = server
        self.failover = failover
        self.config = server.config

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def load_ms(self) -> float | None:
        return self.server.load_ms

    def load(self) -> None:
        self.failover.warmup(self.server.load, lambda local: local.load())

    def warmup(self) -> None:
        self.failover.warmup(self.server.warmup, lambda local: local.warmup())

    def transcribe(self, pcm: bytes, context: str | None = None) -> Transcript:
        # Wyoming's Transcribe has no prompt: the question primes only the local engine.
        return self.failover.run(
            lambda: self.server.transcribe(pcm), lambda local: local.transcribe(pcm, context)
        )

    def close(self) -> None:
        self.server.close()
        self.failover.close()


class FailoverTTS:
    """Text to speech from a Wyoming server, with a local engine as fallback."""

    def __init__(self, server, failover: Failover) -> None:
        self.server = server
        self.failover = failover

    @property
    def name(self) -> str:
        return self.server.name

    def warmup(self) -> None:
        self.failover.warmup(self.server.warmup, lambda local: local.warmup())

    def synthesize(self, text: str) -> Speech:
        return self.failover.run(
            lambda: self.server.synthesize(text), lambda local: local.synthesize(text)
        )

    def stream(self, texts: Iterable[str], cancel) -> Iterator[Speech]:
        """The server's stream; the fallback's sentence by sentence while it is down."""
        texts = iter(texts)
        return self.failover.run(
            lambda: self._watched(self.server.stream(texts, cancel)),
            lambda local: (local.synthesize(text) for text in texts if not cancel.is_set()),
        )

    def _watched(self, pieces: Iterator[Speech]) -> Iterator[Speech]:
        try:
            yield from pieces
        except ServerLost as exc:
            if self.failover.has_local:
                self.failover.went_down(exc)
            raise

    def close(self) -> None:
        self.server.close()
        self.failover.close()
