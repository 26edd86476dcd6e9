"""A wake stream's detector outlives the feed that uses it: a client that leaves mid-chunk
cancels the feed's await, not its worker thread, and the detector (a TFLite interpreter)
freed under that thread crashed `serve` with a segmentation fault."""

from __future__ import annotations

import asyncio
import threading

from wyoming.audio import AudioChunk

from voice_agent.config import load_settings
from voice_agent.wake.base import Detection
from voice_agent.wyoming import wake_stream
from voice_agent.wyoming.wake_stream import WakeStream

CHUNK = AudioChunk(rate=16000, width=2, channels=1, audio=bytes(2048))


class SlowDetector:
    """Holds each feed until `go` is set; records what happened in what order."""

    def __init__(self) -> None:
        self.feeding = threading.Event()
        self.go = threading.Event()
        self.events: list[str] = []

    def feed(self, frame: bytes) -> list[Detection]:
        self.feeding.set()
        self.go.wait(5)
        self.events.append("fed")
        return []

    def close(self) -> None:
        self.events.append("closed")


def test_a_stream_closed_during_a_feed_frees_its_detector_after_it(monkeypatch):
    detector = SlowDetector()
    monkeypatch.setattr(wake_stream, "_detector", lambda words, threshold: detector)
    stream = WakeStream(load_settings("speed", ["wake.enabled=true"]), ["hey_jarvis"], None)

    async def client_leaves() -> None:
        feeding = asyncio.create_task(stream.feed(CHUNK))
        await asyncio.to_thread(detector.feeding.wait, 5)
        feeding.cancel()  # the connection ends: its handler is cancelled mid-feed
        stream.close()
        assert detector.events == [], "freed while the feed still runs"
        detector.go.set()

    asyncio.run(client_leaves())  # waits for the worker thread at shutdown
    assert detector.events == ["fed", "closed"]
    assert asyncio.run(stream.feed(CHUNK)) == [], "a closed stream hears nothing more"
    assert detector.events == ["fed", "closed"]


def test_a_stream_closed_between_feeds_frees_its_detector_at_once(monkeypatch):
    detector = SlowDetector()
    detector.go.set()
    monkeypatch.setattr(wake_stream, "_detector", lambda words, threshold: detector)
    stream = WakeStream(load_settings("speed", ["wake.enabled=true"]), ["hey_jarvis"], None)
    asyncio.run(stream.feed(CHUNK))
    stream.close()
    assert detector.events == ["fed", "closed"]
