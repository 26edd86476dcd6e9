"""The spoken corpus of the benchmarks: texts spoken by Piper and espeak-ng, real recordings,
noise at an exact SNR, and disk caches so that a rerun neither synthesizes nor transcribes.

Caches live in `cache_home()/bench` (safe to delete): `speech/<hash>.npy` per spoken text,
keyed by voice, text, engine settings and the TTS code; `transcripts.sqlite3` keyed by Whisper
decoding settings, vocabulary prompt, the STT code and the audio's content. A cached transcript
keeps the time its transcription took, so a warm rerun reports the speed measured by the run
that did the work.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import sqlite3
import subprocess
import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
from rich.progress import Progress

from voice_agent.agents.registry import load_agents
from voice_agent.audio.playback import resample
from voice_agent.config import SttConfig, TtsConfig, load_settings
from voice_agent.paths import cache_home
from voice_agent.stt import Transcript, WhisperSTT
from voice_agent.tts.factory import build_tts

SAMPLE_RATE = 16000
PAD_S = 0.3  # silence either side, as the endpointer's pre-roll and end silence leave
TRIM_BELOW_PEAK_DB = 40.0  # edge samples this far below the peak are the engine's silence
FRAME = SAMPLE_RATE // 100  # 10 ms frames for the speech level
NOISE_BED_S = 30  # one bed per colour, windows of it picked by seed
VOICES: dict[str, TtsConfig] = {
    "piper": TtsConfig(engine="piper", piper_voice="en_US-joe-medium"),
    "espeak": TtsConfig(engine="pyttsx3", rate=175),
    # A second espeak-ng voice, female and faster, for variety in the routing set.
    "espeak_f3": TtsConfig(engine="pyttsx3", rate=200, voice="en-us+f3"),
}
SPEECH_VERSION = 1  # bump when speak() changes what it makes from the same text
TTS_MODULES = (
    "voice_agent.tts.piper_engine",
    "voice_agent.tts.pyttsx3_engine",
    "voice_agent.tts.chunker",
)
T = TypeVar("T")


def cache_dir() -> Path:
    return cache_home() / "bench"


def _digest(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:20]


@functools.cache
def _source_digest(*modules: str) -> str:
    """Changes with the code that made a cached result, so that an edit there is a miss."""
    sources = (Path(importlib.util.find_spec(name).origin).read_bytes() for name in modules)
    return hashlib.sha1(b"".join(sources)).hexdigest()[:12]


# -- speech -------------------------------------------------------------------------------------
@functools.cache
def _engine(voice: str):
    return build_tts(VOICES[voice])


def speak(text: str, voice: str) -> np.ndarray:
    """`text` spoken by `voice` (a VOICES key): 16 kHz mono int16, PAD_S of silence either side."""
    engine_code = _source_digest(*TTS_MODULES)
    key = _digest(SPEECH_VERSION, engine_code, voice, VOICES[voice], PAD_S, text)
    path = cache_dir() / "speech" / f"{key}.npy"
    if path.exists():
        return np.load(path)
    speech = _engine(voice).synthesize(text)
    audio = resample(np.frombuffer(speech.pcm, dtype="<i2"), speech.sample_rate, SAMPLE_RATE)
    audio = _pad(_trim(audio))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.npy")  # a reader never sees half
    np.save(partial, audio)
    os.replace(partial, path)
    return audio


def _trim(audio: np.ndarray) -> np.ndarray:
    """Cut the engine's own leading/trailing silence (its length differs by engine)."""
    magnitude = np.abs(audio.astype(np.int32))
    if not magnitude.size or not magnitude.max():
        return audio
    loud = np.flatnonzero(magnitude > magnitude.max() * 10 ** (-TRIM_BELOW_PEAK_DB / 20))
    return audio[loud[0] : loud[-1] + 1]


def _pad(audio: np.ndarray) -> np.ndarray:
    silence = np.zeros(round(PAD_S * SAMPLE_RATE), np.int16)
    return np.concatenate([silence, audio, silence])


