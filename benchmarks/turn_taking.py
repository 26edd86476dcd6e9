"""Turn-taking: how soon the reply starts, and how often a paused sentence is cut in two.

Per profile, in one process: each spoken command of the e2e bench runs through the voice
loop with the new turn-taking (semantic end of turn + speculative transcription) and
without it (silence alone, transcription after the end); end of speech → first reply
audio p50/p90 for both, and their ratio. Then the paused sentences: each is two halves
spoken separately with 500-800 ms of silence between them ("Convert eight" … "ounces to
grams"); a cut-off is a sentence answered as two turns. `judge_cuts` counts the halves
the judge alone calls finished: the cut-offs a machine fast enough to judge within the
pause would have (the run's own count also depends on how fast the judge was here).

Run: .venv/bin/python -m benchmarks.turn_taking [--quick] [--profile speed]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.metrics import percentile

SAMPLE_RATE = 16000
# Sentences with a pause where people hesitate: before the number, the unit, the place,
# the thing. Varied agents; every one answered by a skill, without the LLM or the network
# (short, deterministic replies).
PAUSED = (
    ("convert eight", "ounces to grams"),
    ("remember that the plumber comes on", "Thursday morning"),
    ("set a timer for", "twelve minutes"),
    ("what is twenty five times", "seven"),
    ("how many days are there until", "Christmas"),
    ("calculate a fifteen percent tip on", "forty five dollars"),
    ("what time is it in", "Tokyo"),
    ("convert five miles", "to kilometers"),
    ("add bread and", "butter to my groceries note"),
    ("what is the square root of", "one hundred and sixty nine"),
)
PAUSES_S = (0.5, 0.6, 0.7, 0.8)
VOICES = ("espeak", "piper", "espeak_f3")
GAP_S = 6.0  # between sentences: room for the reply (barge-in is on for the run)
OFF = ("vad.semantic_turn=false", "stt.speculative=false")
# Issue 11's targets on this 2-core machine: first audio medians with the new turn-taking.
TARGET_P50_MS = {"speed": 500, "balanced": 800, "quality": 1100}
TARGET_RATIO = 0.7  # on / off


def paused_recording(count: int = len(PAUSED)) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The first `count` paused sentences, voices and pauses in turn, GAP_S apart; with the
    true (start_s, end_s) of each whole sentence (its first half's start, second's end)."""
    from benchmarks.speech import PAD_S, speak

    pieces, truth, at = [np.zeros(SAMPLE_RATE, np.int16)], [], SAMPLE_RATE
    for i, (first, second) in enumerate(PAUSED[:count]):
        voice = VOICES[i % len(VOICES)]
        pad = round(PAD_S * SAMPLE_RATE)  # speak() pads both sides: trim to the speech
        a, b = speak(first, voice)[pad:-pad], speak(second, voice)[pad:-pad]
        pause = np.zeros(round(PAUSES_S[i % len(PAUSES_S)] * SAMPLE_RATE), np.int16)
        sentence = np.concatenate([a, pause, b])
        truth.append((at / SAMPLE_RATE, (at + len(sentence)) / SAMPLE_RATE))
        pieces += [sentence, np.zeros(round(GAP_S * SAMPLE_RATE), np.int16)]
        at += len(sentence) + len(pieces[-1])
    return np.concatenate(pieces), truth


def whole(turns: list[dict], truth: list[tuple[float, float]], slack_s: float = 0.3) -> int:
    """Sentences heard as one turn: one turn spans the sentence, and no other turn is in it."""
    count = 0
    for start, end in truth:
        inside = [
            t for t in turns if t["speech_end_s"] > start - slack_s and t["speech_start_s"] < end
        ]
        count += len(inside) == 1 and inside[0]["speech_end_s"] >= end - slack_s
    return count


def _run(app, wav: Path) -> list[dict]:
    """The recording's turns. Silence follows it for as long as either mode's endpointer can
    wait: the turn must end where the endpointer decides, not where the file does (a file's
    end closes the turn at once, which made silence-only turns look 200 ms faster)."""
    from voice_agent.audio.capture import FileSource
    from voice_agent.voice_loop import VoiceLoop

    settings = app.settings
    tail_ms = max(settings.vad.end_silence_ms, settings.vad.turn_max_silence_ms) + 500
    source = FileSource(wav, settings.audio.frame_ms, trailing_silence_ms=tail_ms)
    app.settle()  # the user listened to the last reply: what follows a turn has finished
    return [t.to_dict() for t in VoiceLoop(app).run_file(source)]


