"""`voice-agent serve` driven over the network by the `wyoming` library's own client and by
the third-party `wyoming-bench`: describe, transcribe, synthesize, handle, timers told to
the client that set them, many clients at once, a client that leaves, a queue that is full.

The server is the real CLI in its own process on a free 127.0.0.1 port (speed profile:
Whisper tiny.en, pyttsx3), stopped by pid. Its language model is a local fake Ollama that
streams slowly, so an answer that is cut short can be seen to stop.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from audio_fixtures import espeak, write_wav
from fake_ollama import FakeOllama
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe, Info
from wyoming.timer import TimerFinished
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

BIN = Path(sys.executable).parent
STARTED_WITHIN_S = 240  # a loaded 2-core machine starts the CLI and loads its models within this
MODEL = "llama3.2:1b"  # the speed profile's Ollama model
# A long answer ("tell me a story" lifts the spoken-answer limit), streamed over about 8 s:
# a turn is stopped between sentences, about a second apart here.
STORY = " ".join(["Once upon a time a dragon slept in the hills."] * 8)
COMMANDS = [  # spoken by espeak-ng, each answered by a skill
    "what time is it in tokyo",
    "cancel the pasta timer",
    "how many days until christmas",
    "list my timers",
    "what can you do",
    "turn on the kitchen lights",
    "what was my last question",
    "read my groceries note",
]


@dataclass
class Server:
    port: int
    env: dict[str, str]
    process: subprocess.Popen
    log: Path

    def stop(self) -> int:
        os.kill(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=30)

    def history(self) -> list[dict]:
        out = subprocess.run(
            [str(BIN / "voice-agent"), "history", "--json", "--limit", "200"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(work: Path, ollama: FakeOllama, *sets: str) -> Server:
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_AGENT_")}
    if "VOICE_AGENT_CACHE_DIR" in os.environ:
        env["VOICE_AGENT_CACHE_DIR"] = os.environ["VOICE_AGENT_CACHE_DIR"]
    env |= {
        "VOICE_AGENT_DATA_DIR": str(work / "data"),
        "VOICE_AGENT_CONFIG_DIR": str(work / "config"),
        "VOICE_AGENT_AGENTS__FILES_ROOT": str(work / "files"),
        "OLLAMA_HOST": ollama.host,
    }
    port = free_port()
    log = work / "serve.log"
    cmd = [
        "nice", "-n", "19", str(BIN / "voice-agent"), "serve", "--profile", "speed",
        "--uri", f"tcp://127.0.0.1:{port}",
        "--set", "llm.backend=ollama", "--set", "agents.timezone=UTC", *sets,
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(port, env, process, log)
    deadline = time.monotonic() + STARTED_WITHIN_S
    while "serving Wyoming" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"serve did not start: {log.read_text()}")
        time.sleep(0.2)
    return server


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(models=[MODEL], reply=STORY, chunk_delay=0.1) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory, ollama) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"), ollama)
    yield running
    assert running.stop() == 0, running.log.read_text()
    assert running.log.read_text().rstrip().endswith("stopping")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> dict[str, Path]:
    """Each command said by espeak-ng, as a 16 kHz WAV with a little silence around it."""
    work = tmp_path_factory.mktemp("spoken")
    pad = np.zeros(3200, np.int16)
    return {
        text: write_wav(np.concatenate([pad, espeak(text, work), pad]), work / f"{i}.wav")
        for i, text in enumerate(COMMANDS)
    }


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


# -- the client's side --------------------------------------------------------------------
async def connect(port: int) -> AsyncTcpClient:
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    return client


async def read(client: AsyncTcpClient, timeout: float = 30.0) -> Event:
    event = await asyncio.wait_for(client.read_event(), timeout)
    assert event is not None, "the server closed the connection"
    return event


async def ask(port: int, text: str, **context) -> Event:
    client = await connect(port)
    try:
        await client.write_event(Transcript(text=text, context=context or None).event())
        return await read(client)
    finally:
        await client.disconnect()


async def transcribe(port: int, wav: Path, realtime: bool = False) -> Event:
    """Send a recording as a satellite streams it (100 ms chunks, in real time if asked)."""
    with wave.open(str(wav)) as audio:
        rate, width, channels = audio.getframerate(), audio.getsampwidth(), audio.getnchannels()
        pcm = audio.readframes(audio.getnframes())
    step = rate // 10 * width * channels
    client = await connect(port)
    try:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
        for at in range(0, len(pcm), step):
            chunk = AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[at : at + step])
            await client.write_event(chunk.event())
            if realtime:
                await asyncio.sleep(0.1)
        await client.write_event(AudioStop().event())
        return await read(client, 60)
    finally:
        await client.disconnect()


async def audio_streams(
    client: AsyncTcpClient, until: str, first: Event | None = None
) -> list[tuple[int, float]]:
    """(sample rate, seconds) of each AudioStart…AudioStop the server sends, up to `until`
    (`first`: an event of it already read)."""
    streams: list[tuple[int, float]] = []
    event = first or await read(client)
    while True:
        if AudioStart.is_type(event.type):
            streams.append((AudioStart.from_event(event).rate, 0.0))
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            rate, seconds = streams[-1]
            streams[-1] = (rate, seconds + len(chunk.audio) / 2 / chunk.rate)
        elif Error.is_type(event.type):
            pytest.fail(f"server error: {event.data}")
        if event.type == until:
            return streams
        event = await read(client)


# -- describe -----------------------------------------------------------------------------
def test_describe_advertises_the_profiles_models_and_the_assistant(server: Server) -> None:
    async def describe() -> Info:
        client = await connect(server.port)
        try:
            await client.write_event(Describe().event())
            return Info.from_event(await read(client))
        finally:
            await client.disconnect()

    info = asyncio.run(describe())
    assert [m.name for m in info.asr[0].models] == ["tiny.en"]
    assert info.asr[0].models[0].languages == ["en"]
    assert info.tts[0].supports_synthesize_streaming
    assert [v.name for v in info.tts[0].voices] == ["espeak-ng"]
    assert info.handle[0].name == "voice-agent"
    assert [m.name for m in info.handle[0].models] == ["speed"]
    assert not info.handle[0].supports_home_control
    assert info.wake == []  # no wake word configured


# -- transcribe ---------------------------------------------------------------------------
def test_transcribe_spoken_commands_at_the_rate_they_were_recorded(server, tmp_path) -> None:
    # espeak-ng writes 22050 Hz: the server converts what the client sends.
    wav = tmp_path / "tokyo.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "what time is it in tokyo"], check=True)
    event = asyncio.run(transcribe(server.port, wav))
    assert Transcript.is_type(event.type), event
    assert words(Transcript.from_event(event).text) == words("what time is it in tokyo")
    assert Transcript.from_event(event).language == "en"


# -- synthesize ---------------------------------------------------------------------------
def test_synthesize_answers_one_audio_stream(server: Server) -> None:
    async def synthesize() -> list[tuple[int, float]]:
        client = await connect(server.port)
        try:
            await client.write_event(Synthesize(text="Hello there. The kettle is on.").event())
            return await audio_streams(client, "audio-stop")
        finally:
            await client.disconnect()

    [(rate, seconds)] = asyncio.run(synthesize())
    assert rate == 22050 and 1.0 < seconds < 6.0


def test_streaming_synthesis_speaks_each_sentence_as_it_completes(server: Server) -> None:
    async def stream() -> list[tuple[int, float]]:
        client = await connect(server.port)
        try:
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text="Hello there. How ").event())
            # The first sentence is spoken before the rest of the text exists.
            first = await read(client)
            assert AudioStart.is_type(first.type), first
            for piece in ("are you", " today? I am", " fine."):
                await client.write_event(SynthesizeChunk(text=piece).event())
            await client.write_event(SynthesizeStop().event())
            return await audio_streams(client, "synthesize-stopped", first)
        finally:
            await client.disconnect()

    streams = asyncio.run(stream())
    assert len(streams) == 3  # three sentences, three audio streams
    assert all(rate == 22050 and seconds > 0.3 for rate, seconds in streams), streams


# -- handle -------------------------------------------------------------------------------
def test_handle_answers_with_the_assistants_words(server: Server) -> None:
    event = asyncio.run(ask(server.port, "what is 25 times 7"))
    assert Handled.is_type(event.type), event
    assert Handled.from_event(event).text == "25 times 7 is 175."

    event = asyncio.run(ask(server.port, "what time is it in Tokyo"))
    assert Handled.is_type(event.type), event
    said = Handled.from_event(event).text
    clock = re.search(r"\b(\d{1,2}):(\d\d) ([AP]M)\b", said)
    assert clock and "Tokyo" in said, said
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo"))
    hour = int(clock[1]) % 12 + (12 if clock[3] == "PM" else 0)
    minutes = (hour * 60 + int(clock[2]) - tokyo.hour * 60 - tokyo.minute) % 1440
    assert minutes in (0, 1, 1439), (said, tokyo)


def test_an_action_it_cannot_do_is_not_handled_and_says_so(server: Server) -> None:
    event = asyncio.run(ask(server.port, "turn on the kitchen lights"))
    assert NotHandled.is_type(event.type), event
    said = NotHandled.from_event(event).text
    assert said.startswith("I can't control lights"), said


def test_each_conversation_keeps_its_own_follow_ups(server: Server) -> None:
    async def two_rooms() -> tuple[str, str]:
        await ask(server.port, "what is 25 times 4", conversation_id="kitchen-1")
        await ask(server.port, "what is 9 times 3", conversation_id="office-1")
        kitchen = await ask(server.port, "now divide that by 5", conversation_id="kitchen-1")
        office = await ask(server.port, "now divide that by 3", conversation_id="office-1")
        return Handled.from_event(kitchen).text, Handled.from_event(office).text

    kitchen, office = asyncio.run(two_rooms())
    assert "is 20" in kitchen and "is 9" in office


def test_turns_are_stored_with_the_client_and_timers_told_to_it(server: Server) -> None:
    async def timer() -> tuple[Event, list[Event]]:
        kitchen, office = await connect(server.port), await connect(server.port)
        try:
            context = {"satellite_id": "kitchen"}
            await kitchen.write_event(Transcript("set a timer for 3 seconds", context).event())
            await office.write_event(
                Transcript("what is 2 plus 2", {"satellite_id": "office"}).event()
            )
            reply, _ = await read(kitchen), await read(office)
            told = [await read(kitchen, 15)]
            while not AudioStop.is_type(told[-1].type):
                told.append(await read(kitchen))
            # The office set no timer: nothing arrives there.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(office.read_event(), 1.0)
            return reply, told
        finally:
            await kitchen.disconnect()
            await office.disconnect()

    started = time.monotonic()
    reply, told = asyncio.run(timer())
    assert Handled.from_event(reply).text == "Timer set for 3 seconds."
    assert TimerFinished.is_type(told[0].type)
    assert 2.5 < time.monotonic() - started < 15
    spoken = sum(len(AudioChunk.from_event(e).audio) for e in told if AudioChunk.is_type(e.type))
    assert spoken > 22050  # "Your 3 second timer is done." said, at least a second of it
    [record] = [t for t in server.history() if t["text"] == "set a timer for 3 seconds"]
    assert record["client"] == "kitchen" and record["session"] == "wyoming:kitchen"
    assert TimerFinished.from_event(told[0]).id == str(
        record["steps"][0]["result"]["value"]["timer_id"]
    )
    assert record["timings"]["total_ms"] < 5000


# -- wyoming-bench ------------------------------------------------------------------------
def test_wyoming_bench_measures_our_speech_recognition(server, spoken, tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, text in enumerate(COMMANDS[:3]):
        (corpus / f"cmd_{i:02d}.wav").write_bytes(spoken[text].read_bytes())
        (corpus / f"cmd_{i:02d}.txt").write_text(text + "\n")
    out = bench("stt", server, "--corpus", str(corpus), "--mode", "non_streaming")
    assert "[non_streaming] ok=3 fail=0" in out, out
    wer = float(re.search(r"WER=([\d.]+)%", out).group(1))
    assert wer <= 10.0, out


def test_wyoming_bench_measures_our_voice_streaming_and_not(server: Server) -> None:
    out = bench("tts", server, "--texts", "Hello there. The kettle is on.")
    assert "[non_streaming] ok=1 fail=0" in out, out
    assert "[streaming] ok=1 fail=0" in out, out


def bench(task: str, server: Server, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "wyoming-bench"), task, f"127.0.0.1:{server.port}", "--rounds", "1",
         "--warmup", "0", "--timeout", "60", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# -- many clients -------------------------------------------------------------------------
def test_eight_clients_streaming_spoken_commands_at_once(server, spoken) -> None:
    async def one(text: str) -> tuple[str, Event]:
        heard = await transcribe(server.port, spoken[text], realtime=True)
        assert Transcript.is_type(heard.type), heard
        said = Transcript.from_event(heard).text
        return said, await ask(server.port, said, satellite_id=f"room-{COMMANDS.index(text)}")

    async def everyone():
        return await asyncio.gather(*(one(text) for text in COMMANDS))

    started = time.monotonic()
    results = asyncio.run(everyone())
    assert time.monotonic() - started < 90
    for text, (said, answer) in zip(COMMANDS, results, strict=True):
        assert words(said) == words(text), (text, said)
        assert Handled.is_type(answer.type) or NotHandled.is_type(answer.type), answer
        assert answer.data["text"]


# -- a full queue, and a client that leaves -------------------------------------------------
def test_a_full_queue_is_told_and_a_client_that_leaves_frees_its_place(
    tmp_path, ollama: FakeOllama
) -> None:
    single = start_server(tmp_path / "single", ollama, "--set", "serve.queue=0")
    try:

        async def scenario() -> tuple[Event, Event, float]:
            storyteller = await connect(single.port)
            await storyteller.write_event(Transcript("tell me a story about a dragon").event())
            await asyncio.sleep(1.0)  # its answer is streaming now, for several seconds more
            refused = await ask(single.port, "what is 2 plus 2")
            ollama.client_hung_up.clear()
            await storyteller.disconnect()
            left = time.monotonic()
            while NotHandled.is_type((answered := await ask(single.port, "what is 2 plus 2")).type):
                assert time.monotonic() - left < 3.0, "the place was not freed"
                await asyncio.sleep(0.1)
            return refused, answered, time.monotonic() - left

        refused, answered, waited = asyncio.run(scenario())
        assert NotHandled.is_type(refused.type), refused
        assert NotHandled.from_event(refused).text.startswith("Sorry, I'm answering too many")
        assert Handled.from_event(answered).text == "2 plus 2 is 4."
        assert waited < 3.0  # the story (6 s more) was stopped, not finished
        assert ollama.client_hung_up.wait(3.0)  # and the language model stopped writing it
        [story] = [t for t in single.history() if t["text"].startswith("tell me a story")]
        assert story["interrupted"]
    finally:
        assert single.stop() == 0


def test_a_port_in_use_and_a_bad_address_are_one_line(tmp_path, server: Server) -> None:
    taken = run_cli("serve", "--profile", "speed", "--uri", f"tcp://127.0.0.1:{server.port}")
    assert taken.returncode == 1
    assert taken.stderr.strip().splitlines()[-1] == (
        f"error: cannot listen on tcp://127.0.0.1:{server.port}: Address already in use"
    )
    bad = run_cli("serve", "--uri", "tcp://127.0.0.1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (
        "error: serve.uri: expected tcp://HOST:PORT such as tcp://127.0.0.1:10700, "
        "got 'tcp://127.0.0.1'"
    )


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nice", "-n", "19", str(BIN / "voice-agent"), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
