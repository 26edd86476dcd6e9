"""Wake words on `serve`: a client sends Detect(names), then audio; each wake word heard
while the audio streams is a Detection, and AudioStop with none heard is NotDetected.

The profile's wake words are served when it enables them (wake.enabled) and openWakeWord
runs here (wake.engine openwakeword) with its models verified at start. Each stream has a
detector of its own (openWakeWord keeps the last seconds of audio), fed on a worker thread
so the event loop never waits on the model. A detector's first feed scores 8 s of silence
before the audio (about 2 s of work here), so one is kept primed for the next stream: a
satellite that starts a new stream after each command is heard again at once. A Detection
carries the timestamp of the chunk that completed the word, as wyoming-openwakeword does
(the client's own, when its chunks have one; else the ms of audio received).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from wyoming.audio import AudioChunk, AudioChunkConverter
from wyoming.event import Event
from wyoming.wake import Detection, NotDetected

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH
from voice_agent.config import Settings
from voice_agent.errors import UserError
from voice_agent.wake.base import WakeDetector
from voice_agent.wake.openwakeword import CHUNK_BYTES
from voice_agent.wake.words import normalize

PRIMING = bytes(CHUNK_BYTES)  # one 80 ms step of silence: the first feed's work


class ServedWake:
    """The wake words served here, and a detector for all of them kept primed for the next
    stream (streams beyond the first at once build their own, as before)."""

    def __init__(self, words: list[str], threshold: float) -> None:
        self.words = [normalize(word) for word in words]
        self._make = lambda: _primed(_detector(words, threshold))
        self._spare = ThreadPoolExecutor(1, "wake-spare")
        self._lock = threading.Lock()
        self._closed = False
        self._next: Future[WakeDetector] | None = Future()
        self._next.set_result(self._make())  # here: a runtime that cannot start is told at start

    def take(self) -> WakeDetector:
        """A primed detector (blocks: call it on a worker thread)."""
        with self._lock:
            ready, self._next = self._next, None
        detector = ready.result() if ready is not None else self._make()
        with self._lock:
            if self._next is None and not self._closed:
                self._next = self._spare.submit(self._make)
        return detector

    def close(self) -> None:
        with self._lock:
            self._closed = True
            spare, self._next = self._next, None
        self._spare.shutdown(wait=True)
        if spare is not None and spare.exception() is None:
            spare.result().close()


def served_wake(settings: Settings, say: Callable[[str], None]) -> ServedWake | None:
    """The profile's wake words when this machine can detect them, else None (said why)."""
    wake = settings.wake
    if not wake.enabled:
        return None
    if wake.engine != "openwakeword":
        say("wake words not served: wake.engine is a Wyoming server, not openWakeWord here")
        return None
    try:
        return ServedWake(wake.words, wake.threshold)
    except UserError as exc:
        say(f"wake words not served: {exc}")
        return None


class WakeStream:
    """One Detect's audio, fed to a detector of its own. A Detect that cannot be served
    (`refused` says why) still takes its audio, so none of it is taken for a transcription."""

    def __init__(self, served: ServedWake | None, names: list[str] | None) -> None:
        asked = [normalize(name) for name in names or []]
        offered = served.words if served is not None else []
        unknown = [name for name in asked if name not in offered]
        self.refused = ""
        if served is None:
            self.refused = "no wake words are served here"
        elif unknown:
            self.refused = (
                f"wake word {', '.join(unknown)} not served here (offered: {', '.join(offered)})"
            )
        self._served = served
        self._wanted = set(asked or offered)
        self._detector: WakeDetector | None = None
        self._to_16k = AudioChunkConverter(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=1)
        self._received_ms = 0
        self.heard = 0
        # A feed whose connection is cancelled (the client left) runs on to the end of its
        # chunk on its thread: the detector is freed after it, by whichever side is last.
        # Freeing the TFLite interpreter under it crashed the server (SIGSEGV).
        self._state = threading.Lock()
        self._busy = False
        self._closed = False

    async def feed(self, chunk: AudioChunk) -> list[Event]:
        """The Detection events of the words this chunk completed."""
        if self.refused:
            return []
        pcm = self._to_16k.convert(chunk).audio
        self._received_ms += round(len(pcm) / SAMPLE_WIDTH / SAMPLE_RATE * 1000)
        found = await asyncio.to_thread(self._feed, pcm)
        stamp = chunk.timestamp if chunk.timestamp is not None else self._received_ms
        self.heard += len(found)
        return [Detection(name=word, timestamp=stamp).event() for word in found]

    def stop(self) -> list[Event]:
        """At AudioStop: NotDetected when no wake word was heard."""
        self.close()
        return [] if self.heard or self.refused else [NotDetected().event()]

    def close(self) -> None:
        with self._state:
            self._closed = True
            busy = self._busy
        if not busy:
            self._release()

    def _feed(self, pcm: bytes) -> list[str]:
        with self._state:
            if self._closed:
                return []
            self._busy = True
        try:
            if self._detector is None:  # taken on the worker thread: the loop never waits
                assert self._served is not None  # else refused
                self._detector = self._served.take()
            found = self._detector.feed(pcm)
            return [detection.word for detection in found if detection.word in self._wanted]
        finally:
            with self._state:
                self._busy = False
                closed = self._closed
            if closed:
                self._release()

    def _release(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None


def _primed(detector: WakeDetector) -> WakeDetector:
    detector.feed(PRIMING)
    return detector


def _detector(words: list[str], threshold: float) -> WakeDetector:
    from voice_agent.wake.openwakeword import OpenWakeWordDetector

    return OpenWakeWordDetector(words, threshold)