def _summary(values: list[float]) -> dict:
    return {
        "p50_ms": statistics.median(values) if values else None,
        "p90_ms": percentile(values, 90) if values else None,
        "n": len(values),
    }


def measure_profile(profile: str, quick: bool) -> dict:
    from benchmarks.e2e import load_commands, write_wav
    from benchmarks.speech import speak
    from voice_agent.app import build
    from voice_agent.audio.base import Utterance
    from voice_agent.config import load_settings

    work = Path(tempfile.mkdtemp(prefix="va-turns-"))
    (work / "files" / "notes").mkdir(parents=True)
    (work / "files" / "notes" / "groceries.txt").write_text("milk\n")
    base = [f"store.path={work / 'va.db'}", f"agents.files_root={work / 'files'}"]
    result: dict = {"profile": profile}
    commands = load_commands(quick)
    for mode, extra in (("on", ()), ("off", OFF)):
        settings = load_settings(profile, [*base, *extra])
        app = build(settings)
        app.warmup(voice=True)
        first_audio = []
        for command in commands:
            wav = write_wav(speak(command["text"], command["voice"]), work / "command.wav")
            for turn in _run(app, wav)[:1]:
                if turn["timings"].get("first_audio_ms") is not None:
                    first_audio.append(turn["timings"]["first_audio_ms"])
        result[mode] = _summary(first_audio)
        if mode == "on":
            samples, truth = paused_recording(4 if quick else len(PAUSED))
            wav = write_wav(samples, work / "paused.wav")
            app.settings.audio.barge_in = True  # a cut sentence's second half is a turn
            turns = _run(app, wav)
            result["paused"] = len(truth)
            result["cut_off"] = len(truth) - whole(turns, truth)
            judge = app.segmenter().judge
            result["judge_cuts"] = sum(
                judge.judge(Utterance(speak(first, VOICES[i % 3]).tobytes(), 0, 0, 0, 0)).finished
                for i, (first, _) in enumerate(PAUSED[: len(truth)])
            )
        app.close()
    on, off = result["on"]["p50_ms"], result["off"]["p50_ms"]
    result["ratio"] = on / off if on and off else None
    return result


def run(quick: bool, progress=None) -> dict:
    from voice_agent.config import PROFILE_NAMES

    task = progress.add_task("turn-taking", total=len(PROFILE_NAMES)) if progress else None
    profiles = {}
    for profile in PROFILE_NAMES:
        profiles[profile] = measure_profile(profile, quick)
        if progress:
            progress.advance(task)
    return {"profiles": profiles}


def _p50_p90(summary: dict) -> str:
    p50, p90 = summary["p50_ms"], summary["p90_ms"]
    return "–" if p50 is None else f"{p50:.0f} / {p90:.0f}"


def markdown(section: dict) -> list[str]:
    lines = [
        "End of speech → first reply audio on the spoken commands, with the new turn-taking "
        "(semantic end of turn and speculative transcription) on and off, in one run; "
        "cut-offs: paused sentences (a 500-800 ms pause inside) answered as two turns; "
        "judge alone: first halves the judge calls finished. Targets: on p50 ≤ "
        + ", ".join(f"{name} {ms} ms" for name, ms in TARGET_P50_MS.items())
        + f"; on/off ≤ {TARGET_RATIO}; cut-offs ≤ 1 in 10.",
        "",
        "| profile | on p50 / p90 (ms) | off p50 / p90 (ms) | on/off | cut-offs | judge alone |",
        "|---|---|---|---|---|---|",
    ]
    for name, p in section["profiles"].items():
        ratio = "–" if p["ratio"] is None else f"{p['ratio']:.2f}"
        lines.append(
            f"| {name} | {_p50_p90(p['on'])} | {_p50_p90(p['off'])} | {ratio} "
            f"| {p['cut_off']} of {p['paused']} | {p['judge_cuts']} of {p['paused']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="one profile (default: all)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.profile:
        print(json.dumps(measure_profile(args.profile, args.quick)))
    else:
        print("\n".join(markdown(run(args.quick))))


if __name__ == "__main__":
    main()
