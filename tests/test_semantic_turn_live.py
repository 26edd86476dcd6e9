"""The live path: a sentence with a 700 ms pause inside, played into a PulseAudio null sink
(the microphone), is one turn with semantic end of turn on, and two halves with it off."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from audio_fixtures import SAMPLE_RATE, espeak, layout, write_wav
from pulse import play_into_mic

from voice_agent.app import build
from voice_agent.audio.capture import PyAudioSource
from voice_agent.audio.playback import PyAudioSink
from voice_agent.config import load_settings
from voice_agent.events import Transcribed, TurnFinished
from voice_agent.turn import Turn
from voice_agent.voice_loop import VoiceLoop

pytestmark = pytest.mark.slow
QUIET_S = 3.0  # after a turn is heard, how long no other may come


@pytest.fixture
def paused_question(tmp_path):
    first, second = (espeak(text, tmp_path) for text in ("what is twenty five times", "seven"))
    sentence = np.concatenate([first, np.zeros(round(0.7 * SAMPLE_RATE), np.int16), second])
    return write_wav(layout([sentence], [0.3], tail_s=2.0).pcm, tmp_path / "paused.wav")


def live_turns(wav, tmp_path, *overrides: str) -> tuple[list[str], list[Turn]]:
    """Play `wav` into the microphone of a listening assistant (speed profile): what it heard
    as turns (their transcripts) and the turns it finished, once QUIET_S has passed after
    the last one was heard."""
    settings = load_settings(
        "speed",
        [f"store.path={tmp_path / 'db'}", "llm.warmup=false", "llm.model=smollm2-135m", *overrides],
    )
    assistant = build(settings)
    heard: list[str] = []
    done: list[Turn] = []
    news = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, Transcribed):
            heard.append(event.text)
            news.set()
        if isinstance(event, TurnFinished):
            done.append(event.turn)
            news.set()

    loop = VoiceLoop(assistant, on_event=on_event)
    loop.warmup()
    source = PyAudioSource.from_config(settings.audio)
    stop = threading.Event()
    args = (source, PyAudioSink(), stop)
    listener = threading.Thread(target=loop.run_live, args=args, daemon=True)
    listener.start()
    try:
        time.sleep(0.5)
        play_into_mic(wav)
        assert news.wait(60), "a turn heard within a minute"
        while True:  # until nothing new for QUIET_S
            news.clear()
            if not news.wait(QUIET_S):
                break
    finally:
        stop.set()
        source.close()
        listener.join(timeout=10)
        assistant.close()
    return heard, done


def test_a_paused_sentence_is_one_turn_live(pulse, paused_question, tmp_path):
    heard, turns = live_turns(paused_question, tmp_path)
    assert len(heard) == len(turns) == 1, heard
    assert "175" in turns[0].answer, (heard, turns[0].answer)
    # The turn was not ended in the pause: it waited for the rest, then ended.
    assert 0 < turns[0].timings["end_of_turn_ms"] <= 1200 + 100


def test_without_semantic_turn_the_pause_ends_the_turn_live(pulse, paused_question, tmp_path):
    heard, _ = live_turns(paused_question, tmp_path, "vad.semantic_turn=false")
    # 300 ms of silence ended a turn in the 700 ms pause: the half was a turn of its own,
    # without "seven" (which, said while it was being answered, cuts that answer short).
    assert "times" in heard[0].lower() and "seven" not in heard[0].lower(), heard
    assert "7" not in heard[0], heard
