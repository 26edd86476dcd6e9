"""Bad input as audio (issue 10, "The suite"): every kind of file a user might hand to
`voice-agent run --input` or `voice-agent transcribe`, through the real CLI in a fresh
interpreter, each with its expected outcome and a time bound.

The outcomes:
- refused: exit 2 and one line, `error: FILE: what is wrong`, before any model loads;
- no speech: exit 1 and one line, `FILE: no speech heard in N s of audio`;
- answered: exit 0 and one JSON turn per utterance, "25 times 7 is 175.";
- not heard: noise the endpointer took for speech gets "Sorry, I didn't hear anything.";
- heard: one turn, answered whatever its words (where they went to the LLM: that it
  cannot run). What Whisper makes of speech it hears badly (8 kHz, -50 dBFS, half a
  sentence) is the model's accuracy, not the input handling's;
- heard whole: speech longer than vad.max_utterance_s is one turn, answered once it ends.

Runs use the speed profile (the fastest) with the store under tmp_path. The LLM is an
Ollama address where nothing listens, so a turn routed to it ends at once with one sentence:
no case waits on loading a language model. The decoding itself is checked sample by sample,
in process, for every format that must work.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import SAMPLE_RATE, Stream, espeak
from scipy.signal import correlate
from stages import QuickTTS, ScriptedSTT
from typer.testing import CliRunner

from voice_agent import cli
from voice_agent.app import build
from voice_agent.audio.base import AudioError
from voice_agent.audio.capture import FORMATS_HINT, FileSource, read_pcm16
from voice_agent.audio.vad import Segmenter
from voice_agent.config import VadConfig, load_settings
from voice_agent.voice_loop import VoiceLoop

PHRASE = "what is twenty five times seven"
ANSWER = "25 times 7 is 175."
# Continuous speech (no pause the endpointer would end a turn at) of about 13 s: longer
# than the speed profile's vad.max_utterance_s.
LONG_UTTERANCE = (
    "remember that the plumber comes on thursday morning to fix the kitchen sink and the "
    "electrician comes on friday afternoon to look at the lights in the hallway and my sister "
    "arrives on saturday with the children so we need bread and milk and eggs and cheese"
)
NOT_HEARD = "Sorry, I didn't hear anything."
REFUSED_S = 15.0  # a refusal comes before any model loads: about a second
RUN_S = 60.0  # a run with Whisper loaded: a few seconds


# -- the files --------------------------------------------------------------------------------


def riff(
    data: bytes,
    *,
    tag: int = 1,
    channels: int = 1,
    rate: int = SAMPLE_RATE,
    bits: int = 16,
    before_data: bytes = b"",
    riff_size: int | None = None,
    data_size: int | None = None,
) -> bytes:
    """A WAV file byte by byte, so that every header field can be wrong on purpose."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + chunk(b"fmt ", fmt) + before_data + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def chunk(name: bytes, payload: bytes) -> bytes:
    return name + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


