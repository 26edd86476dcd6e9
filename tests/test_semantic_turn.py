"""Semantic end of turn: Smart Turn's scores, the judge, and paused sentences as one turn."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
from audio_fixtures import SAMPLE_RATE, piper, recording

from benchmarks import report
from benchmarks.e2e import write_wav
from benchmarks.turn_taking import PAUSED, paused_recording, whole
from voice_agent.app import build
from voice_agent.audio.base import Utterance
from voice_agent.audio.turn_judge import SemanticJudge
from voice_agent.audio.turn_model import SmartTurn
from voice_agent.audio.vad import Segmenter, Verdict
from voice_agent.config import PROFILE_NAMES, VadConfig, load_settings
from voice_agent.language.endings import words_unfinished
from voice_agent.models import needed_by, status
from voice_agent.stt import Transcript

LIBRIVOX = "librivox/sense_and_sensibility_01_austen_64kb-{}.wav"
# Real read speech: whole sentences, and sentences cut at a word boundary (seconds into the
# trimmed clip): "He was", "Had he married a more amiable", "he might even have been",
# "Unless to be rather cold-hearted and rather selfish", "And Mr. John Dashwood ... how much".
FINISHED_REAL = [LIBRIVOX.format(c) for c in ("0870", "0890", "0920")] + [
    f"cards/00{i}.wav" for i in (1, 2, 3, 5)
]
UNFINISHED_REAL = [("0880", 0.28), ("0920", 1.55), ("0930", 1.05), ("0890", 3.04), ("0870", 3.94)]


def padded(x: np.ndarray, tail_s: float = 0.2) -> bytes:
    """As the endpointer hands it over: pre-roll, speech, the silence so far."""
    silence = np.zeros(round(tail_s * SAMPLE_RATE), np.int16)
    return np.concatenate([np.zeros(4800, np.int16), x, silence]).tobytes()


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    model = SmartTurn()
    model.load()
    return model


def test_the_model_is_provisioned_and_verified():
    found = status("turn", "smart-turn-v3.2", rehash=True)
    assert found.present, found.detail
    assert found.path.name == "smart-turn-v3.2-cpu.onnx"
    assert found.path.stat().st_size == 8_679_182
    for name in PROFILE_NAMES:
        assert ("turn", "smart-turn-v3.2") in needed_by(load_settings(name))


def test_real_speech_finished_scores_high_and_cut_sentences_low(model):
    finished = [model.probability_finished(padded(recording(c))) for c in FINISHED_REAL]
    cut = [
        model.probability_finished(padded(recording(LIBRIVOX.format(c))[: round(s * SAMPLE_RATE)]))
        for c, s in UNFINISHED_REAL
    ]
    assert min(finished) > 0.8, finished
    assert max(cut) < 0.2, cut


def test_synthetic_finished_commands_score_finished(model, tmp_path):
    scores = [model.probability_finished(padded(piper(f"{a} {b}", tmp_path))) for a, b in PAUSED]
    assert sum(s >= 0.5 for s in scores) >= 9, scores


def test_a_call_takes_well_under_the_pause_it_judges(model):
    pcm = padded(recording("cards/005.wav"))
    model.probability_finished(pcm)
    started = time.perf_counter()
    for _ in range(3):
        model.probability_finished(pcm)
    assert (time.perf_counter() - started) / 3 < 0.5


@pytest.mark.parametrize(
    ("text", "unfinished"),
    [
        ("Remind me to...", True),
        ("What's the weather like in?", True),
        ("Calculate a 15% tip on.", True),
        ("Add bread and", True),
        ("What is 25 times 7?", False),
        ("Set a timer for 12 minutes.", False),
        ("", False),
    ],
)
def test_words_that_stop_short(text, unfinished):
    assert words_unfinished(text) is unfinished


def test_the_judge_hears_dangling_halves_as_unfinished_and_whole_commands_as_finished(
    model, tmp_path
):
    app = build(load_settings("speed"))
    judge = SemanticJudge(model, app.settings.vad, app.hear)
    halves = [a for a, _ in PAUSED if words_unfinished(a)]
    heard = [judge.judge(Utterance(padded(piper(h, tmp_path)), 0, 0, 0, 0)) for h in halves]
    wholes = [f"{a} {b}" for a, b in PAUSED]
    ended = [judge.judge(Utterance(padded(piper(w, tmp_path)), 0, 0, 0, 0)) for w in wholes]
    # Whisper now and then completes a half ("set a timer for it"): one miss is allowed.
    assert sum(not v.finished for v in heard) >= len(halves) - 1, heard
    assert sum(v.finished for v in ended) >= 8, ended
    app.close()


class Sure:
    """A turn model that always hears a finished turn."""

    def probability_finished(self, pcm: bytes) -> float:
        return 0.9


@pytest.mark.parametrize(
    ("text", "logprob", "finished", "reason"),
    [
        ("Set a timer for 12 minutes.", -0.3, True, "finished"),
        ("Commertate.", -1.2, False, "the words are a guess"),  # "convert eight", misheard
        ("Set a timer for", -0.3, False, "the words stop short"),
    ],
)
def test_words_whisper_guessed_do_not_end_a_turn(text, logprob, finished, reason):
    heard = Transcript(text, "en", 1.0, 50.0, (text,), avg_logprob=logprob, no_speech_prob=0.1)
    judge = SemanticJudge(Sure(), VadConfig(), lambda pcm: heard)
    verdict = judge.judge(Utterance(bytes(3200), 0, 0, 0.1, 0.1))
    assert (verdict.finished, verdict.reason, verdict.text) == (finished, reason, text)


class Unsure:
    """A turn model that always hears an unfinished turn (as Smart Turn hears some synthetic
    commands)."""

    def probability_finished(self, pcm: bytes) -> float:
        return 0.1


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("What is the square root of 144?", True),  # computed by a skill
        ("Convert 5 miles to kilometers.", True),
        ("Convert 5 miles.", False),  # the skill asks "to what?"
        ("What time it is?", False),  # "what time is it in… Tokyo", the "in" lost: not tried
        ("Convert 8.", False),
        ("What time is it in", False),  # the words stop short
        ("Who wrote Romeo and Juliet?", False),  # no specialist: the LLM's
        ("And had then leisure to consider how much", False),  # a narrative half sentence
    ],
)
def test_words_a_specialist_answers_whole_end_an_unfinished_sounding_turn_sooner(
    tmp_path, text, whole
):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    heard = Transcript(text, "en", 1.0, 50.0, (text,), avg_logprob=-0.2, no_speech_prob=0.1)
    judge = SemanticJudge(
        Unsure(), app.settings.vad, lambda pcm: heard, app.orchestrator.plan_ahead
    )
    verdict = judge.judge(Utterance(bytes(3200), 0, 0, 0.1, 0.1))
    app.close()
    assert (verdict.finished, verdict.whole) == (False, whole)


class Fixed:
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    def judge(self, utterance: Utterance) -> Verdict:
        return self.verdict


@pytest.mark.parametrize(
    ("verdict", "waits_s"),
    [
        (Verdict(True, 0.9), 0.2),  # asked after turn_check_ms: ends once the answer is in
        (Verdict(False, 0.05, "Convert eight"), 1.5),  # sounds unfinished: turn_max_silence_ms
        (Verdict(False, 0.9, "Set a timer for"), 1.5),  # the words stop short: the same
        # sounds unfinished, but a skill computes its words: end_silence_ms, as silence alone
        (Verdict(False, 0.05, "What is 25 times 7?", whole=True), 0.5),
    ],
)
def test_how_long_a_pause_ends_a_turn_follows_the_verdict(verdict, waits_s):
    talk = np.random.default_rng(0).normal(0, 3000, SAMPLE_RATE // 2).astype(np.int16)
    quiet = np.zeros(2 * SAMPLE_RATE, np.int16)
    data = np.concatenate([quiet[: SAMPLE_RATE // 2], talk, quiet]).tobytes()
    config = VadConfig(end_silence_ms=500, turn_check_ms=200, turn_max_silence_ms=1500)
    segmenter = Segmenter(config, 20, judge=Fixed(verdict))
    frames = (data[i : i + 640] for i in range(0, len(data) - 639, 640))
    (turn,) = segmenter.segment(frames)
    assert turn.end_s - turn.speech_end_s == pytest.approx(waits_s, abs=0.021)


class Recording:
    """Says "finished" at once, and keeps what it was asked and when (stream seconds)."""

    def __init__(self, took_s: float = 0.0, clock: list[float] | None = None) -> None:
        self.asked: list[tuple[float, Utterance]] = []
        self.took_s, self.clock = took_s, clock
        self.segmenter: Segmenter | None = None

    def judge(self, utterance: Utterance) -> Verdict:
        self.asked.append((self.segmenter.now_s, utterance))
        if self.clock is not None:
            self.clock[0] += self.took_s
        return Verdict(True, 0.9, "Set a timer.")


def _frames(*pieces_s: float):
    """Noise and silence in turn (seconds each, noise first) as 20 ms frames."""
    rng, parts = np.random.default_rng(0), []
    for i, seconds in enumerate(pieces_s):
        n = round(seconds * SAMPLE_RATE)
        parts.append(rng.normal(0, 3000, n) if i % 2 == 0 else np.zeros(n))
    data = np.concatenate([np.zeros(SAMPLE_RATE // 2), *parts]).astype(np.int16).tobytes()
    return (data[i : i + 640] for i in range(0, len(data) - 639, 640))


def test_the_words_are_taken_early_and_the_turn_ends_at_turn_check_ms():
    """Transcribing takes longer than the wait: it starts at speculate_ms, on the turn as it
    will be at turn_check_ms if the pause goes on; a finished verdict ends it only then."""
    config = VadConfig(speculate_ms=80, turn_check_ms=200, turn_max_silence_ms=1500)
    judge = Recording()
    segmenter = judge.segmenter = Segmenter(config, 20, judge=judge)
    (turn,) = segmenter.segment(_frames(0.5, 2.0))
    ((asked_s, heard),) = judge.asked
    assert asked_s - turn.speech_end_s == pytest.approx(0.08, abs=0.001)
    assert heard.end_s - heard.speech_end_s == pytest.approx(0.2, abs=0.001)
    assert np.all(np.frombuffer(heard.pcm, "<i2")[-SAMPLE_RATE // 5 :] == 0)
    assert turn.end_s - turn.speech_end_s == pytest.approx(0.2, abs=0.001)
    assert turn.judged is not None and turn.judged.verdict().text == "Set a timer."


def test_a_file_judge_still_busy_with_a_dropped_pause_delays_the_next(monkeypatch):
    """Live, the judge has one thread: a pause's judgement that speech then dropped holds it,
    and the next pause's answer waits for it. Files are timed as if live."""
    import voice_agent.audio.vad as vad

    clock = [0.0]
    monkeypatch.setattr(vad, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    config = VadConfig(speculate_ms=80, turn_check_ms=200, turn_max_silence_ms=1500)
    judge = Recording(took_s=0.3, clock=clock)
    segmenter = judge.segmenter = Segmenter(config, 20, judge=judge)
    # A 100 ms pause (asked at 80 ms, dropped), 100 ms more speech, then the real pause.
    (turn,) = segmenter.segment(_frames(0.5, 0.1, 0.1, 2.0))
    (first_s, _), (second_s, _) = judge.asked
    assert second_s - first_s < 0.3  # asked while the first answer was still being made
    assert turn.end_s == pytest.approx(first_s + 0.6, abs=0.021)  # after both, in turn


@pytest.fixture(scope="module")
def paused(tmp_path_factory):
    """Ten sentences with a 500-800 ms pause inside, in three voices, 6 s apart: one WAV."""
    samples, truth = paused_recording()
    return samples, truth, write_wav(samples, tmp_path_factory.mktemp("paused") / "paused.wav")


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_paused_sentences_are_answered_as_one_turn(profile, paused, tmp_path):
    """Through `run --input`, every sentence answered by a skill (no LLM, no network)."""
    _, truth, wav = paused
    (tmp_path / "files" / "notes").mkdir(parents=True)
    (tmp_path / "files" / "notes" / "groceries.txt").write_text("milk\n")
    sets = [
        "audio.barge_in=true",  # a cut sentence's second half is heard, as a turn of its own
        "llm.warmup=false",
        "llm.model=smollm2-135m",  # loaded only if a transcript goes wrong
        f"store.path={tmp_path / 'va.db'}",
        f"agents.files_root={tmp_path / 'files'}",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent", "run", "--input", str(wav), "--json"]
        + ["--profile", profile, *(a for s in sets for a in ("--set", s))],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    turns = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    heard = [(t["transcript"], t["speech_start_s"], t["speech_end_s"]) for t in turns]
    assert whole(turns, truth) >= 9, heard


def test_without_semantic_turn_silence_alone_ends_turns(paused):
    """The old behaviour: speed's 300 ms end silence splits every 500-800 ms pause."""
    samples, truth, _ = paused
    settings = load_settings("speed", ["vad.semantic_turn=false", "stt.speculative=false"])
    segmenter = build(settings).segmenter()
    assert segmenter.judge is None
    data = samples.astype("<i2").tobytes()
    step = segmenter.frame_bytes
    frames = (data[i : i + step] for i in range(0, len(data) - step + 1, step))
    found = list(segmenter.segment(frames))
    assert len(found) == 2 * len(truth)
    assert all(u.end_s - u.speech_end_s == pytest.approx(0.3, abs=0.021) for u in found)


def test_turn_settings_are_checked():
    with pytest.raises(ValueError, match="turn_check_ms"):
        VadConfig(turn_check_ms=800, turn_max_silence_ms=600)


def test_the_bench_report_shows_turn_taking_per_profile():
    row = {
        "on": {"p50_ms": 480.0, "p90_ms": 610.0, "n": 24},
        "off": {"p50_ms": 760.0, "p90_ms": 905.0, "n": 24},
        "ratio": 480 / 760,
        "paused": 10,
        "cut_off": 1,
        "judge_cuts": 2,
    }
    text = report.markdown(
        {"turn_taking": {"profiles": {"speed": row}}}, report.meta(True, {}), [], []
    )
    assert "## Turn-taking (semantic end of turn, speculative transcription)" in text
    assert "| speed | 480 / 610 | 760 / 905 | 0.63 | 1 of 10 | 2 of 10 |" in text
    assert "speed 500 ms, balanced 800 ms, quality 1100 ms; on/off ≤ 0.7" in text


def test_the_length_cap_does_not_cut_a_turn_in_its_closing_silence():
    """0.5 s of talk (0.8 s with the pre-roll) with a 1 s cap and a 0.8 s end of turn: the
    cap falls in the silence after it, where a cut would hand over a part of silence (which
    Whisper turns into words of its own); the turn ends whole."""
    talk = np.random.default_rng(0).normal(0, 3000, SAMPLE_RATE // 2).astype(np.int16)
    quiet = np.zeros(round(1.5 * SAMPLE_RATE), np.int16)
    data = np.concatenate([quiet[: SAMPLE_RATE // 2], talk, quiet]).tobytes()
    config = VadConfig(max_utterance_s=1.0, end_silence_ms=800, semantic_turn=False)
    segmenter = Segmenter(config, 20)
    frames = (data[i : i + 640] for i in range(0, len(data) - 639, 640))
    (turn,) = segmenter.segment(frames)
    assert not turn.truncated
    assert turn.speech_end_s == pytest.approx(1.0, abs=0.05)
    assert turn.end_s - turn.speech_end_s == pytest.approx(0.8, abs=0.021)
