"""A wake stream's detector outlives the feed that uses it: a client that leaves mid-chunk
cancels the feed's await, not its worker thread, and the detector (a TFLite interpreter)
freed under that thread crashed `serve` with a segmentation fault. Each stream's detector
comes primed, and hears only the words its Detect named."""

from __future__ import annotations

import asyncio
import threading

from wyoming.audio import AudioChunk

from voice_agent.wake.base import Detection
from voice_agent.wyoming import wake_stream
from voice_agent.wyoming.wake_stream import ServedWake, WakeStream

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


class Served:
    """The served wake words, handing out the one detector."""

    def __init__(self, detector: SlowDetector) -> None:
        self.words = ["hey_jarvis"]
        self.detector = detector

    def take(self) -> SlowDetector:
        return self.detector


def test_a_stream_closed_during_a_feed_frees_its_detector_after_it():
    detector = SlowDetector()
    stream = WakeStream(Served(detector), None)

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


def test_a_stream_closed_between_feeds_frees_its_detector_at_once():
    detector = SlowDetector()
    detector.go.set()
    stream = WakeStream(Served(detector), None)
    asyncio.run(stream.feed(CHUNK))
    stream.close()
    assert detector.events == ["fed", "closed"]


class Recorder:
    """A detector that notes what it was fed and whether it was closed."""

    made: list[Recorder] = []

    def __init__(self, words: list[str], threshold: float) -> None:
        self.fed: list[int] = []
        self.closed = False
        Recorder.made.append(self)

    def feed(self, frame: bytes) -> list[Detection]:
        self.fed.append(len(frame))
        return []

    def close(self) -> None:
        self.closed = True


def test_each_stream_gets_a_detector_already_primed_and_the_next_is_primed_behind_it(
    monkeypatch,
):
    """openWakeWord's first feed scores 8 s of silence (about 2 s here): done before a
    stream needs the detector, so a satellite's new stream is heard at once."""
    Recorder.made = []
    monkeypatch.setattr(wake_stream, "_detector", Recorder)
    served = ServedWake(["hey_jarvis"], 0.5)
    first = served.take()
    assert first.fed == [len(wake_stream.PRIMING)], "primed before it was handed out"
    second = served.take()
    assert second is not first and second.fed == [len(wake_stream.PRIMING)]
    served.close()  # waits for the spare being primed
    spare = Recorder.made[-1]
    assert spare.closed and not first.closed and not second.closed, "streams close their own"
    assert len(Recorder.made) == 3


def test_a_stream_hears_only_the_words_its_detect_named(monkeypatch):
    class Both(Recorder):
        def feed(self, frame: bytes) -> list[Detection]:
            super().feed(frame)
            return [Detection("hey_jarvis", 1.0), Detection("alexa", 1.0)]

    monkeypatch.setattr(wake_stream, "_detector", Both)
    served = ServedWake(["hey_jarvis", "alexa"], 0.5)
    named = asyncio.run(WakeStream(served, ["alexa_v0.1"]).feed(CHUNK))
    unnamed = asyncio.run(WakeStream(served, None).feed(CHUNK))
    served.close()
    assert [event.data["name"] for event in named] == ["alexa"]
    assert [event.data["name"] for event in unnamed] == ["hey_jarvis", "alexa"]
