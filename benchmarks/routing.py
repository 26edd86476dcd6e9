"""Routing benchmark: accuracy, macro-F1, confusion and latency for each strategy, on the
utterances as typed and as heard (spoken by a TTS voice, transcribed by each profile's Whisper).

Run: .venv/bin/python -m benchmarks.routing [--quick] [--profile balanced] [--strategy hybrid]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.metrics import accuracy, confusion, corpus_wer, macro_f1, per_label_prf, percentile
from benchmarks.speech import profile_stt, speak, track, transcribe_cached
from voice_agent.agents.registry import load_agents
from voice_agent.config import PROFILE_NAMES, load_settings
from voice_agent.routing.embeddings import SentenceTransformerEncoder
from voice_agent.routing.factory import STRATEGIES, build_router

DATA = Path(__file__).parent / "data" / "routing.jsonl"
RESULTS = Path(__file__).parent / "results"
SAMPLE_SEED = 20240611
TRANSCRIBED_N = {False: 200, True: 30}  # by quick
# By position in the file, so an utterance keeps its voice (and its cache entries) in every
# sample; every other one is Piper, the rest alternate between two espeak-ng voices.
SPOKEN_VOICES = ("piper", "espeak", "piper", "espeak_f3")
MAX_ERRORS = 20  # misrouted utterances kept per strategy in the results


def load_set(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def stratified_sample(items: list[dict], n: int, seed: int = SAMPLE_SEED) -> list[int]:
    """Indices of about `n` items in file order, each label (and out-of-scope apart from the
    rest of general) keeping its share. Every stratum is a seeded shuffle cut short, so a
    smaller sample is part of a larger one and shares its cached speech and transcripts."""
    strata: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        key = item["category"] if item["category"] == "out_of_scope" else item["label"]
        strata.setdefault(key, []).append(index)
    rng = random.Random(seed)
    chosen = []
    for key in sorted(strata):
        members = strata[key]
        rng.shuffle(members)
        chosen += members[: max(1, round(n * len(members) / len(items)))]
    return sorted(chosen)


def route_all(
    router, items: list[dict], description: str, progress: Progress | None = None
) -> tuple[list[str], list[float]]:
    """Predicted agents and per-utterance latencies (ms) after the router's warm-up."""
    warm = getattr(router, "warmup", None)
    if warm is not None:
        warm()
    predicted, latencies = [], []
    for item in track(items, description, progress):
        start = time.perf_counter()
        decision = router.route(item["text"])
        latencies.append((time.perf_counter() - start) * 1000)
        predicted.append(decision.agent)
    return predicted, latencies


DECLINING = {"limits"}


def score(
    strategy: str, items: list[dict], predicted: list[str], latencies: list[float], fallback: str
) -> dict:
    # The labels say which agent serves a request; `general` marks the ones no specialist
    # serves. The limits agent serves none either (it says honestly that it can't), so
    # for scoring it is the same answer as the fallback.
    predicted = [fallback if p in DECLINING else p for p in predicted]
    truth = [item["label"] for item in items]
    out_of_scope = [
        p for item, p in zip(items, predicted, strict=True) if item["category"] == "out_of_scope"
    ]
    errors = [
        {"text": item["text"], "label": item["label"], "predicted": p}
        | ({"said": item["said"]} if "said" in item else {})
        for item, p in zip(items, predicted, strict=True)
        if p != item["label"]
    ]
    return {
        "strategy": strategy,
        "n": len(items),
        "accuracy": accuracy(truth, predicted),
        "macro_f1": macro_f1(truth, predicted),
        "per_agent": per_label_prf(truth, predicted),
        "no_specialist_right": (
            sum(p == fallback for p in out_of_scope) / len(out_of_scope) if out_of_scope else None
        ),
        "confusion": confusion(truth, predicted),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "errors": errors,
    }


def transcribe_sample(
    items: list[dict], indices: list[int], profile: str, progress: Progress | None
) -> tuple[list[dict], dict]:
    """The sampled utterances as the profile's Whisper heard them, spoken by voices that
    alternate by position in the file; and the STT summary (settings, WER)."""
    stt = profile_stt(profile)
    heard = []
    for index in track(indices, f"routing: speaking, {profile} transcribing", progress):
        item = items[index]
        audio = speak(item["text"], SPOKEN_VOICES[index % len(SPOKEN_VOICES)])
        heard.append({**item, "text": transcribe_cached(stt, audio).text, "said": item["text"]})
    summary = {
        "stt": {"model": stt.config.model, "beam_size": stt.config.beam_size},
        "wer": corpus_wer([h["said"] for h in heard], [h["text"] for h in heard]),
    }
    return heard, summary


def evaluate(
    router, items: list[dict], fallback: str, progress: Progress | None, description: str
) -> tuple[dict, list[str]]:
    """The scores of `router` on `items`, and its predictions."""
    predicted, latencies = route_all(router, items, description, progress)
    return score(router.strategy, items, predicted, latencies, fallback), predicted


def summary_on(
    items: list[dict], indices: list[int], predicted: dict[int, str], fallback: str
) -> dict:
    """Accuracy and F1 for the items at `indices` from predictions by index (no latency)."""
    chosen = [items[i] for i in indices]
    r = score("", chosen, [predicted[i] for i in indices], [], fallback)
    return {key: r[key] for key in ("n", "accuracy", "macro_f1", "no_specialist_right")}


