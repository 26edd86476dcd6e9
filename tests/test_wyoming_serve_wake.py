"""`voice-agent serve` with wake.enabled serves the profile's wake word: Describe advertises
it, Detect + audio is answered with a Detection just after "hey jarvis" (or NotDetected at
the end of other speech), driven by the `wyoming` library's client and by our own wake
engine; a word it does not serve is an Error, and that audio is never transcribed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import SAMPLE_RATE, espeak, layout
from fake_ollama import FakeOllama
from test_wyoming_server import MODEL, Server, connect, read, start_server
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.ping import Ping, Pong
from wyoming.wake import Detect, Detection, NotDetected

from voice_agent.wake.wyoming import WyomingWakeDetector
from voice_agent.wyoming.client import probe

pytestmark = pytest.mark.slow

CHUNK = 1024  # samples per AudioChunk, as satellites send


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with FakeOllama(models=[MODEL], reply="Fine.") as ollama:
        running = start_server(
            tmp_path_factory.mktemp("serve-wake"), ollama, "--set", "wake.enabled=true"
        )
        yield running
        assert running.stop() == 0, running.log.read_text()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve-wake-audio")


async def detect(port: int, pcm: np.ndarray, names: list[str] | None) -> list[Event]:
    """Detect(names), the audio in chunks stamped with their start in ms, AudioStop; every
    event the server sent for them. A Ping after the stop marks the end: the server answers
    a connection's events in order, so its Pong comes once all the audio was heard."""
    client = await connect(port)
    try:
        await client.write_event(Detect(names=names).event())
        await client.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
        data = pcm.astype("<i2").tobytes()
        for at in range(0, len(data), CHUNK * 2):
            audio, stamp = data[at : at + CHUNK * 2], at // 2 * 1000 // SAMPLE_RATE
            chunk = AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=audio, timestamp=stamp)
            await client.write_event(chunk.event())
        await client.write_event(AudioStop().event())
        await client.write_event(Ping(text="heard").event())
        events = []
        while not Pong.is_type((event := await read(client, timeout=120)).type):
            events.append(event)
        return events
    finally:
        await client.disconnect()


def test_describe_advertises_the_wake_word(server) -> None:
    info, _ = probe(f"tcp://127.0.0.1:{server.port}", "server", 10)
    assert [m.name for m in info.wake[0].models] == ["hey_jarvis"]
    assert info.wake[0].models[0].phrase == "hey jarvis"
    assert info.asr and info.tts and info.handle  # still all the rest
    assert "wake hey_jarvis" in server.log.read_text()


def test_hey_jarvis_is_detected_once_just_after_it_is_said(server, work) -> None:
    wake = espeak("hey jarvis", work, voice="en-us+m3")
    said = espeak("hey jarvis, what time is it in tokyo", work, voice="en-us+m3")
    stream = layout([espeak("what is the weather like", work), said], [0.5, 1.5], 1.0)
    events = asyncio.run(detect(server.port, stream.pcm, ["hey_jarvis_v0.1"]))
    detections = [Detection.from_event(e) for e in events if Detection.is_type(e.type)]
    assert [d.name for d in detections] == ["hey_jarvis"], events
    wake_end_ms = (stream.truth[1][0] + len(wake) / SAMPLE_RATE) * 1000
    # the stamp of the chunk that completed it: up to a chunk (64 ms) before its end
    assert wake_end_ms - 70 <= detections[0].timestamp <= wake_end_ms + 500, detections
    assert not any(NotDetected.is_type(e.type) for e in events)


def test_other_speech_is_not_detected(server, work) -> None:
    pieces = [espeak(t, work) for t in ("have you seen my keys", "hey there, how are you")]
    stream = layout(pieces, [0.5, 0.5], 0.5)
    events = asyncio.run(detect(server.port, stream.pcm, None))
    assert [e.type for e in events] == ["not-detected"]


def test_our_wake_engine_hears_it_through_serve(server, work) -> None:
    stream = layout([espeak("hey jarvis", work, voice="en+f3")], [1.0], 1.5)
    detector = WyomingWakeDetector(f"tcp://127.0.0.1:{server.port}", ["hey_jarvis"])
    data = stream.pcm.astype("<i2").tobytes()
    found, start = [], time.monotonic()
    for i in range(0, len(data), 640):  # 20 ms frames, in real time as a microphone gives them
        time.sleep(max(0.0, start + i / 2 / SAMPLE_RATE - time.monotonic()))
        found += detector.feed(data[i : i + 640])
    found += detector.settle(stream.duration_s)
    deadline = time.monotonic() + 60  # a loaded machine may lag the niced server past settle
    while not found and time.monotonic() < deadline:
        time.sleep(0.1)
        found += detector.settle(stream.duration_s)
    detector.close()
    assert [d.word for d in found] == ["hey_jarvis"]
    assert stream.truth[0][1] <= found[0].at_s <= stream.truth[0][1] + 0.5


def test_a_word_not_served_is_an_error_and_its_audio_is_not_transcribed(server, work) -> None:
    stream = layout([espeak("alexa, what time is it", work)], [0.3], 0.3)
    events = asyncio.run(detect(server.port, stream.pcm, ["alexa"]))
    assert [e.type for e in events] == ["error"], events
    assert "alexa" in events[0].data["text"] and "hey_jarvis" in events[0].data["text"]