def read_wav(path: Path) -> np.ndarray:
    """A mono 16-bit WAV file (any rate) as 16 kHz int16."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit audio")
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return resample(samples.astype(np.int16), wav.getframerate(), SAMPLE_RATE)


# -- noise ------------------------------------------------------------------------------------
def speech_level(audio: np.ndarray) -> float:
    """RMS over the 10 ms frames within 40 dB of the loudest: the active speech level, which
    padding and pauses do not dilute (the idea of ITU-T P.56, simplified)."""
    n = len(audio) // FRAME
    power = np.mean(audio[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2, axis=1)
    active = power[power > power.max() * 10 ** (-TRIM_BELOW_PEAK_DB / 10)]
    return float(np.sqrt(np.mean(active))) if active.size else 0.0


@functools.cache
def _noise_bed(color: str) -> np.ndarray:
    """NOISE_BED_S of sox `synth` noise; -R makes sox repeatable run to run."""
    command = [
        "sox", "-R", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-e", "floating-point", "-b", "32",
        "-t", "raw", "-", "synth", str(NOISE_BED_S), f"{color}noise",
    ]  # fmt: skip
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).astype(np.float64)


def with_noise(audio: np.ndarray, snr_db: float, seed: int, color: str = "pink") -> np.ndarray:
    """`audio` plus white or pink noise `snr_db` below its speech level (see speech_level).

    The noise is a window of a sox-made bed chosen by `seed`; mixing in floating point makes
    the SNR exact up to int16 rounding.
    """
    bed = _noise_bed(color)
    start = int(np.random.default_rng(seed).integers(len(bed)))
    noise = np.resize(np.roll(bed, -start), len(audio))  # np.resize repeats a short bed
    # Scaled by the window's own RMS: pink noise's slow swings make windows differ by 0.5 dB.
    gain = speech_level(audio) / 10 ** (snr_db / 20) / np.sqrt(np.mean(noise**2))
    mixed = audio.astype(np.float64) + gain * noise
    return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)


# -- transcription ----------------------------------------------------------------------------
class SpeechToText(Protocol):
    """What transcribe_cached needs of WhisperSTT (and what a test fake provides)."""

    config: SttConfig
    prompt: str | None

    def transcribe(self, pcm: bytes) -> Transcript: ...


@dataclass(frozen=True)
class Heard:
    text: str
    elapsed_ms: float  # of the transcription that produced the text, cached or not
    duration_s: float
    cached: bool


def profile_stt(profile: str) -> WhisperSTT:
    """The profile's Whisper settings and vocabulary prompt, as the assistant builds them; the
    model loads on the first transcription that misses the cache (or on `load()`)."""
    settings = load_settings(profile)
    specs = load_agents(settings.agents.enabled, settings.routing.fallback_agent)
    return WhisperSTT(settings.stt, [word for spec in specs.values() for word in spec.vocabulary])


def stt_key(stt: SpeechToText) -> str:
    """Everything that decides a transcript besides the audio (not threads: speed only)."""
    c = stt.config
    settings = (c.model, c.compute_type, c.beam_size, c.best_of, c.temperature, c.language)
    return _digest(*settings, c.window_s, stt.prompt, _source_digest("voice_agent.stt"))


def transcribe_cached(stt: SpeechToText, audio: np.ndarray) -> Heard:
    """The transcript of `audio` (16 kHz int16) by `stt`, from the cache when it was made before.

    The audio is keyed by its content, so a change anywhere upstream (text, voice, padding,
    noise) is a miss rather than a stale hit.
    """
    pcm = audio.astype("<i2").tobytes()
    key = _digest(stt_key(stt), hashlib.sha1(pcm).hexdigest())
    with _transcripts() as db:
        row = db.execute(
            "SELECT text, elapsed_ms, duration_s FROM transcripts WHERE key = ?", (key,)
        ).fetchone()
    if row:
        return Heard(*row, cached=True)
    result = stt.transcribe(pcm)
    with _transcripts() as db:
        db.execute(
            "INSERT OR REPLACE INTO transcripts VALUES (?, ?, ?, ?)",
            (key, result.text, result.elapsed_ms, result.duration_s),
        )
    return Heard(result.text, result.elapsed_ms, result.duration_s, cached=False)


@contextlib.contextmanager
def _transcripts():
    """A connection to the transcript cache, committed and closed on exit."""
    path = cache_dir() / "transcripts.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)  # two benchmark runs may share it
    try:
        with db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS transcripts "
                "(key TEXT PRIMARY KEY, text TEXT, elapsed_ms REAL, duration_s REAL)"
            )
            yield db
    finally:
        db.close()


def track(items: Iterable[T], description: str, progress: Progress | None) -> Iterator[T]:
    """`items`, advancing a progress task that is removed once they are all done."""
    items = list(items)
    if progress is None:
        yield from items
        return
    task = progress.add_task(description, total=len(items))
    for item in items:
        yield item
        progress.advance(task)
    progress.remove_task(task)
