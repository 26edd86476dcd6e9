"""Wake words on `serve`: a client sends Detect(names), then audio; each wake word heard
while the audio streams is a Detection, and AudioStop with none heard is NotDetected.

The profile's wake words are served when it enables them (wake.enabled) and openWakeWord
runs here (wake.engine openwakeword) with its models verified at start. Each stream has a
detector of its own (openWakeWord keeps the last seconds of audio), fed on a worker thread
so the event loop never waits on the model. A Detection carries the timestamp of the chunk
that completed the word, as wyoming-openwakeword does (the client's own, when its chunks
have one; else the ms of audio received).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from wyoming.audio import AudioChunk, AudioChunkConverter
from wyoming.event import Event
from wyoming.wake import Detection, NotDetected

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH
from voice_agent.config import Settings
from voice_agent.errors import UserError
from voice_agent.wake.base import WakeDetector
from voice_agent.wake.words import normalize


def served_words(settings: Settings, say: Callable[[str], None]) -> list[str]:
    """The profile's wake words when this machine can detect them, else [] (said why)."""
    wake = settings.wake
    if not wake.enabled:
        return []
    if wake.engine != "openwakeword":
        say("wake words not served: wake.engine is a Wyoming server, not openWakeWord here")
        return []
    try:
        _detector(wake.words, wake.threshold).close()
    except UserError as exc:
        say(f"wake words not served: {exc}")
        return []
    return [normalize(word) for word in wake.words]


class WakeStream:
    """One Detect's audio, fed to a detector of its own. A Detect that cannot be served
    (`refused` says why) still takes its audio, so none of it is taken for a transcription."""

    def __init__(self, settings: Settings, served: list[str], names: list[str] | None) -> None:
        asked = [normalize(name) for name in names or []]
        unknown = [name for name in asked if name not in served]
        self.refused = ""
        if not served:
            self.refused = "no wake words are served here"
        elif unknown:
            self.refused = (
                f"wake word {', '.join(unknown)} not served here (offered: {', '.join(served)})"
            )
        configured = {normalize(word): word for word in settings.wake.words}
        self._wanted = [configured[name] for name in asked or served if name in configured]
        self._threshold = settings.wake.threshold
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
            if self._detector is None:  # loaded on the worker thread: the loop never waits
                self._detector = _detector(self._wanted, self._threshold)
            return [detection.word for detection in self._detector.feed(pcm)]
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


def _detector(words: list[str], threshold: float) -> WakeDetector:
    from voice_agent.wake.openwakeword import OpenWakeWordDetector

    return OpenWakeWordDetector(words, threshold)
