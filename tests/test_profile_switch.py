"""A spoken or typed profile switch rebuilds every stage the new profile changes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from audio_fixtures import espeak, layout, write_wav
from stages import ScriptedLLM

from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.events import StateChanged, TurnFinished

pytestmark = pytest.mark.slow


class ClosingLLM(ScriptedLLM):
    closed = False

    def close(self) -> None:
        self.closed = True


def test_switch_rebuilds_stt_tts_endpointer_router_and_llm(tmp_path):
    app = build(load_settings("balanced", [f"store.path={tmp_path / 'db'}"]))
    old_stt, old_tts, old_llm = app.stt, app.tts, ClosingLLM()
    app._llm = old_llm
    events = list(app.turn("switch to the speed profile"))
    finished = next(i for i, e in enumerate(events) if isinstance(e, TurnFinished))
    assert events[finished].turn.profile == "balanced", "the turn belongs to the old profile"
    assert events[finished].turn.steps[0].result.actions, "the switch is an action on the result"
    switched = events[finished + 1]
    assert isinstance(switched, StateChanged) and switched.profile == "speed"
    assert app.settings.name == "speed" and app.version == 1
    assert app.stt is not old_stt and app.stt.config.model == "tiny.en"
    assert app.tts is not old_tts and app.tts._rate == 220
    # Speed's end of turn: asked after 160 ms, at most 1.2 s (balanced: 200 ms, 1.5 s).
    segmenter = app.segmenter()
    assert (segmenter._check, segmenter._end_silence) == (160 // 20, 1200 // 20)
    assert app.router.strategy == "rules_only"
    assert old_llm.closed and app._llm is None
    assert "already" in app.ask("use the speed profile").answer
    app.close()


def test_spoken_switch_in_run_input_answers_the_next_command_with_the_new_profile(tmp_path):
    pieces = [
        espeak("switch to the speed profile", tmp_path),
        espeak("what is twenty five times seven", tmp_path),
    ]
    wav = write_wav(layout(pieces, [0.5, 4.0], tail_s=1.5).pcm, tmp_path / "switch.wav")
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent", "run", "--input", str(wav), "--json"]
        + ["--profile", "balanced", "--set", f"store.path={tmp_path / 'db'}"]
        + ["--set", "llm.warmup=false"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    turns = [json.loads(line) for line in done.stdout.splitlines()]
    assert [t["profile"] for t in turns] == ["balanced", "speed"]
    assert turns[0]["agent"] == "system" and "speed" in turns[0]["answer"]
    assert turns[1]["agent"] == "utility" and "175" in turns[1]["answer"]
