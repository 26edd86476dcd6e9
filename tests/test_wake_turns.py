"""The wake word with the rest of turn-taking: while it answers, the user is in
conversation (talking over the reply stops it, with or without the wake word, and is the
next request), the assistant saying "hey jarvis" itself opens nothing, and a recording with
speech but no request says so.

Replies come back into the microphone at gain 0.5 after 60 ms (`--simulate-echo`), as from a
loudspeaker beside it."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import espeak, layout, piper, write_wav
from stages import cli
from test_echo import run_with_echo

pytestmark = pytest.mark.slow

WAKE = ["wake.enabled=true"]


def test_talking_over_a_reply_stops_it_and_is_the_next_request(tmp_path):
    ask = espeak("hey jarvis, what can you do", tmp_path)  # a reply of about 35 s
    over = piper("what time is it in tokyo", tmp_path)
    later = espeak("what is two plus two", tmp_path)  # after the follow-up window
    stream = layout([ask, over, later], [1.0, 6.0, 14.0], tail_s=3.0)
    wav = write_wav(stream.pcm, tmp_path / "over.wav")
    turns, barge_ins, timeline = run_with_echo(wav, tmp_path, "speed", WAKE)
    user_start = stream.truth[1][0]
    assert len(barge_ins) == 1 and 0 <= barge_ins[0] - user_start <= 0.3, barge_ins
    first, second = turns
    assert first.interrupted and first.reply_end_s - user_start <= 0.3
    assert "tokyo" in second.transcript.lower() and "Tokyo" in second.answer
    assert timeline[-1].end_s + 5.0 < stream.truth[2][0]  # so "two plus two" was not heard


def test_its_own_reply_saying_the_wake_word_opens_nothing(tmp_path):
    """Half-duplex without echo cancellation: its whole reply comes back into the microphone,
    and still speech after the follow-up window is not let in by the reply's "hey jarvis"."""
    notes = tmp_path / "files" / "notes"  # the files sandbox of this test's home
    notes.mkdir(parents=True)
    (notes / "groceries.txt").write_text("Hey Jarvis. Hey Jarvis, hello.\n")
    ask = espeak("hey jarvis, read my groceries note", tmp_path)
    later = espeak("what is two plus two", tmp_path)
    stream = layout([ask, later], [1.0, 14.0], tail_s=3.0)
    wav = write_wav(stream.pcm, tmp_path / "says-it.wav")
    sets = [*WAKE, "audio.barge_in=false", "audio.echo_cancellation=false"]
    turns, barge_ins, timeline = run_with_echo(wav, tmp_path, "speed", sets)
    assert barge_ins == [] and len(turns) == 1, [t.transcript for t in turns]
    assert "hey jarvis" in turns[0].answer.lower() and not turns[0].interrupted
    assert timeline[-1].end_s + 5.0 < stream.truth[1][0]  # the window had closed
    assert max(np.abs(r.samples).max() for r in timeline) > 8000  # loud enough to be heard


def test_a_recording_with_speech_but_no_request_says_so(tmp_path):
    pieces = [espeak("what time is it", tmp_path), espeak("set a timer for ten minutes", tmp_path)]
    wav = write_wav(layout(pieces, [1.0, 2.0], 1.0).pcm, tmp_path / "none.wav")
    done = cli("run", "--input", str(wav), "--profile", "speed", "--set", "wake.enabled=true")
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "no request" in lines[0] and "2 utterances" in lines[0] and "hey jarvis" in lines[0]
    assert "no speech" not in lines[0]
