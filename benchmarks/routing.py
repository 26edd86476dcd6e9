"""Routing benchmark: accuracy, macro-F1, confusion and latency for each strategy.

Run: .venv/bin/python -m benchmarks.routing [--profile balanced] [--strategy hybrid]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.metrics import accuracy, confusion, macro_f1, per_label_prf, percentile
from voice_agent.agents.registry import load_agents
from voice_agent.config import load_settings
from voice_agent.routing.embeddings import SentenceTransformerEncoder
from voice_agent.routing.factory import STRATEGIES, build_router

DATA = Path(__file__).parent / "data" / "routing.jsonl"
RESULTS = Path(__file__).parent / "results"


def load_set(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(router, items: list[dict], fallback: str, progress: Progress | None = None) -> dict:
    warm = getattr(router, "warmup", None)
    if warm is not None:
        warm()
    predicted, latencies = [], []
    task = progress.add_task(router.strategy, total=len(items)) if progress else None
    for item in items:
        start = time.perf_counter()
        decision = router.route(item["text"])
        latencies.append((time.perf_counter() - start) * 1000)
        predicted.append(decision.agent)
        if progress:
            progress.advance(task)
    truth = [item["label"] for item in items]
    out_of_scope = [
        p for item, p in zip(items, predicted, strict=True) if item["category"] == "out_of_scope"
    ]
    errors = [
        {"text": item["text"], "label": item["label"], "predicted": p}
        for item, p in zip(items, predicted, strict=True)
        if p != item["label"]
    ]
    return {
        "strategy": router.strategy,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="balanced")
    parser.add_argument("--strategy", choices=STRATEGIES, action="append")
    parser.add_argument("--errors", action="store_true", help="print every misrouted utterance")
    args = parser.parse_args()

    console = Console()
    settings = load_settings(args.profile)
    specs = load_agents(settings.agents.enabled, settings.routing.fallback_agent)
    items = load_set()
    encoder = SentenceTransformerEncoder(settings.routing.embedding_model)
    results = []
    with Progress(console=console, transient=True) as progress:
        for strategy in args.strategy or STRATEGIES:
            router = build_router(settings.routing, specs, strategy, encoder=encoder)
            results.append(evaluate(router, items, settings.routing.fallback_agent, progress))
    print_report(console, results)
    if args.errors:
        for r in results:
            console.rule(r["strategy"])
            for e in r["errors"]:
                console.print(f"{e['label']:>8} → {e['predicted']:<8} {e['text']}", markup=False)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "routing.json"
    meta = {
        "profile": args.profile,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    console.print(f"[dim]written {out}[/]")


if __name__ == "__main__":
    main()