def png() -> bytes:
    """A valid 4x4 grey PNG image."""

    def part(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    pixels = zlib.compress((b"\0" + b"\x80" * 4) * 4)
    return b"\x89PNG\r\n\x1a\n" + part(b"IHDR", header) + part(b"IDAT", pixels) + part(b"IEND", b"")


def wav16(path: Path, samples: np.ndarray, **header) -> Path:
    """16 kHz samples (rounded, clipped to int16) as a WAV; `header` as for riff()."""
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2")
    path.write_bytes(riff(pcm.tobytes(), **header))
    return path


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> dict[str, np.ndarray]:
    """espeak-ng phrases at 16 kHz, trimmed to their speech, at -26 dBFS."""
    work = tmp_path_factory.mktemp("espeak")
    return {text: espeak(text, work) for text in (PHRASE, LONG_UTTERANCE)}


class Media:
    """Makes the files of one case in its folder, from the spoken PHRASE."""

    def __init__(self, folder: Path, voice: dict[str, np.ndarray]) -> None:
        self.folder = folder
        self.voice = voice
        self.speech = voice[PHRASE]
        self.said = np.concatenate([silence(0.3), self.speech, silence(0.2)])
        self.base = self.wav("said.wav", self.said)

    def path(self, name: str) -> Path:
        return self.folder / name

    def bytes(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        path.write_bytes(data)
        return path

    def wav(self, name: str, samples: np.ndarray, **header) -> Path:
        return wav16(self.path(name), samples, **header)

    def sox(self, name: str, *options: str, effects: tuple[str, ...] = ()) -> Path:
        """The spoken phrase converted by sox: output `options`, then `effects`."""
        path = self.path(name)
        command = ["sox", "-V1", "-R", str(self.base), *options, str(path), *effects]
        subprocess.run(command, check=True, capture_output=True)
        return path

    def noise(self, color: str) -> Path:
        path = self.path(f"{color}.wav")
        synth = ["sox", "-V1", "-R", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16"]
        subprocess.run([*synth, str(path), "synth", "3", f"{color}noise", "vol", "0.3"], check=True)
        return path

    def encoded(self, name: str, codec: str) -> Path:
        """The spoken phrase in a format sox cannot write (MP3, Opus), encoded by PyAV."""
        import av

        path = self.path(name)
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=48000 if codec == "libopus" else SAMPLE_RATE)
            stream.layout = "mono"
            stream.bit_rate = 96_000  # a usual rate: PyAV's default, 24 kb/s, blurs the words
            samples = self.said.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
        return path

    def float_wav(self, name: str, peak: float) -> Path:
        """A 32-bit float WAV of the phrase whose loudest sample is `peak` (1.0 full scale)."""
        samples = (self.said / np.abs(self.said).max() * peak).astype("<f4")
        return self.bytes(name, riff(samples.tobytes(), tag=3, bits=32))

    def folder_named(self, name: str) -> Path:
        path = self.path(name)
        path.mkdir()
        return path

    def fifo(self, name: str) -> Path:
        path = self.path(name)
        os.mkfifo(path)
        return path

    def dangling(self, name: str) -> Path:
        path = self.path(name)
        path.symlink_to(self.path("gone.wav"))
        return path

    def unreadable(self, name: str) -> Path:
        path = self.path(name)
        shutil.copy(self.base, path)
        path.chmod(0)
        return path

    def long_utterance(self) -> Path:
        speech = self.voice[LONG_UTTERANCE]
        return self.wav("long.wav", np.concatenate([silence(0.3), speech, silence(0.2)]))


# -- running the CLI --------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float

    @property
    def lines(self) -> list[str]:
        """What stderr says, a line each (a long line is not wrapped: COLUMNS is wide)."""
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def turns(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def voice_agent(*args: str, prefix: tuple[str, ...] = (), timeout: float = 300) -> Outcome:
    """`voice-agent ARGS` in a fresh interpreter, its wall time and its own peak memory."""
    env = {**os.environ, "COLUMNS": "1000"}
    command = [*prefix, sys.executable, "-m", "voice_agent", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        killer = threading.Timer(timeout, proc.kill)  # a hang fails the test, not the suite
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    return Outcome(proc.returncode, stdout, stderr, seconds, usage.ru_maxrss / 1024)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_args(path: Path, store: Path) -> list[str]:
    return [
        "run", "--input", str(path), "--json", "--profile", "speed",
        "--set", f"store.path={store}",
        "--set", "llm.warmup=false",
        "--set", "llm.backend=ollama",
        "--set", f"llm.ollama_host=http://127.0.0.1:{unused_port()}",
    ]  # fmt: skip


def drop_root() -> tuple[str, ...]:
    """A prefix that runs a command without root's right to read any file, or () if not root."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("root reads any file, and setpriv (util-linux) is not here to drop that")
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")


# -- what must come out -------------------------------------------------------------------------

Check = Callable[[Path, Outcome], None]


@dataclass(frozen=True)
class Refused:
    """Exit 2 and one line naming the file and the problem (a regular expression)."""

    problem: str

    def __call__(self, path: Path, out: Outcome) -> None:
        assert out.code == 2 and out.stdout == "", out
        assert len(out.lines) == 1, out.stderr
        line = out.lines[0]
        assert re.fullmatch(f"error: {re.escape(str(path))}: {self.problem}", line), line


def no_speech(seconds: float) -> Check:
    def check(path: Path, out: Outcome) -> None:
        assert out.code == 1 and out.stdout == "", out
        assert out.lines == [f"{path}: no speech heard in {seconds:.1f} s of audio"]

    return check


def answered(turns: int = 1) -> Check:
    def check(path: Path, out: Outcome) -> None:
        assert out.code == 0 and out.lines == [], out
        assert [(turn["answer"], turn["error"]) for turn in out.turns] == [(ANSWER, None)] * turns

    return check


def not_heard(path: Path, out: Outcome) -> None:
    assert out.code == 0 and out.lines == [], out
    assert [(turn["transcript"], turn["answer"]) for turn in out.turns] == [("", NOT_HEARD)]


def heard(path: Path, out: Outcome) -> None:
    """Speech heard badly: one turn, answered whatever the words were (a turn the LLM would
    answer says that it cannot run)."""
    assert out.code == 0 and out.lines == [], out
    (turn,) = out.turns
    assert turn["transcript"] and turn["answer"]
    assert turn["error"] is None or turn["answer"].startswith("Sorry")


def heard_whole(path: Path, out: Outcome) -> None:
    """Cut at vad.max_utterance_s for Whisper, and answered as one turn once the user stops:
    a reply to the first part would talk over the rest, and half-duplex would not hear it."""
    heard(path, out)
    (turn,) = out.turns
    longest = load_settings("speed").vad.max_utterance_s
    assert turn["speech_end_s"] - turn["speech_start_s"] > longest
    assert "plumber" in turn["transcript"] and "cheese" in turn["transcript"]


def transcribed(path: Path, out: Outcome) -> None:
    assert out.code == 0 and out.lines == [], out
    assert re.fullmatch(r"What is 25 times (7|seven)\?", json.loads(out.stdout)["text"])


@dataclass(frozen=True)
class Format:
    """A file that holds the spoken phrase: it must decode to what it holds."""

    make: Callable[[Media], Path]
    similarity: float = 0.999  # least normalised cross-correlation with what it holds
    holds: Callable[[Media], np.ndarray] = lambda m: m.said


LIST_CHUNKS = chunk(b"LIST", b"INFO" + chunk(b"INAM", b"a title\0") + chunk(b"ICMT", b"x" * 5000))
FORMATS = {
    "16 kHz": Format(lambda m: m.base),
    "8 kHz": Format(lambda m: m.sox("r8.wav", "-r", "8000"), 0.95),
    "11.025 kHz": Format(lambda m: m.sox("r11.wav", "-r", "11025"), 0.98),
    "22.05 kHz": Format(lambda m: m.sox("r22.wav", "-r", "22050")),
    "44.1 kHz": Format(lambda m: m.sox("r44.wav", "-r", "44100")),
    "48 kHz": Format(lambda m: m.sox("r48.wav", "-r", "48000")),
    "96 kHz": Format(lambda m: m.sox("r96.wav", "-r", "96000")),
    "stereo": Format(lambda m: m.sox("stereo.wav", "-r", "44100", "-c", "2")),
    "left channel only": Format(
        lambda m: m.sox("left.wav", effects=("remix", "1", "0")), holds=lambda m: m.said / 2
    ),
    "3 channels": Format(lambda m: m.sox("three.wav", effects=("remix", "1", "1", "1"))),
    "5.1 at 48 kHz": Format(
        lambda m: m.sox("six.wav", "-r", "48000", effects=("remix", *"111111"))
    ),
    "8-bit unsigned": Format(lambda m: m.sox("u8.wav", "-e", "unsigned", "-b", "8"), 0.99),
    "24-bit": Format(lambda m: m.sox("s24.wav", "-b", "24")),
    "32-bit int": Format(lambda m: m.sox("s32.wav", "-e", "signed", "-b", "32")),
    "32-bit float": Format(lambda m: m.sox("f32.wav", "-e", "floating-point", "-b", "32")),
    "64-bit float": Format(lambda m: m.sox("f64.wav", "-e", "floating-point", "-b", "64")),
    "float peaking at 4x full scale": Format(
        lambda m: m.float_wav("over.wav", 4.0),
        holds=lambda m: np.clip(m.said / np.abs(m.said).max() * 4 * 32768, -32768, 32767),
    ),
    "speech amplified 30x into clipping": Format(
        lambda m: m.wav("clipped.wav", m.said * 30.0),
        holds=lambda m: np.clip(m.said * 30.0, -32768, 32767),
    ),
    "speech at -50 dBFS": Format(
        lambda m: m.wav("faint.wav", m.said * 10 ** (-24 / 20)),
        holds=lambda m: np.round(m.said * 10 ** (-24 / 20)),
    ),
    "mu-law": Format(lambda m: m.sox("ulaw.wav", "-e", "u-law"), 0.99),
    "A-law": Format(lambda m: m.sox("alaw.wav", "-e", "a-law"), 0.99),
    "IMA ADPCM": Format(lambda m: m.sox("adpcm.wav", "-e", "ima-adpcm"), 0.98),
    "a LIST and a junk chunk before the data": Format(
        lambda m: m.wav("tagged.wav", m.said, before_data=LIST_CHUNKS + chunk(b"junk", b"\0" * 33))
    ),
    "a data chunk claiming 4 GB": Format(lambda m: m.wav("big.wav", m.said, data_size=0xFFFFFFFF)),
    "RIFF and data sizes of 0": Format(
        lambda m: m.wav("zero.wav", m.said, riff_size=0, data_size=0)
    ),
    "48 kHz stereo 24-bit": Format(
        lambda m: m.sox("hifi.wav", "-r", "48000", "-c", "2", "-b", "24")
    ),
    "raw 16 kHz int16": Format(lambda m: m.bytes("said.raw", m.said.astype("<i2").tobytes())),
    "AIFF": Format(lambda m: m.sox("said.aiff")),
    "FLAC": Format(lambda m: m.sox("said.flac")),
    "OGG Vorbis": Format(lambda m: m.sox("said.ogg", "-C", "6"), 0.99),
    "MP3": Format(lambda m: m.encoded("said.mp3", "libmp3lame"), 0.99),
    "Opus": Format(lambda m: m.encoded("said.opus", "libopus"), 0.99),
}
# Through the CLI as well: the formats issue 10 names.
ANSWERED = [
    "16 kHz", "11.025 kHz", "22.05 kHz", "44.1 kHz", "48 kHz", "stereo", "3 channels",
    "8-bit unsigned", "24-bit", "32-bit int", "32-bit float", "float peaking at 4x full scale",
    "speech amplified 30x into clipping", "a LIST and a junk chunk before the data",
    "a data chunk claiming 4 GB", "RIFF and data sizes of 0", "MP3", "OGG Vorbis", "FLAC",
]  # fmt: skip


HINT = f"; {FORMATS_HINT}"
NOT_DECODABLE = r"not audio it can read \(Invalid data found when processing input\)"


@dataclass(frozen=True)
class Case:
    what: str
    make: Callable[[Media], Path]
    expect: Check
    bound_s: float = RUN_S
    command: str = "run"
    prefix: Callable[[], tuple[str, ...]] = tuple

    @property
    def param(self):
        slow = () if isinstance(self.expect, Refused) else (pytest.mark.slow,)
        return pytest.param(self, id=f"{self.command}: {self.what}", marks=slow)


S = SAMPLE_RATE
CASES = [
    # Nothing to decode: refused in one line before any model loads.
    Case("a missing path", lambda m: m.path("nope.wav"), Refused("no such file"), REFUSED_S),
    Case("a folder", lambda m: m.folder_named("takes.wav"),
         Refused("is a folder, not an audio file"), REFUSED_S),
    Case("a link to nothing", lambda m: m.dangling("link.wav"), Refused("no such file"),
         REFUSED_S),
    Case("a named pipe (would block)", lambda m: m.fifo("pipe.wav"),
         Refused("not a regular file; save the recording to a file first"), REFUSED_S),
    Case("an unreadable file", lambda m: m.unreadable("secret.wav"),
         Refused("not allowed to read it"), REFUSED_S, prefix=drop_root),
    Case("an empty file", lambda m: m.bytes("empty.wav", b""), Refused("the file is empty"),
         REFUSED_S),
    Case("a WAV header with no samples", lambda m: m.bytes("header.wav", riff(b"")),
         Refused("holds no audio samples"), REFUSED_S),
    Case("a RIFF header cut short", lambda m: m.bytes("cut.wav", m.base.read_bytes()[:30]),
         Refused(NOT_DECODABLE + HINT), REFUSED_S),
    Case("RIFF and WAVE and nothing else", lambda m: m.bytes("bare.wav", b"RIFF\4\0\0\0WAVE"),
         Refused(NOT_DECODABLE + HINT), REFUSED_S),
    Case("text renamed .wav", lambda m: m.bytes("notes.wav", b"this is not audio\n" * 20),
         Refused(NOT_DECODABLE + HINT), REFUSED_S),
    Case("a PNG image renamed .wav", lambda m: m.bytes("picture.wav", png()),
         Refused(r"holds no audio \(piped png sequence\)"), REFUSED_S),
    Case("random bytes", lambda m: m.bytes("random.wav", np.random.default_rng(1).bytes(50_000)),
         Refused(NOT_DECODABLE + HINT), REFUSED_S),
    Case("an unknown codec in a WAV",
         lambda m: m.bytes("codec.wav", riff(b"\0" * 3200, tag=0x1234)),
         Refused(r"cannot decode its audio \(Decoder not found\)" + HINT), REFUSED_S),
    Case("a WAV of zero channels", lambda m: m.bytes("mute.wav", riff(b"\0" * 3200, channels=0)),
         Refused(r"cannot decode its audio \(Invalid argument\)" + HINT), REFUSED_S),
    Case("a WAV at 0 Hz", lambda m: m.bytes("still.wav", riff(b"\0" * 3200, rate=0)),
         Refused(NOT_DECODABLE + HINT), REFUSED_S),
    Case("an empty raw file", lambda m: m.bytes("empty.raw", b""), Refused("the file is empty"),
         REFUSED_S),
    Case("raw audio of an odd byte count", lambda m: m.bytes("odd.pcm", b"\1\2\3"),
         Refused("odd byte count; raw audio must be 16 kHz mono int16"), REFUSED_S),
    Case("an empty file", lambda m: m.bytes("empty.wav", b""), Refused("the file is empty"),
         REFUSED_S, command="transcribe"),
    Case("a folder", lambda m: m.folder_named("takes.wav"),
         Refused("is a folder, not an audio file"), REFUSED_S, command="transcribe"),
    Case("a WAV header with no samples", lambda m: m.bytes("header.wav", riff(b"")),
         Refused("holds no audio samples"), REFUSED_S, command="transcribe"),
    Case("a PNG image renamed .wav", lambda m: m.bytes("picture.wav", png()),
         Refused(r"holds no audio \(piped png sequence\)"), REFUSED_S, command="transcribe"),
    # Audio without speech: one line, exit 1, never a silent exit 0.
    Case("one sample", lambda m: m.wav("one.wav", np.array([1000])), no_speech(0.0)),
    Case("100 ms of speech", lambda m: m.wav("blip.wav", m.speech[: S // 10]), no_speech(0.1)),
    Case("1 s of silence", lambda m: m.wav("quiet.wav", silence(1)), no_speech(1.0)),
    Case("10 s of silence", lambda m: m.wav("quiet.wav", silence(10)), no_speech(10.0)),
    Case("2 s of DC offset", lambda m: m.wav("dc.wav", np.full(2 * S, 8000)), no_speech(2.0)),
    # Noise the endpointer takes for speech: Whisper hears no words in it.
    Case("white noise", lambda m: m.noise("white"), not_heard),
    Case("pink noise", lambda m: m.noise("pink"), not_heard),
    Case("brown noise", lambda m: m.noise("brown"), not_heard),
    # Any rate, channel count and sample type: resampled, mixed down and answered.
    *[Case(what, FORMATS[what].make, answered()) for what in ANSWERED],
    Case("48 kHz stereo 24-bit", FORMATS["48 kHz stereo 24-bit"].make, transcribed,
         command="transcribe"),
    # Speech heard badly: still a turn ended with one sentence.
    Case("8 kHz", FORMATS["8 kHz"].make, heard),
    Case("speech at -50 dBFS", FORMATS["speech at -50 dBFS"].make, heard),
    Case("a WAV cut off mid-sentence, mid-sample",
         lambda m: m.bytes("half.wav", m.base.read_bytes()[: 44 + len(m.said) + 1]), heard),
    # One utterance longer than vad.max_utterance_s: cut there, answered whole.
    Case("13 s of speech without a pause", lambda m: m.long_utterance(), heard_whole),
]  # fmt: skip


@pytest.mark.parametrize("case", [case.param for case in CASES])
def test_audio_input(case: Case, tmp_path, voice):
    folder = tmp_path / "media"
    folder.mkdir()
    path = case.make(Media(folder, voice))
    if case.command == "run":
        args = run_args(path, tmp_path / "va.db")
    else:
        args = ["transcribe", str(path), "--json", "--profile", "speed"]
    out = voice_agent(*args, prefix=case.prefix(), timeout=case.bound_s * 3)
    assert "Traceback" not in out.stderr, out.stderr
    case.expect(path, out)
    assert out.seconds < case.bound_s, f"{case.what}: {out.seconds:.1f} s"


def test_a_30_minute_recording_is_read_as_it_goes(tmp_path, voice):
    """Half an hour of silence with the phrase four times: every utterance answered, in
    bounded time, and the run needs no more memory than a short one (the file is decoded
    chunk by chunk; whole, it would be 58 MB of samples, 115 MB as floats)."""
    speech = voice[PHRASE]
    starts_s = [0.5, 600.0, 1200.0, 1795.0]
    total = 30 * 60 * SAMPLE_RATE
    path = tmp_path / "half-hour.wav"
    with path.open("wb") as out:  # a minute of silence at a time, never the whole file
        out.write(riff(b"", riff_size=36 + 2 * total, data_size=2 * total))
        minute = silence(60)
        written = 0
        for start in [round(s * SAMPLE_RATE) for s in starts_s] + [total]:
            while written < start:
                gap = minute[: start - written]
                out.write(gap.tobytes())
                written += len(gap)
            if start < total:
                out.write(speech.tobytes())
                written += len(speech)
    assert path.stat().st_size == 44 + 2 * total

    short = voice_agent(*run_args(Media(tmp_path, voice).base, tmp_path / "short.db"))
    answered()(path, short)
    long = voice_agent(*run_args(path, tmp_path / "va.db"))
    answered(turns=4)(path, long)
    assert [round(turn["speech_start_s"]) for turn in long.turns] == [round(s) for s in starts_s]
    assert long.seconds < 120, f"{long.seconds:.0f} s"
    assert long.max_rss_mb < short.max_rss_mb + 40, (short.max_rss_mb, long.max_rss_mb)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Highest normalised cross-correlation of a and b at any lag (1.0: the same signal)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(correlate(a, b, method="fft").max() / np.sqrt(np.dot(a, a) * np.dot(b, b)))


@pytest.mark.parametrize("what", list(FORMATS))
def test_every_format_decodes_to_what_it_holds(what, tmp_path, voice):
    """At 16 kHz mono int16: as long, as loud, the same waveform (clipped where the file
    goes beyond full scale, never wrapped round)."""
    media = Media(tmp_path, voice)
    fmt = FORMATS[what]
    decoded, held = read_pcm16(fmt.make(media)), fmt.holds(media)
    assert abs(len(decoded) - len(held)) <= 0.01 * len(held)
    level_db = 20 * np.log10(np.std(decoded) / np.std(held))
    assert abs(level_db) < 0.5, f"{level_db:.2f} dB"
    assert similarity(decoded, held) >= fmt.similarity


@pytest.mark.parametrize("command", ["run", "transcribe"])
def test_a_file_it_cannot_use_is_refused_before_any_model_loads(command, tmp_path, monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr("voice_agent.app.build", load)
    monkeypatch.setattr("voice_agent.stt.WhisperSTT", load)
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    args = ["--input", str(path)] if command == "run" else [str(path)]
    result = CliRunner().invoke(cli.app, [command, *args, "--profile", "speed"])
    assert isinstance(result.exception, AudioError), result.exception
    assert str(result.exception).startswith(f"{path}: not audio it can read")


# -- an utterance longer than vad.max_utterance_s, in process ---------------------------------

CAPPED = VadConfig(max_utterance_s=1.0, pre_roll_ms=0, min_speech_ms=200, end_silence_ms=300)


def capped_talk(seconds: float) -> Stream:
    """Noise the endpointer takes for speech (it has no words), from 0.5 s on, then silence."""
    talk = np.random.default_rng(0).normal(0, 3000, round(seconds * SAMPLE_RATE))
    return Stream(np.concatenate([silence(0.5), talk.astype(np.int16), silence(1.0)]), [])


def test_a_cut_turn_ends_with_its_last_part_however_short(tmp_path):
    """1.05 s of talk with a 1 s cap: the last 50 ms are too little to be a turn of their
    own, but they end the one that was cut, so the listener learns that the user stopped."""
    first, last = Segmenter(CAPPED, 20).segment(capped_talk(1.05).frames(20))
    assert (first.truncated, last.truncated) == (True, False)
    assert (first.start_s, first.end_s) == pytest.approx((0.5, 1.5))
    assert last.start_s == pytest.approx(first.end_s)  # back to back: nothing lost
    assert last.speech_end_s == pytest.approx(1.56, abs=0.03)


def capped_app(tmp_path, stt: ScriptedSTT):
    settings = load_settings(
        "speed", [f"store.path={tmp_path / 'va.db'}", "vad.max_utterance_s=1.0"]
    )
    return build(settings, stt=stt, tts=QuickTTS())


def test_a_cut_utterance_is_answered_whole_once_the_user_stops(tmp_path):
    """2 s of talk with a 1 s cap (pre-roll included): two parts cut, then the rest; one
    turn, its words in order, timed from the start of the first part to the end of the last."""
    stt = ScriptedSTT(["what is twenty five", "times", "seven"])
    app = capped_app(tmp_path, stt)
    path = wav16(tmp_path / "talk.wav", capped_talk(2.0).pcm)
    try:
        (turn,) = VoiceLoop(app).run_file(FileSource(path, 20, trailing_silence_ms=800))
    finally:
        app.close()
    assert stt.calls == 3
    assert turn.transcript == "what is twenty five times seven"
    assert turn.answer == ANSWER and turn.error is None
    assert turn.speech_start_s == pytest.approx(0.5, abs=0.05)
    assert turn.speech_end_s == pytest.approx(2.5, abs=0.05)


def test_a_part_whisper_failed_on_ends_the_whole_turn_in_one_sentence(tmp_path):
    """Nothing of a cut utterance is answered without the part that could not be heard; the
    next utterance is answered as usual."""
    stt = ScriptedSTT(["what is twenty five", "times seven", "what is 2 plus 2"], fail_on={0})
    app = capped_app(tmp_path, stt)
    later = np.random.default_rng(1).normal(0, 3000, SAMPLE_RATE // 2)
    path = wav16(tmp_path / "talk.wav", np.concatenate([capped_talk(1.6).pcm, later, silence(1)]))
    try:
        failed, then = VoiceLoop(app).run_file(FileSource(path, 20, trailing_silence_ms=800))
    finally:
        app.close()
    assert failed.error is not None and failed.error.stage == "stt"
    assert failed.answer.startswith("Sorry") and failed.answer.count(".") == 1
    assert then.transcript == "what is 2 plus 2" and then.answer == "2 plus 2 is 4."
