"""stt.engine / tts.engine wyoming against the real wyoming-faster-whisper and wyoming-piper
servers, started here on 127.0.0.1 with the models this project provisions (no downloads)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import espeak, layout, sox_pcm, write_wav

from benchmarks.metrics import wer_counts
from voice_agent import models
from voice_agent.app import build
from voice_agent.audio.capture import FileSource
from voice_agent.config import SttConfig, TtsConfig, load_settings
from voice_agent.stt import WhisperSTT, words
from voice_agent.stt_factory import build_stt
from voice_agent.tts.base import Speech
from voice_agent.tts.factory import build_tts
from voice_agent.voice_loop import VoiceLoop
from voice_agent.wyoming.client import probe

pytestmark = pytest.mark.slow

COMMANDS = [
    "set a timer for ten minutes",
    "what is twenty five times four",
    "what time is it in Tokyo",
]
VOICE = "en_US-joe-medium"
# A profile that loads no LLM or embeddings: the turns here are answered by skills.
QUIET = ["llm.warmup=false", "routing.strategy=rules_only"]


# -- the servers ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A Wyoming server in its own process group, stopped by its pid."""

    def __init__(
        self, module: str, *args: str, workdir: Path, python: str = sys.executable
    ) -> None:
        self.uri = f"tcp://127.0.0.1:{free_port()}"
        self.log = workdir / f"{module}-{self.uri.rsplit(':', 1)[1]}.log"
        command = ["nice", "-n", "19", python, "-m", module, "--uri", self.uri, *args]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while probe(self.uri, "server", 2.0)[0] is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{module} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """Gone at once, as a crash or a power cut would leave it."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def whisper_server(workdir: Path) -> Server:
    model = models.prepare("stt", "tiny.en")
    return Server(
        "wyoming_faster_whisper",
        *("--model", str(model), "--data-dir", str(workdir / "whisper")),
        *("--stt-library", "faster-whisper", "--local-files-only", "--language", "en"),
        *("--beam-size", "1", "--compute-type", "int8", "--cpu-threads", "2"),
        workdir=workdir,
    )


def piper_server(workdir: Path, *extra: str) -> Server:
    voice = models.prepare("tts", VOICE)
    return Server(
        "wyoming_piper",
        *("--voice", VOICE, "--data-dir", str(voice.parent)),
        *("--download-dir", str(workdir / "piper"), *extra),
        workdir=workdir,
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wyoming")


@pytest.fixture(scope="module")
def whisper(work) -> Iterator[Server]:
    server = whisper_server(work)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def piper(work) -> Iterator[Server]:
    server = piper_server(work)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def spoken(work) -> dict[str, bytes]:
    """Each command as the endpointer hands it over: with 300 ms of quiet either side."""
    quiet = bytes(2 * 4800)
    return {text: quiet + espeak(text, work).astype("<i2").tobytes() + quiet for text in COMMANDS}


def stt_config(uri: str, **more) -> SttConfig:
    return SttConfig(engine="wyoming", uri=uri, model="tiny.en", beam_size=1, **more)


def resample(speech: Speech, work: Path) -> bytes:
    path = work / f"reply-{abs(hash(speech.pcm))}.raw"
    path.write_bytes(speech.pcm)
    raw = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-r", str(speech.sample_rate)]
    return sox_pcm(*raw, str(path)).astype("<i2").tobytes()


# -- speech to text ---------------------------------------------------------------------------
def test_transcripts_match_the_local_engine(whisper, spoken):
    """The server decodes the whole 30 s window where the local engine reads a shorter one,
    so one word may differ on some CPUs ("Set timer for 10 minutes."), never more."""
    remote = build_stt(stt_config(whisper.uri, vocabulary_prompt=False))
    local = WhisperSTT(SttConfig(model="tiny.en", beam_size=1, vocabulary_prompt=False))
    try:
        remote.load()
        for text, pcm in spoken.items():
            heard, here = remote.transcribe(pcm), local.transcribe(pcm)
            s, d, i, _ = wer_counts(here.text, heard.text)
            assert s + d + i <= 1, (text, heard.text, here.text)
            assert heard.language == "en" and heard.segments == (heard.text,)
            assert abs(heard.duration_s - len(pcm) / 32000) < 1e-6
            assert 0 < heard.elapsed_ms < 3000, "the wait after the last audio chunk"
        assert remote.transcribe(bytes(32000)).text == "", "silence is not sent"
    finally:
        remote.close()


def test_audio_streams_while_it_is_spoken(whisper, spoken):
    """Fed 20 ms at a time at the pace of speech, the server has the audio when it ends: the
    wait after the last chunk is only the decoding."""
    stt = build_stt(stt_config(whisper.uri)).server
    pcm = spoken[COMMANDS[0]]
    try:
        whole = stt.transcribe(pcm)
        stream = stt.stream()
        for start in range(0, len(pcm), 640):
            stream.feed(pcm[start : start + 640])
            time.sleep(0.005)
        fed = stream.finish()
        assert words(fed.text) == words(whole.text) and "timer" in words(fed.text)
        # Cancelled half way, the connection is closed and the engine serves the next one.
        dropped = stt.stream()
        dropped.feed(pcm[: len(pcm) // 2])
        dropped.cancel()
        assert words(stt.transcribe(pcm).text) == words(whole.text)
    finally:
        stt.close()


# -- text to speech ---------------------------------------------------------------------------
def test_synthesized_speech_says_the_text_at_the_voices_rate(piper, whisper, work):
    tts = build_tts(TtsConfig(engine="wyoming", uri=piper.uri, voice=VOICE))
    stt = build_stt(stt_config(whisper.uri))
    try:
        tts.warmup()
        speech = tts.synthesize("Set a timer for ten minutes.")
        assert speech.sample_rate == 22050  # the voice's own rate, as its config says
        seconds = len(speech.pcm) / 2 / speech.sample_rate
        assert 1.0 < seconds < 3.5, seconds
        assert "timer" in words(stt.transcribe(resample(speech, work)).text)
    finally:
        tts.close()
        stt.close()


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "synthesize-each"])
def test_first_audio_comes_before_the_rest_of_the_text(streaming, piper, work):
    """The second sentence is only written once the first one's audio has arrived."""
    server = piper if streaming else piper_server(work, "--no-streaming")
    tts = build_tts(TtsConfig(engine="wyoming", uri=server.uri)).server
    heard_first = threading.Event()
    waited: list[bool] = []
    sentences = ["The weather is fine today.", "It will rain tomorrow in Paris.", "Take a coat."]

    def written() -> Iterator[str]:
        yield sentences[0]
        waited.append(heard_first.wait(timeout=15))
        yield from sentences[1:]

    try:
        assert tts.streaming is streaming, "as the server's Info says"
        pieces = []
        for piece in tts.stream(written(), threading.Event()):
            heard_first.set()
            pieces.append(piece)
        assert waited == [True], "first audio before the second sentence was written"
        seconds = sum(len(p.pcm) for p in pieces) / 2 / 22050
        whole = sum(len(tts.synthesize(s).pcm) for s in sentences) / 2 / 22050
        assert abs(seconds - whole) < 0.15 * whole, (seconds, whole)
    finally:
        tts.close()
        if server is not piper:
            server.stop()


