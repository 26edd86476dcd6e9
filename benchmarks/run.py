"""`make bench`: every benchmark in one run, per profile, written to benchmarks/results/.

Run: .venv/bin/python -m benchmarks.run [--quick] [--only routing,stt,llm,tts,e2e]
"""

from __future__ import annotations

import argparse
import importlib
import json
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks import report

SECTIONS = {
    "routing": "benchmarks.routing",
    "stt": "benchmarks.stt_bench",
    "llm": "benchmarks.llm_bench",
    "tts": "benchmarks.tts_bench",
    "e2e": "benchmarks.e2e",
    "conversations": "benchmarks.conversations",
    "actions": "benchmarks.actions",
    "facts": "benchmarks.facts",
    "turn_taking": "benchmarks.turn_taking",
    "echo": "benchmarks.echo",
    "wake": "benchmarks.wake",
    "wyoming": "benchmarks.wyoming",
}


def targets_renderable(targets: list[dict]) -> Table:
    profiles = [k for k in targets[0] if k not in ("metric", "target", "acceptable")]
    table = Table(title="Targets (medians)", show_edge=False)
    for column in ("metric", "target", *profiles):
        table.add_column(column, justify="left" if column == "metric" else "right")
    style = {"pass": "green", "acceptable": "yellow", "fail": "red", "n/a": "dim"}
    for row in targets:
        cells = []
        for p in profiles:
            value, verdict = row[p]["value"], row[p]["verdict"]
            shown = "–" if value is None else f"{value:.0f}"
            cells.append(f"[{style[verdict]}]{shown} {verdict}[/]")
        table.add_row(row["metric"], row["target"], *cells)
    return table


def previous_sections(quick: bool) -> tuple[dict, dict[str, float], dict]:
    """The last run's sections of the same kind, so `--only` updates latest.json in place;
    their durations, and the run that measured each (`report.origin`)."""
    path = report.RESULTS / ("latest-quick.json" if quick else "latest.json")
    if not path.is_file():
        return {}, {}, {}
    last = json.loads(path.read_text())
    if last["meta"]["quick"] != quick:
        return {}, {}, {}
    sections = {name: last[name] for name in SECTIONS if name in last}
    earlier = last["meta"].get("earlier_sections", {})
    runs = {name: earlier.get(name, report.origin(last["meta"])) for name in sections}
    return sections, dict(last["meta"].get("section_seconds", {})), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the reduced set (under 3 minutes)")
    parser.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTIONS))
    args = parser.parse_args()
    wanted = args.only.split(",") if args.only else list(SECTIONS)
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")

    console = Console()
    results: dict = {}
    durations: dict[str, float] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("benchmarks", total=len(wanted))
        for name in wanted:
            progress.update(overall, description=f"benchmarks: {name}")
            start = time.perf_counter()
            results[name] = importlib.import_module(SECTIONS[name]).run(args.quick, progress)
            durations[name] = time.perf_counter() - start
            progress.advance(overall)
    earlier: dict = {}
    if args.only:  # read now, not at the start: another `--only` run may have written since
        kept, took, runs = previous_sections(args.quick)
        earlier = {name: run for name, run in runs.items() if name not in results}
        results, durations = {**kept, **results}, {**took, **durations}
    run_meta = report.meta(args.quick, durations, earlier)
    paths = report.write(results, run_meta)
    console.print(targets_renderable(report.targets_table(results)))
    console.print(
        f"[dim]{sum(durations.values()):.0f} s · written {paths['json']} and {paths['md']}[/]"
    )


if __name__ == "__main__":
    main()
