"""TTS benchmark: cold start, time to first audio and real-time factor per engine.

One engine per distinct `tts` section of the profiles (pyttsx3 at the speed and
balanced rates, Piper's joe voice for quality). The assistant speaks an answer
sentence by sentence, so the time to first audio is the synthesis time of an
answer's first sentence, measured after warm-up as the app runs.

Run: .venv/bin/python -m benchmarks.tts_bench [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.metrics import percentile
from voice_agent.config import PROFILE_NAMES, TtsConfig, load_settings
from voice_agent.errors import UserError
from voice_agent.tts.base import TTS, Speech
from voice_agent.tts.factory import build_tts

# Typical first sentences of answers, 9 to 15 words.
SENTENCES = (
    "Romeo and Juliet was written by William Shakespeare around 1595.",
    "The capital of Australia is Canberra, not Sydney as many people think.",
    "Your timer for ten minutes is set and I will tell you when it ends.",
    "Right now in Tokyo it is 18 degrees and partly cloudy with a light breeze.",
    "Five miles is about eight point zero five kilometres.",
    "A spider has eight legs, and most species also have eight eyes.",
    "Try to go to bed and wake up at the same time every day.",
    "I cannot play music, but I can set timers, check the weather and take notes.",
    "It is a quarter past three in the afternoon in London right now.",
    "I added milk to your shopping list, which now has six items.",
)
QUICK_SENTENCES = 3


def engine_configs() -> list[tuple[str, TtsConfig]]:
    """(profile, TTS settings) for each distinct TTS setting the profiles use."""
    chosen: list[tuple[str, TtsConfig]] = []
    for profile in PROFILE_NAMES:
        config = load_settings(profile).tts
        if all(config != seen for _, seen in chosen):
            chosen.append((profile, config))
    return chosen


def describe(config: TtsConfig) -> str:
    """The engine and its settings, e.g. "pyttsx3 rate 220": the key benchmarks.report uses."""
    if config.engine == "piper":
        return f"piper {config.piper_voice} length_scale {config.length_scale}"
    return f"pyttsx3 rate {config.rate}"


def seconds_of(speech: Speech) -> float:
    return len(speech.pcm) / 2 / speech.sample_rate  # mono int16


def summarize(synthesis_s: list[float], audio_s: list[float]) -> dict:
    """Milliseconds per sentence (median, p95) and the real-time factor over all sentences."""
    ms = [s * 1000 for s in synthesis_s]
    return {
        "first_audio_p50_ms": statistics.median(ms),
        "first_audio_p95_ms": percentile(ms, 95),
        "rtf": sum(synthesis_s) / sum(audio_s),
    }


def bench_engine(
    profile: str, config: TtsConfig, sentences: tuple[str, ...], advance: Callable[[], None]
) -> dict:
    """Cold start (build and warm-up), then each sentence timed on the warm engine."""
    start = time.perf_counter()
    tts: TTS = build_tts(config)
    tts.warmup()  # the first sentence: loads the voice or starts the engine
    load_ms = (time.perf_counter() - start) * 1000
    advance()
    synthesis_s, audio_s = [], []
    try:
        for sentence in sentences:
            start = time.perf_counter()
            speech = tts.synthesize(sentence)
            synthesis_s.append(time.perf_counter() - start)
            audio_s.append(seconds_of(speech))
            advance()
    finally:
        tts.close()
    return {
        "engine": config.engine,
        "settings": describe(config),
        "profile": profile,
        "load_ms": load_ms,
        **summarize(synthesis_s, audio_s),
        "audio_p50_s": statistics.median(audio_s),
        "sample_rate": speech.sample_rate,
    }


def run(quick: bool, progress: Progress | None = None) -> dict:
    sentences = SENTENCES[:QUICK_SENTENCES] if quick else SENTENCES
    engines: list[dict] = []
    skipped: list[dict] = []
    for profile, config in engine_configs():
        advance = _advancer(progress, f"{config.engine} ({profile})", 1 + len(sentences))
        try:
            result = bench_engine(profile, config, sentences, advance)
        except UserError as exc:  # e.g. Piper (an optional extra) is not installed
            skipped.append({"engine": config.engine, "profile": profile, "reason": str(exc)})
            continue
        # One pyttsx3 worker serves the whole process: only its first start is cold.
        result["load_cold"] = all(e["engine"] != config.engine for e in engines)
        engines.append(result)
    return {"engines": engines, "skipped": skipped, "sentences": len(sentences)}


def _advancer(progress: Progress | None, label: str, total: int) -> Callable[[], None]:
    if progress is None:
        return lambda: None
    task = progress.add_task(label, total=total)
    return lambda: progress.advance(task)


def print_report(console: Console, result: dict) -> None:
    table = Table(title=f"TTS ({result['sentences']} sentences)", show_edge=False)
    columns = ("engine", "profile", "load ms", "first audio p50 ms", "p95 ms")
    for column in (*columns, "RTF", "audio s", "Hz"):
        table.add_column(column, justify="left" if column in columns[:2] else "right")
    for e in result["engines"]:
        table.add_row(
            e["settings"],
            e["profile"],
            f"{e['load_ms']:.0f}" + ("" if e["load_cold"] else " (warm)"),
            f"{e['first_audio_p50_ms']:.0f}",
            f"{e['first_audio_p95_ms']:.0f}",
            f"{e['rtf']:.3f}",
            f"{e['audio_p50_s']:.1f}",
            str(e["sample_rate"]),
        )
    console.print(table)
    for s in result["skipped"]:
        console.print(f"skipped {s['engine']} ({s['profile']}): {s['reason']}", markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SENTENCES} sentences")
    args = parser.parse_args()
    console = Console()
    with Progress(console=console, transient=True) as progress:
        result = run(args.quick, progress)
    print_report(console, result)


if __name__ == "__main__":
    main()