def test_barge_in_closes_the_stream_at_once(piper):
    tts = build_tts(TtsConfig(engine="wyoming", uri=piper.uri)).server
    cancel = threading.Event()
    long_reply = [f"This is sentence number {n} of a long answer." for n in range(12)]
    try:
        got = 0
        for _ in tts.stream(iter(long_reply), cancel):
            got += 1
            cancel.set()
            stopped = time.perf_counter()
        assert got == 1 and time.perf_counter() - stopped < 0.5
        loop = tts._loop._loop
        pending = asyncio.run_coroutine_threadsafe(_tasks(), loop).result(timeout=2)
        assert pending == 0, "no request left running on the engine's loop"
        assert len(tts.synthesize("Still here.").pcm) > 0
    finally:
        tts.close()


async def _tasks() -> int:
    return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])


# -- end to end -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def commands_wav(work, spoken) -> Path:
    pieces = [np.frombuffer(spoken[c], "<i2") for c in COMMANDS[1:]]
    return write_wav(layout(pieces, [1.0, 16.0], tail_s=1.0).pcm, work / "commands.wav")


def voice_agent(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    sets = [f"store.path={tmp_path / 'db.sqlite'}", *QUIET]
    command = [sys.executable, "-m", "voice_agent", *args, "--profile", "speed"]
    for item in sets:
        command += ["--set", item]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def servers(stt_uri: str, tts_uri: str, *more: str) -> list[str]:
    sets = ["stt.engine=wyoming", f"stt.uri={stt_uri}", "tts.engine=wyoming", f"tts.uri={tts_uri}"]
    return [arg for item in [*sets, *more] for arg in ("--set", item)]


def test_run_and_ask_answer_through_the_servers(whisper, piper, commands_wav, tmp_path):
    out = tmp_path / "replies.wav"
    result = voice_agent(
        "run", "--input", str(commands_wav), "--output", str(out), "--json",
        *servers(whisper.uri, piper.uri, f"tts.voice={VOICE}"), tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    turns = [json.loads(line) for line in result.stdout.splitlines()]
    assert [t["agent"] for t in turns] == ["utility", "time"], [t["transcript"] for t in turns]
    assert "100" in turns[0]["answer"] and "Tokyo" in turns[1]["answer"]
    for turn in turns:
        assert turn["error"] is None
        t = turn["timings"]
        assert 0 < t["stt_ms"] < t["first_audio_ms"] < 5000, t
    assert out.stat().st_size > 44 + 2 * 22050, "the replies were spoken into the WAV"

    asked = voice_agent(
        "ask", "what is 25 times 4", *servers(whisper.uri, piper.uri), tmp_path=tmp_path
    )
    assert asked.returncode == 0 and "100" in asked.stdout, asked.stderr


def test_servers_down_with_fallbacks_answer_locally_and_say_so(commands_wav, tmp_path):
    down = f"tcp://127.0.0.1:{free_port()}"
    result = voice_agent(
        "run", "--input", str(commands_wav), "--json",
        *servers(down, down, "stt.fallback=faster-whisper", "tts.fallback=pyttsx3"),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    turns = [json.loads(line) for line in result.stdout.splitlines()]
    assert [t["agent"] for t in turns] == ["utility", "time"]
    assert all(t["error"] is None and t["timings"]["first_audio_ms"] > 0 for t in turns)
    where = down.removeprefix("tcp://")
    told = [line for line in result.stderr.splitlines() if where in line]
    assert told == [
        f"The speech recognition server at {where} isn't answering (connection refused), so "
        "I'm using Whisper on this machine until it is back.",
        f"The voice server at {where} isn't answering (connection refused), so I'm using the "
        "voice on this machine until it is back.",
    ], result.stderr


def test_server_down_without_fallback_ends_each_turn_with_one_sentence(
    whisper, piper, commands_wav, tmp_path
):
    down = f"tcp://127.0.0.1:{free_port()}"
    where = down.removeprefix("tcp://")
    no_ears = voice_agent(
        "run", "--input", str(commands_wav), "--json", *servers(down, piper.uri),
        tmp_path=tmp_path,
    )  # fmt: skip
    assert no_ears.returncode == 0, no_ears.stderr
    turns = [json.loads(line) for line in no_ears.stdout.splitlines()]
    assert len(turns) == 2
    for turn in turns:
        assert turn["error_info"]["stage"] == "stt" and turn["agent"] is None
        assert turn["answer"] == (
            f"Sorry, the speech recognition server at {where} isn't answering, so I didn't "
            "get that."
        )
        assert turn["timings"]["first_audio_ms"] > 0, "said by the voice server"

    no_voice = voice_agent(
        "run", "--input", str(commands_wav), "--json", *servers(whisper.uri, down),
        tmp_path=tmp_path,
    )  # fmt: skip
    turns = [json.loads(line) for line in no_voice.stdout.splitlines()]
    assert [t["agent"] for t in turns] == ["utility", "time"]
    for turn in turns:
        assert turn["error_info"]["stage"] == "tts"
        assert turn["answer"].endswith(f" Sorry, the voice server at {where} isn't answering.")
        assert turn["answer"].count("Sorry") == 1 and "first_audio_ms" not in turn["timings"]


def test_servers_killed_mid_turn_end_it_and_the_fallback_takes_the_next(
    work, spoken, commands_wav, tmp_path
):
    stt_server, tts_server = whisper_server(work), piper_server(work)
    settings = load_settings(
        "speed",
        # Not speculative: a transcript guessed in the pause is taken again when it fails,
        # and this is about the request the turn waits on.
        [f"store.path={tmp_path / 'db.sqlite'}", *QUIET, "stt.speculative=false",
         "stt.engine=wyoming", f"stt.uri={stt_server.uri}", "stt.fallback=faster-whisper",
         "tts.engine=wyoming", f"tts.uri={tts_server.uri}", "tts.fallback=pyttsx3"],
    )  # fmt: skip
    app = build(settings)
    told: list[str] = []
    app.announce = told.append
    try:
        loop = VoiceLoop(app)
        loop.warmup()
        # Each server dies inside its next request: Whisper with part of the audio sent,
        # the voice with the text sent.
        kill_during(app.stt.server, "stream", stt_server.kill)
        first, second = loop.run_file(FileSource(commands_wav, 20, trailing_silence_ms=800))
        stt_where = stt_server.uri.removeprefix("tcp://")
        assert first.error.stage == "stt" and first.answer == (
            f"Sorry, the speech recognition server at {stt_where} stopped answering, so I "
            "didn't get that."
        )
        assert second.error is None and "Tokyo" in second.answer, second.answer
        assert second.timings["first_audio_ms"] > 0, "spoken by the voice server"
        assert len(told) == 1 and told[0].startswith(
            f"The speech recognition server at {stt_where} isn't answering ("
        )
        assert told[0].endswith("), so I'm using Whisper on this machine until it is back.")

        kill_during(app.tts.server, "stream", tts_server.kill)
        first, second = loop.run_file(FileSource(commands_wav, 20, trailing_silence_ms=800))
        tts_where = tts_server.uri.removeprefix("tcp://")
        assert first.error.stage == "tts" and "100" in first.answer
        assert first.answer.endswith(f" Sorry, the voice server at {tts_where} stopped answering.")
        assert second.error is None and second.timings["first_audio_ms"] > 0
        assert "Tokyo" in second.answer and len(told) == 2
        assert told[1].startswith(f"The voice server at {tts_where} isn't answering (")
        assert told[1].endswith("so I'm using the voice on this machine until it is back.")
    finally:
        app.close()
        stt_server.stop()
        tts_server.stop()


def kill_during(engine, method: str, kill) -> None:
    """Make `kill` happen inside the engine's next request."""
    real = getattr(engine, method)

    def once(*args, **kwargs):
        setattr(engine, method, real)
        if method == "stream" and not args:  # STT: a Transcription, fed then finished
            transcription = real()
            feed = transcription.feed
            fed = []

            def feed_then_kill(pcm: bytes) -> None:
                feed(pcm)
                fed.append(pcm)
                if len(fed) == 5:
                    kill()

            transcription.feed = feed_then_kill
            return transcription
        pieces = real(*args, **kwargs)  # TTS: connected, the text on its way
        kill()
        return pieces

    setattr(engine, method, once)


# -- doctor -----------------------------------------------------------------------------------
def test_doctor_describes_each_server_and_fails_on_one_down(whisper, piper, tmp_path):
    env = {**os.environ, "COLUMNS": "300"}
    command = [sys.executable, "-m", "voice_agent", "doctor", "--profile", "speed"]
    up = subprocess.run(
        [*command, *servers(whisper.uri, piper.uri, f"tts.voice={VOICE}")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    lines = {
        line.split()[3]: line
        for line in up.stdout.splitlines()
        if line.split()[1:3] in (["stt", "server"], ["tts", "server"])
    }
    assert "ok" in lines[whisper.uri] and "asr: faster-whisper 3.8.1" in lines[whisper.uri]
    assert "(installed; af, am, ar +" in lines[whisper.uri]
    assert f"tts: piper 2.5.2 (streaming), voices {VOICE} (installed; en_US)" in lines[piper.uri]
    for line in lines.values():
        assert " ms round trip" in line

    down = f"tcp://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [*command, *servers(down, piper.uri, "stt.fallback=faster-whisper")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.lstrip().startswith("FAIL")]
    assert len(failed) == 1 and f"stt server {down}" in failed[0], failed
    assert failed[0].split(down)[1].strip() == (
        "not answering (connection refused): start the server, or point stt.uri at a running "
        "one; faster-whisper answers meanwhile"
    )


def test_a_bad_address_is_one_line_naming_the_key(tmp_path):
    result = voice_agent("ask", "hi", "--set", "stt.engine=wyoming", "--set",
                         "stt.uri=tcp://host:notaport", tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --set stt.uri: expected a Wyoming server address such as "
        "tcp://192.168.1.20:10300 or unix:///run/wyoming.sock (tcp:// needs a host and a "
        "port), got 'tcp://host:notaport'"
    ]
    missing = voice_agent("ask", "hi", "--set", "tts.engine=wyoming", tmp_path=tmp_path)
    assert (
        missing.returncode == 2 and "tts.uri: expected a Wyoming server address" in missing.stderr
    )