def run(
    quick: bool,
    progress: Progress | None = None,
    *,
    profile: str = "balanced",
    strategies: tuple[str, ...] = STRATEGIES,
    max_errors: int | None = MAX_ERRORS,
) -> dict:
    """Typed: every utterance (quick: the embedding strategies on the full-mode sample, as
    they take 10-100 ms each). Transcribed: a stratified sample spoken, transcribed by each
    profile's Whisper settings and routed by every strategy. All with `profile`'s routing
    settings, so that only the input differs between typed and transcribed."""
    settings = load_settings(profile)
    fallback = settings.routing.fallback_agent
    specs = load_agents(settings.agents.enabled, fallback)
    encoder = SentenceTransformerEncoder(settings.routing.embedding_model)
    routers = [build_router(settings.routing, specs, s, encoder=encoder) for s in strategies]
    items = load_set()
    full_sample = stratified_sample(items, TRANSCRIBED_N[False])
    sample = stratified_sample(items, TRANSCRIBED_N[quick])

    typed, typed_on_sample = {}, {}
    for router in routers:
        name = router.strategy
        indices = full_sample if quick and name != "rules_only" else list(range(len(items)))
        typed[name], predicted = evaluate(
            router, [items[i] for i in indices], fallback, progress, f"routing: typed, {name}"
        )
        by_index = dict(zip(indices, predicted, strict=True))
        typed_on_sample[name] = summary_on(items, sample, by_index, fallback)

    transcribed = {}
    for stt_profile in PROFILE_NAMES:
        heard, summary = transcribe_sample(items, sample, stt_profile, progress)
        summary["strategies"] = {}
        for router in routers:
            description = f"routing: heard ({stt_profile}), {router.strategy}"
            summary["strategies"][router.strategy], _ = evaluate(
                router, heard, fallback, progress, description
            )
        transcribed[stt_profile] = summary

    heard_results = [r for t in transcribed.values() for r in t["strategies"].values()]
    for result in [*typed.values(), *heard_results]:
        result["errors"] = result["errors"][:max_errors]
    return {
        "routing_profile": profile,
        "voices": list(SPOKEN_VOICES),
        "n_typed": len(items),
        "n_transcribed": len(sample),
        "typed": typed,
        "typed_on_sample": typed_on_sample,
        "transcribed": transcribed,
    }


def print_report(console: Console, results: list[dict]) -> None:
    summary = Table(title="Routing", show_edge=False)
    for column in ("strategy", "accuracy", "macro-F1", "no specialist fits ✓", "p50 ms", "p95 ms"):
        summary.add_column(column, justify="right" if column != "strategy" else "left")
    for r in results:
        summary.add_row(
            r["strategy"],
            f"{r['accuracy']:.3f}",
            f"{r['macro_f1']:.3f}",
            f"{r['no_specialist_right']:.3f}",
            f"{r['p50_ms']:.3f}",
            f"{r['p95_ms']:.3f}",
        )
    console.print(summary)
    for r in results:
        labels = list(r["confusion"])
        table = Table(title=f"Confusion: {r['strategy']} (rows: truth)", show_edge=False)
        table.add_column("")
        for label in labels:
            table.add_column(label[:7], justify="right")
        for truth in labels:
            row = r["confusion"][truth]
            cells = [
                f"[bold]{row[p]}[/]" if p == truth else (str(row[p]) if row[p] else "·")
                for p in labels
            ]
            table.add_row(truth, *cells)
        console.print(table)


def print_transcribed(console: Console, result: dict) -> None:
    table = Table(
        title=f"Routing as transcribed ({result['n_transcribed']} utterances spoken by "
        f"{', '.join(dict.fromkeys(result['voices']))})",
        show_edge=False,
    )
    columns = ("whisper", "WER", "strategy", "typed acc", "heard acc", "macro-F1", "no spec. ✓")
    for column in (*columns, "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column in ("whisper", "strategy") else "right")
    for profile, t in result["transcribed"].items():
        head = [f"{profile}: {t['stt']['model']} b{t['stt']['beam_size']}", f"{t['wer']:.3f}"]
        for strategy, r in t["strategies"].items():
            typed = result["typed_on_sample"][strategy]["accuracy"]
            table.add_row(
                *head,
                strategy,
                f"{typed:.3f}",
                f"{r['accuracy']:.3f}",
                f"{r['macro_f1']:.3f}",
                f"{r['no_specialist_right']:.3f}",
                f"{r['p50_ms']:.3f}",
                f"{r['p95_ms']:.3f}",
            )
            head = ["", ""]
        table.add_section()
    console.print(table)


def print_errors(console: Console, result: dict) -> None:
    groups = [(f"typed: {s}", r) for s, r in result["typed"].items()]
    groups += [
        (f"{profile} transcripts: {s}", r)
        for profile, t in result["transcribed"].items()
        for s, r in t["strategies"].items()
    ]
    for title, r in groups:
        console.rule(title)
        for e in r["errors"]:
            heard = f"  (said: {e['said']})" if "said" in e else ""
            console.print(f"{e['label']:>8} → {e['predicted']:<8} {e['text']}{heard}", markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="balanced", help="whose routing settings to use")
    parser.add_argument("--strategy", choices=STRATEGIES, action="append")
    parser.add_argument("--quick", action="store_true", help="smaller samples (see run())")
    parser.add_argument("--errors", action="store_true", help="print every misrouted utterance")
    args = parser.parse_args()

    console = Console()
    with Progress(console=console, transient=True) as progress:
        result = run(
            args.quick,
            progress,
            profile=args.profile,
            strategies=tuple(args.strategy or STRATEGIES),
            max_errors=None if args.errors else MAX_ERRORS,
        )
    print_report(console, list(result["typed"].values()))
    print_transcribed(console, result)
    if args.errors:
        print_errors(console, result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "routing.json"
    meta = {"python": platform.python_version(), "machine": platform.machine()}
    out.write_text(json.dumps({"meta": meta, **result}, indent=1) + "\n")
    console.print(f"[dim]written {out}[/]")


if __name__ == "__main__":
    main()
