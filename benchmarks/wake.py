"""Wake word: false wakes in an hour of speech without it, and how reliably "hey jarvis" wakes
it and lets the request after it in.

The hour: every sentence of the routing, actions and facts sets (none holds the wake word),
spoken in turn by espeak-ng voices at three speeds and by the Piper voice, with the real
recordings of pocketsphinx-testdata among them, 0.2-1.2 s apart, until it lasts an hour (a
quick run: six minutes). It is fed to openWakeWord (the default `hey_jarvis`, threshold from
the balanced profile) in 20 ms frames, as a microphone would be: every detection is a false
wake (target: at most 1 per hour).

The wake phrases: "hey jarvis" in each voice, then a command after 0.15 s (one breath) or
0.8 s (a pause), each between sentences of other speech. Through the balanced profile's
endpointer (silence only: no models) and the wake gate, as `listen` hears them: the share
detected (before the command ends), the delay from the end of the wake word to its
detection, and the share of requests let in from the right place (the gate's cut lies
between the wake word and the command); other speech let in is counted too (target 0).

Run: .venv/bin/python -m benchmarks.wake [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.metrics import percentile
from benchmarks.speech import PAD_S, SAMPLE_RATE, VOICES, speak, track
from benchmarks.stt_bench import POCKETSPHINX, RECORDINGS, recordings

DATA = Path(__file__).parent / "data"
WORD = "hey_jarvis"
HOUR_S = 3600.0
QUICK_S = 360.0
GAPS_S = (0.2, 1.2)  # between the sentences of the hour, uniformly
ESPEAK_VOICES = ("en-us", "en-us+m3", "en-us+m7", "en+f3", "en+f4", "en-gb-x-rp")
SPEEDS = (150, 180, 210)  # words per minute
PIPER_EVERY = 6  # one sentence in this many is Piper's, the rest cycle through espeak-ng
PAUSES_S = {"one breath": 0.15, "pause": 0.8}
COMMANDS = (
    "how long is left on my timer",
    "what is twenty five times four",
    "what's the weather in Paris tomorrow",
)
QUICK_VOICES = 4
SEED = 7


def _voices(quick: bool) -> list[str]:
    """Names in benchmarks.speech.VOICES: the espeak-ng voices at each speed, and Piper."""
    from voice_agent.config import TtsConfig

    names = []
    for voice, wpm in itertools.product(ESPEAK_VOICES, SPEEDS):
        name = f"espeak {voice} {wpm}"
        VOICES.setdefault(name, TtsConfig(engine="pyttsx3", rate=wpm, voice=voice))
        names.append(name)
    names = names[:: len(names) // QUICK_VOICES] if quick else names
    return [*names, "piper"]


def _said(text: str, voice: str) -> np.ndarray:
    """`text` in `voice`, without the padding speak() adds: starts and ends with speech."""
    pad = round(PAD_S * SAMPLE_RATE)
    return speak(text, voice)[pad:-pad]


def _sentences() -> list[str]:
    rows = [json.loads(line) for name in ("routing", "actions") for line in _lines(name)]
    texts = [row["text"] for row in rows]
    texts += [json.loads(line)["question"] for line in _lines("facts")]
    assert not any("jarvis" in text.lower() for text in texts)
    return texts


def _lines(name: str) -> list[str]:
    return [line for line in (DATA / f"{name}.jsonl").read_text().splitlines() if line.strip()]


def _hour(length_s: float, voices: list[str], progress) -> Iterator[tuple[str, np.ndarray]]:
    """(what, audio) pieces of speech without the wake word, silence between them included,
    until `length_s`: sentences in turn by the espeak-ng voices and Piper, real clips among
    them."""
    rng = random.Random(SEED)
    espeak = [v for v in voices if v != "piper"]
    real = [
        clip.audio
        for listing in RECORDINGS.values()
        if (POCKETSPHINX / listing).exists()
        for clip in recordings(POCKETSPHINX / listing, None)
    ]
    texts = _sentences()
    real_every = len(texts) // max(1, len(real))  # each clip about once per pass
    total, n = 0.0, 0
    task = progress.add_task("wake: an hour of speech", total=round(length_s)) if progress else None
    for text in itertools.cycle(texts):
        voice = "piper" if n % PIPER_EVERY == 0 else espeak[n % len(espeak)]
        pieces = [(f"{voice}: {text}", _said(text, voice))]
        if real and n % real_every == 0:
            pieces.append(("a real recording", real[(n // real_every) % len(real)]))
        for what, audio in pieces:
            gap = np.zeros(round(rng.uniform(*GAPS_S) * SAMPLE_RATE), np.int16)
            piece = np.concatenate([gap, audio])
            yield what, piece
            total += len(piece) / SAMPLE_RATE
            if progress:
                progress.update(task, completed=min(round(total), round(length_s)))
        n += 1
        if total >= length_s:
            break
    if progress:
        progress.remove_task(task)


def false_wakes(quick: bool, threshold: float, progress=None) -> dict:
    from voice_agent.wake.openwakeword import OpenWakeWordDetector

    detector = OpenWakeWordDetector([WORD], threshold)
    woken: list[dict] = []
    heard_s = 0.0
    try:
        for what, piece in _hour(QUICK_S if quick else HOUR_S, _voices(quick), progress):
            data = piece.astype("<i2").tobytes()
            for i in range(0, len(data), 640):
                for detection in detector.feed(data[i : i + 640]):
                    woken.append({"at_s": round(detection.at_s, 1), "during": what})
            heard_s += len(piece) / SAMPLE_RATE
    finally:
        detector.close()
    return {
        "speech_s": round(heard_s),
        "false_wakes": len(woken),
        "per_hour": round(len(woken) * 3600 / heard_s, 2),
        "examples": woken[:10],
    }


def wake_phrases(quick: bool, settings, progress=None) -> dict:
    """Each voice says the wake word and a command, with each pause, between other speech."""
    from voice_agent.audio.vad import Segmenter
    from voice_agent.events import WakeDetected
    from voice_agent.wake.gate import WakeGate
    from voice_agent.wake.openwakeword import OpenWakeWordDetector

    voices = _voices(quick)
    others = iter(_sentences()[::7])
    cases = list(itertools.product(voices, PAUSES_S, COMMANDS[:1] if quick else COMMANDS))
    stream: list[np.ndarray] = []
    truth = []  # per case: (voice, pause, wake word start, its end, command start, end), in s
    at = 0
    for voice, pause, command in track(cases, "wake: saying hey jarvis", progress):
        wake = _said("Hey Jarvis.", voice) if voice == "piper" else _said("hey jarvis", voice)
        other = _said(next(others), "espeak" if voice == "piper" else "piper")
        quiet = np.zeros(round((settings.wake.follow_up_s + 1) * SAMPLE_RATE), np.int16)
        before = [quiet, other, np.zeros(2 * SAMPLE_RATE, np.int16)]
        pause_pcm = np.zeros(round(PAUSES_S[pause] * SAMPLE_RATE), np.int16)
        start = at + sum(map(len, before))
        said = _said(command, voice)
        parts = [*before, wake, pause_pcm, said, np.zeros(round(1.5 * SAMPLE_RATE), np.int16)]
        ends = (start, start + len(wake), start + len(wake) + len(pause_pcm))
        ends += (ends[-1] + len(said),)
        truth.append((voice, pause, *(s / SAMPLE_RATE for s in ends)))
        stream += parts
        at += sum(map(len, parts))

    detections: list[float] = []
    # An admitted request keeps the gate open until its answer ends (`open`), here at once;
    # the other speech starts after the follow-up window that opens then.
    gate = WakeGate(
        OpenWakeWordDetector([WORD], settings.wake.threshold),
        [WORD],
        settings.wake.follow_up_s,
        lambda event: detections.append(event.at_s) if isinstance(event, WakeDetected) else None,
    )
    segmenter = Segmenter(
        settings.vad.model_copy(update={"semantic_turn": False}), settings.audio.frame_ms
    )
    requests = []  # where each admitted request starts
    data = np.concatenate(stream).astype("<i2").tobytes()
    frame = SAMPLE_RATE * segmenter.frame_ms // 1000 * 2
    for i in range(0, len(data) - frame + 1, frame):
        gate.hear(data[i : i + frame])
        for utterance in segmenter.feed(data[i : i + frame]):
            request = gate.admit(utterance)
            if request is not None:
                requests.append(request.start_s)
                gate.open()
    gate.close()

    rows = {pause: {"heard": [], "delay": [], "right": []} for pause in PAUSES_S}
    right_requests, missed = set(), set()
    for voice, pause, wake_start, wake_end, command_start, command_end in truth:
        found = [d for d in detections if wake_start <= d <= command_end]
        rows[pause]["heard"].append(bool(found))
        rows[pause]["delay"] += [(found[0] - wake_end) * 1000] if found else []
        if not found:
            missed.add(voice)
        right = {r for r in requests if wake_end - 0.05 <= r <= command_start + 0.05}
        rows[pause]["right"].append(bool(right))
        right_requests |= right
    return {
        "voices": len(voices),
        "by_pause": {
            pause: {
                "phrases": len(row["heard"]),
                "detected": round(float(np.mean(row["heard"])), 3),
                "delay_p50_ms": percentile(row["delay"], 50) if row["delay"] else None,
                "delay_p90_ms": percentile(row["delay"], 90) if row["delay"] else None,
                "requests_let_in_right": round(float(np.mean(row["right"])), 3),
            }
            for pause, row in rows.items()
        },
        "other_speech_let_in": len(set(requests) - right_requests),
        "missed_in": sorted(missed),
    }


def run(quick: bool, progress=None) -> dict:
    from voice_agent.config import load_settings

    settings = load_settings("balanced")
    return {
        "word": WORD,
        "threshold": settings.wake.threshold,
        "hour": false_wakes(quick, settings.wake.threshold, progress),
        "phrases": wake_phrases(quick, settings, progress),
    }


def markdown(section: dict) -> list[str]:
    hour, phrases = section["hour"], section["phrases"]
    lines = [
        f"openWakeWord `{section['word']}` at threshold {section['threshold']}: "
        f"{hour['false_wakes']} false wakes in {hour['speech_s'] / 60:.0f} min of speech without "
        f"it ({hour['per_hour']} per hour; target ≤ 1).",
        "",
        f"The wake word and a command in {phrases['voices']} voices (balanced endpointer, "
        f"silence only); other speech let in: {phrases['other_speech_let_in']} (target 0).",
        "",
        "| after the wake word | phrases | detected | delay p50 / p90 (ms) | request let in |",
        "|---|---|---|---|---|",
    ]
    for pause, row in phrases["by_pause"].items():
        p50, p90 = row["delay_p50_ms"], row["delay_p90_ms"]
        delay = "–" if p50 is None else f"{p50:.0f} / {p90:.0f}"
        lines.append(
            f"| {pause} ({PAUSES_S[pause]:g} s) | {row['phrases']} | {row['detected']:.0%} "
            f"| {delay} | {row['requests_let_in_right']:.0%} |"
        )
    if phrases["missed_in"]:
        lines += ["", f"Missed in: {', '.join(phrases['missed_in'])}."]
    if hour["examples"]:
        woke = "; ".join(f"{e['at_s']} s, {e['during']}" for e in hour["examples"])
        lines += ["", f"False wakes: {woke}."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print("\n".join(markdown(run(args.quick))))


if __name__ == "__main__":
    main()
