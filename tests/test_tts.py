"""Text to speech engines: pyttsx3 (espeak-ng) and Piper, and the factory."""

from __future__ import annotations

import importlib.util
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from voice_agent import models
from voice_agent.config import TtsConfig
from voice_agent.errors import ConfigError, ModelMissingError, UserError
from voice_agent.tts import pyttsx3_engine
from voice_agent.tts.base import Speech
from voice_agent.tts.factory import build_tts
from voice_agent.tts.piper_engine import PiperTTS
from voice_agent.tts.pyttsx3_engine import Pyttsx3TTS, TtsTimeoutError

SENTENCE = "The weather in Paris today is sunny with a light breeze and a high of twenty."
SHORT = "It is sunny."


def seconds(speech: Speech) -> float:
    return len(speech.pcm) / 2 / speech.sample_rate


def rms(speech: Speech) -> float:
    samples = np.frombuffer(speech.pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def assert_speech(speech: Speech, low: float, high: float) -> None:
    assert low < seconds(speech) < high
    assert rms(speech) > 500  # speech, not silence (full scale is 32767)


def hide_module(monkeypatch, name: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda mod, *a: None if mod == name else real(mod, *a)
    )


def test_build_tts_picks_the_engine():
    assert isinstance(build_tts(TtsConfig()), Pyttsx3TTS)
    assert build_tts(TtsConfig()).name == "pyttsx3"
    if importlib.util.find_spec("piper") is not None:
        piper = build_tts(TtsConfig(engine="piper"))
        assert isinstance(piper, PiperTTS) and piper.name == "piper"
        assert piper.model_path.name == "en_US-joe-medium.onnx"


def test_missing_piper_says_how_to_install(monkeypatch):
    hide_module(monkeypatch, "piper")
    with pytest.raises(UserError, match=r"pip install -e '\.\[piper\]'.*GPL-3\.0"):
        build_tts(TtsConfig(engine="piper"))


def test_missing_pyttsx3_says_how_to_install(monkeypatch):
    hide_module(monkeypatch, "pyttsx3")
    with pytest.raises(UserError, match=r"pip install -e '\.\[voice\]'"):
        build_tts(TtsConfig())


def test_unknown_piper_voice_is_a_clear_error():
    if importlib.util.find_spec("piper") is None:
        pytest.skip("piper-tts is not installed")
    with pytest.raises(ModelMissingError, match="unknown voice 'en_XX-nobody'.*en_US-joe-medium"):
        PiperTTS(TtsConfig(engine="piper", piper_voice="en_XX-nobody"))


# pyttsx3 / espeak-ng


@pytest.mark.slow
def test_pyttsx3_speaks_a_sentence():
    speech = Pyttsx3TTS(TtsConfig()).synthesize(SENTENCE)
    assert speech.sample_rate == 22050
    assert_speech(speech, 2.5, 7.0)  # 16 words at 175 wpm: about 4 s


@pytest.mark.slow
def test_pyttsx3_longer_text_and_faster_rate():
    tts = Pyttsx3TTS(TtsConfig(rate=175))
    short, long = tts.synthesize(SHORT), tts.synthesize(SENTENCE)
    assert seconds(long) > 2.5 * seconds(short)
    fast = Pyttsx3TTS(TtsConfig(rate=350)).synthesize(SENTENCE)
    slow = Pyttsx3TTS(TtsConfig(rate=100)).synthesize(SENTENCE)
    assert seconds(fast) < 0.6 * seconds(long) < seconds(slow)


@pytest.mark.slow
def test_pyttsx3_many_calls_from_many_threads():
    slow, fast = Pyttsx3TTS(TtsConfig(rate=120)), Pyttsx3TTS(TtsConfig(rate=360))
    reference = {tts: seconds(tts.synthesize(SENTENCE)) for tts in (slow, fast)}
    results: list[tuple[Pyttsx3TTS, Speech]] = []

    def speak(tts: Pyttsx3TTS) -> None:
        for _ in range(5):
            results.append((tts, tts.synthesize(SENTENCE)))

    threads = [threading.Thread(target=speak, args=(tts,)) for tts in (slow, fast, slow, fast)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert len(results) == 20
    for tts, speech in results:  # each handle keeps its own rate on the shared engine
        assert seconds(speech) == pytest.approx(reference[tts], abs=0.05)
        assert rms(speech) > 500


@pytest.mark.slow
def test_pyttsx3_voice_by_id_language_or_name():
    assert Pyttsx3TTS(TtsConfig(voice="gmw/en-us"))._voice == "gmw/en-us"
    assert Pyttsx3TTS(TtsConfig(voice="en-US"))._voice == "gmw/en-us"
    assert Pyttsx3TTS(TtsConfig(voice="America"))._voice == "gmw/en-us"
    female = Pyttsx3TTS(TtsConfig(voice="en-us+f3"))
    assert female._voice == "gmw/en-us+f3"
    default = Pyttsx3TTS(TtsConfig())
    assert female.synthesize(SHORT).pcm != default.synthesize(SHORT).pcm


@pytest.mark.slow
def test_pyttsx3_unknown_voice_lists_some():
    with pytest.raises(ConfigError, match=r"no pyttsx3 voice matches 'elvish'.*gmw/en-us"):
        Pyttsx3TTS(TtsConfig(voice="elvish"))


@pytest.mark.slow
def test_pyttsx3_normalises_text_and_skips_empty():
    tts = Pyttsx3TTS(TtsConfig())
    # espeak-ng output varies by a few samples between runs: compare lengths
    assert seconds(tts.synthesize("**It** is `sunny`.")) == pytest.approx(
        seconds(tts.synthesize(SHORT)), abs=0.02
    )
    assert tts.synthesize(" ... ") == Speech(b"", 22050)


@pytest.mark.slow
def test_pyttsx3_hang_times_out_and_restarts(monkeypatch):
    from pyttsx3.drivers.espeak import EspeakDriver

    tts = Pyttsx3TTS(TtsConfig(), timeout_s=0.5)
    tts.warmup()
    # The driver never learns that synthesis finished: runAndWait polls forever.
    monkeypatch.setattr(EspeakDriver, "endLoop", lambda self: None)
    with pytest.raises(TtsTimeoutError, match="within 0.5 s"):
        tts.synthesize(SENTENCE)
    monkeypatch.undo()
    hung = pyttsx3_engine._retired[-1]
    assert_speech(tts.synthesize(SENTENCE), 2.5, 7.0)
    assert pyttsx3_engine._worker is not hung
    hung.engine.pyttsx3.proxy._driver.endLoop()  # let the retired thread finish


def test_closed_pyttsx3_handle_refuses():
    tts = Pyttsx3TTS(TtsConfig())
    tts.close()
    with pytest.raises(RuntimeError, match="closed"):
        tts.synthesize(SHORT)


# Piper


@pytest.fixture(scope="module")
def piper_voice() -> PiperTTS:
    pytest.importorskip("piper", reason="piper-tts is not installed (extra .[piper])")
    try:
        tts = PiperTTS(TtsConfig(engine="piper"))
    except ModelMissingError as exc:
        pytest.skip(str(exc))
    tts.warmup()
    return tts


@pytest.mark.slow
def test_piper_speaks_at_its_voice_sample_rate(piper_voice):
    config = json.loads(piper_voice.model_path.with_suffix(".onnx.json").read_text())
    speech = piper_voice.synthesize(SENTENCE)
    assert speech.sample_rate == config["audio"]["sample_rate"] == 22050
    assert_speech(speech, 2.5, 7.0)
    short = piper_voice.synthesize(SHORT)
    assert seconds(speech) > 2.5 * seconds(short)


@pytest.mark.slow
def test_piper_length_scale_changes_pace(piper_voice):
    faster = PiperTTS(TtsConfig(engine="piper", length_scale=0.6))
    fast, normal = faster.synthesize(SENTENCE), piper_voice.synthesize(SENTENCE)
    assert seconds(fast) < 0.8 * seconds(normal)
    assert faster._voice is piper_voice._voice  # one loaded model per process


@pytest.mark.slow
def test_piper_without_variation_says_a_text_the_same_way_every_time(piper_voice):
    steady = PiperTTS(TtsConfig(engine="piper", variation=0))
    assert steady.synthesize(SENTENCE).pcm == steady.synthesize(SENTENCE).pcm
    lively = piper_voice.synthesize(SENTENCE).pcm, piper_voice.synthesize(SENTENCE).pcm
    assert lively[0] != lively[1], "the default keeps Piper's natural variation"


@pytest.mark.slow
def test_piper_from_several_threads(piper_voice):
    with ThreadPoolExecutor(3) as pool:
        speeches = list(
            pool.map(piper_voice.synthesize, ["One.", "Two words.", "Three more words."])
        )
    assert [s.sample_rate for s in speeches] == [22050] * 3
    assert all(rms(s) > 500 for s in speeches)
    assert seconds(speeches[0]) < seconds(speeches[2])


@pytest.mark.slow
def test_piper_empty_text(piper_voice):
    assert piper_voice.synthesize("—") == Speech(b"", 22050)


def test_piper_voice_path_comes_from_models(monkeypatch, tmp_path):
    if importlib.util.find_spec("piper") is None:
        pytest.skip("piper-tts is not installed")
    onnx = tmp_path / "mine.onnx"
    onnx.write_bytes(b"not a model")
    onnx.with_suffix(".onnx.json").write_text("{}")
    seen = []
    real = models.resolve
    monkeypatch.setattr(
        models, "resolve", lambda kind, name: seen.append((kind, name)) or real(kind, name)
    )
    tts = PiperTTS(TtsConfig(engine="piper", piper_voice=str(onnx)))
    assert seen == [("tts", str(onnx))] and tts.model_path == onnx
    with pytest.raises(ModelMissingError, match="cannot load this Piper voice"):
        tts.synthesize(SHORT)
