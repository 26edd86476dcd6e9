"""The real pyaudio path: a question played into a PulseAudio null sink is heard and answered."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from audio_fixtures import espeak, layout, write_wav
from pulse import play_into_mic

from voice_agent.app import build
from voice_agent.audio.capture import PyAudioSource
from voice_agent.audio.playback import PyAudioSink
from voice_agent.config import load_settings
from voice_agent.events import TurnFinished
from voice_agent.turn import Turn
from voice_agent.voice_loop import VoiceLoop

pytestmark = pytest.mark.slow


class RecordingSpeaker(PyAudioSink):
    """The real speaker, also keeping what it played so the test can check it."""

    def __init__(self) -> None:
        super().__init__()
        self.played: list[np.ndarray] = []

    def play(self, pcm: bytes, sample_rate: int) -> None:
        self.played.append(np.frombuffer(pcm, dtype=np.int16))
        super().play(pcm, sample_rate)


def test_spoken_question_through_the_microphone_is_answered_aloud(pulse, tmp_path):
    question = layout([espeak("what is twenty five times seven", tmp_path)], [0.3], tail_s=1.0)
    wav = write_wav(question.pcm, tmp_path / "question.wav")
    settings = load_settings("speed", [f"store.path={tmp_path / 'db'}"])
    assistant = build(settings)
    done: list[Turn] = []
    finished = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, TurnFinished):
            done.append(event.turn)
            finished.set()

    loop = VoiceLoop(assistant, on_event=on_event)
    loop.warmup()
    source = PyAudioSource.from_config(settings.audio)
    speaker = RecordingSpeaker()
    stop = threading.Event()
    listener = threading.Thread(target=loop.run_live, args=(source, speaker, stop), daemon=True)
    listener.start()
    try:
        time.sleep(0.5)
        play_into_mic(wav)
        assert finished.wait(60), "the loop answered within a minute"
        deadline = time.monotonic() + 10
        while not speaker.played and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        source.close()
        listener.join(timeout=10)
        assistant.close()
    turn = done[0]
    assert "25" in turn.transcript or "twenty" in turn.transcript.lower(), turn.transcript
    assert turn.agent == "utility"
    assert "175" in turn.answer
    reply = np.concatenate(speaker.played)
    assert len(reply) > 22050 * 0.5 and np.abs(reply).max() > 1000, "the answer was spoken"
    assert turn.timings["first_audio_ms"] > turn.timings["stt_ms"] > 0
