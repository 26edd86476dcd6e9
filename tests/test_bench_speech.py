"""The benchmarks' spoken corpus: noise at the SNR it claims, caches that spare a second
synthesis or transcription, and the routing sample that keeps every label's share."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest

from benchmarks import speech
from benchmarks.routing import load_set, stratified_sample
from voice_agent.config import SttConfig
from voice_agent.stt import Transcript
from voice_agent.tts.base import Speech

RATE = speech.SAMPLE_RATE


@pytest.fixture(autouse=True)
def bench_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(speech, "cache_dir", lambda: tmp_path / "bench")
    speech._engine.cache_clear()
    yield tmp_path / "bench"
    speech._engine.cache_clear()


def tone(seconds: float, rms: float, pad_s: float = 0.3) -> np.ndarray:
    """A 440 Hz tone of a known RMS between digital silences: its speech level is `rms`."""
    t = np.arange(round(seconds * RATE)) / RATE
    burst = np.round(np.sqrt(2) * rms * np.sin(2 * np.pi * 440 * t))
    silence = np.zeros(round(pad_s * RATE))
    return np.concatenate([silence, burst, silence]).astype(np.int16)


def measured_snr(clean: np.ndarray, mixed: np.ndarray, level: float) -> float:
    noise = mixed.astype(np.float64) - clean
    return 20 * np.log10(level / np.sqrt(np.mean(noise**2)))


def test_speech_level_ignores_padding():
    assert speech.speech_level(tone(1.0, 1000.0)) == pytest.approx(1000.0, rel=1e-3)
    assert speech.speech_level(tone(1.0, 1000.0, pad_s=2.0)) == pytest.approx(1000.0, rel=1e-3)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox makes the noise (apt-get install sox)")
@pytest.mark.parametrize("color", ["pink", "white"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_with_noise_mixes_at_the_snr_it_claims(color, snr_db):
    clean = tone(1.5, 2000.0)
    mixed = speech.with_noise(clean, snr_db, seed=7, color=color)
    assert mixed.dtype == np.int16 and len(mixed) == len(clean)
    assert abs(measured_snr(clean, mixed, 2000.0) - snr_db) < 0.2
    assert np.abs(mixed[: RATE // 10]).max() > 0  # the noise fills the padding too


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox makes the noise (apt-get install sox)")
def test_with_noise_is_the_same_for_a_seed_and_differs_between_seeds():
    clean = tone(0.5, 2000.0)
    first = speech.with_noise(clean, 10.0, seed=1)
    assert np.array_equal(first, speech.with_noise(clean, 10.0, seed=1))
    assert not np.array_equal(first, speech.with_noise(clean, 10.0, seed=2))


class FakeTTS:
    """A 22.05 kHz tone per text, with the engine's own silence around it; counts calls."""

    sample_rate = 22050

    def __init__(self) -> None:
        self.calls: list[str] = []

    def synthesize(self, text: str) -> Speech:
        self.calls.append(text)
        t = np.arange(self.sample_rate) / self.sample_rate
        body = (8000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
        quiet = np.zeros(self.sample_rate // 10, np.int16)
        pcm = np.concatenate([quiet, body, quiet]).astype("<i2").tobytes()
        return Speech(pcm, self.sample_rate)


def test_speak_synthesizes_once_then_reads_the_disk_cache(monkeypatch, bench_cache):
    engines: dict[str, FakeTTS] = {}
    monkeypatch.setattr(
        speech, "build_tts", lambda config: engines.setdefault(config.engine, FakeTTS())
    )

    audio = speech.speak("set a timer", "piper")
    again = speech.speak("set a timer", "piper")
    assert engines["piper"].calls == ["set a timer"]
    assert np.array_equal(audio, again)
    assert len(list((bench_cache / "speech").glob("*.npy"))) == 1

    # 16 kHz int16; the engine's silence is trimmed and exactly PAD_S put either side
    pad = round(speech.PAD_S * RATE)
    assert audio.dtype == np.int16
    assert len(audio) == pytest.approx(2 * pad + RATE, abs=2)
    assert not audio[:pad].any() and not audio[-pad:].any()
    assert np.abs(audio[pad : pad + 100]).max() > 0

    speech.speak("set a timer", "espeak")  # another voice is another entry
    speech.speak("stop", "piper")
    assert engines["pyttsx3"].calls == ["set a timer"]
    assert engines["piper"].calls == ["set a timer", "stop"]

    speech._engine.cache_clear()  # a new process: only the disk cache is left
    speech.speak("stop", "piper")
    assert engines["piper"].calls == ["set a timer", "stop"]


class FakeSTT:
    """WhisperSTT's surface for transcribe_cached; counts transcriptions."""

    def __init__(self, config: SttConfig, prompt: str | None = None) -> None:
        self.config = config
        self.prompt = prompt
        self.calls = 0

    def transcribe(self, pcm: bytes) -> Transcript:
        self.calls += 1
        duration = len(pcm) / 2 / RATE
        return Transcript(f"heard {len(pcm)}", "en", duration, 123.0 * self.calls)


def test_transcribe_cached_transcribes_once_per_setting_and_audio():
    audio = tone(1.0, 1000.0)
    stt = FakeSTT(SttConfig(model="tiny.en", beam_size=1))
    first = speech.transcribe_cached(stt, audio)
    second = speech.transcribe_cached(stt, audio.copy())
    assert stt.calls == 1
    assert (first.cached, second.cached) == (False, True)
    # the cached entry keeps the text and the time the one real transcription took
    assert (second.text, second.elapsed_ms, second.duration_s) == (first.text, 123.0, 1.6)

    # any decoding setting, the prompt or the audio makes it another entry
    for other in (
        FakeSTT(SttConfig(model="tiny.en", beam_size=5)),
        FakeSTT(SttConfig(model="base", beam_size=1)),
        FakeSTT(SttConfig(model="tiny.en", beam_size=1), prompt="Commands like: timer."),
    ):
        assert not speech.transcribe_cached(other, audio).cached
        assert other.calls == 1
    assert not speech.transcribe_cached(stt, tone(1.0, 999.0)).cached
    # threads change the speed, not the words: same entry
    threads = FakeSTT(SttConfig(model="tiny.en", beam_size=1, cpu_threads=1))
    assert speech.transcribe_cached(threads, audio).cached and threads.calls == 0


def test_routing_sample_keeps_each_label_share_and_nests():
    items = load_set()
    stratum = [i["category"] if i["category"] == "out_of_scope" else i["label"] for i in items]
    full, quick = stratified_sample(items, 200), stratified_sample(items, 30)
    assert set(quick) <= set(full)  # the quick run reuses the full run's speech and transcripts
    assert full == stratified_sample(items, 200)  # fixed seed
    assert 195 <= len(full) <= 205 and 28 <= len(quick) <= 34
    everything = Counter(stratum)
    for sample in (full, quick):
        counts = Counter(stratum[i] for i in sample)
        assert set(counts) == set(everything)
        for key, n in everything.items():
            assert abs(counts[key] / len(sample) - n / len(items)) < 0.04, key
