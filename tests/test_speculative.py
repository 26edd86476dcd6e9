"""Speculative transcription: the pause's transcript is dropped when speech resumes, used
when the turn ends there; and nothing is done (no timer set) until the turn is final."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.e2e import write_wav
from benchmarks.speech import PAD_S, speak
from voice_agent.app import build
from voice_agent.audio.capture import FileSource
from voice_agent.config import load_settings
from voice_agent.voice_loop import VoiceLoop

RATE = 16000


class CountingSTT:
    """The profile's real Whisper, counting the calls made to it."""

    def __init__(self, stt):
        self.stt, self.texts = stt, []

    def transcribe(self, pcm, context=None):
        found = self.stt.transcribe(pcm, context)
        self.texts.append(found.text)
        return found

    def __getattr__(self, name):
        return getattr(self.stt, name)


@pytest.mark.parametrize("semantic", [True, False])
def test_the_paused_half_is_dropped_and_the_whole_is_used_and_acted_on_once(semantic, tmp_path):
    pad = round(PAD_S * RATE)
    first, second = (speak(t, "piper")[pad:-pad] for t in ("set a timer for", "twelve minutes"))
    pause = np.zeros(round(0.25 * RATE), np.int16)  # past turn_check_ms, below end_silence_ms
    silence = np.zeros(RATE, np.int16)
    wav = write_wav(
        np.concatenate([silence, first, pause, second, 2 * silence]), tmp_path / "t.wav"
    )
    overrides = [f"vad.semantic_turn={str(semantic).lower()}", "stt.speculative=true"]
    app = build(load_settings("speed", overrides))
    counting = CountingSTT(app.stt)
    app._stt = counting
    after_the_end = []
    app.transcribe = lambda pcm, context=None: after_the_end.append(pcm)
    turns = VoiceLoop(app).run_file(FileSource(wav, app.settings.audio.frame_ms))
    assert len(turns) == 1
    assert "12 minutes" in turns[0].answer, turns[0].answer
    # The half was transcribed in its pause and dropped; the whole was transcribed in the
    # pause after it (again if a trailing sound moved that pause on), and that transcript is
    # the turn's: no pass after the turn ended.
    assert any("12" not in text and "twelve" not in text.lower() for text in counting.texts)
    assert counting.texts[-1] == turns[0].transcript
    assert after_the_end == []
    # Only the final turn set a timer.
    listed = app.ask("list my timers").answer
    assert listed.startswith("You have a 12 minute timer"), listed
    assert listed.count("timer") == 1, listed
    app.close()
