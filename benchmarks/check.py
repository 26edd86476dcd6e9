"""`make bench-check`: compare benchmarks/results/latest.json with the committed baseline.

Fails (exit 1) on any metric that moved past its tolerance in benchmarks/tolerances.yaml.
Run: .venv/bin/python -m benchmarks.check [--latest PATH] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def expand(data: Any, path: list[str], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) a tolerance path with `*` wildcards names in `data`.

    Lists are addressed by a row's identity (its model/engine/settings name), not by index,
    so a baseline row is compared with the same row of the new run.
    """
    if not path:
        yield ".".join(prefix), data
        return
    head, rest = path[0], path[1:]
    if isinstance(data, list):
        data = {_row_key(row): row for row in data}
    if not isinstance(data, dict):
        return
    keys = list(data) if head == "*" else [head] if head in data else []
    for key in keys:
        yield from expand(data[key], rest, (*prefix, key))


def _row_key(row: dict) -> str:
    for field in ("settings", "model", "engine", "profile_settings"):
        if isinstance(row, dict) and field in row:
            parts = [str(row[field])] + [str(row[k]) for k in ("backend", "beam_size") if k in row]
            return "/".join(parts)
    return json.dumps(row, sort_keys=True)[:40]


def compare(latest: dict, baseline: dict, tolerances: dict) -> list[dict]:
    rows = []
    for pattern, rule in tolerances.items():
        new_values = dict(expand(latest, pattern.split(".")))
        for key, old in expand(baseline, pattern.split(".")):
            new = new_values.get(key)
            if not isinstance(old, int | float) or not isinstance(new, int | float):
                continue
            ratio = rule["ratio"]
            if rule["better"] == "lower":
                failed = new > old * ratio
            else:
                failed = new < old / ratio
            rows.append(
                {
                    "metric": key,
                    "baseline": old,
                    "latest": new,
                    "better": rule["better"],
                    "ratio": ratio,
                    "regressed": failed,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="compare the quick run's files")
    parser.add_argument("--latest", type=Path)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--tolerances", type=Path, default=HERE / "tolerances.yaml")
    args = parser.parse_args(argv)
    suffix = "-quick" if args.quick else ""
    args.latest = args.latest or RESULTS / f"latest{suffix}.json"
    args.baseline = args.baseline or RESULTS / f"baseline{suffix}.json"
    for path in (args.latest, args.baseline):
        if not path.is_file():
            print(f"error: {path} not found (run `make bench` first)", file=sys.stderr)
            return 2
    latest, baseline = (json.loads(p.read_text()) for p in (args.latest, args.baseline))
    if latest["meta"]["quick"] != baseline["meta"]["quick"]:
        kind = "quick" if latest["meta"]["quick"] else "full"
        print(
            f"error: {args.latest} is a {kind} run; compare it with a baseline of the same kind",
            file=sys.stderr,
        )
        return 2
    rows = compare(latest, baseline, yaml.safe_load(args.tolerances.read_text()))
    from rich.console import Console
    from rich.table import Table

    table = Table("metric", "baseline", "latest", "allowed", "", show_edge=False)
    for r in rows:
        allowed = ("≤ " if r["better"] == "lower" else "≥ ") + (
            f"{r['baseline'] * r['ratio']:.3g}"
            if r["better"] == "lower"
            else f"{r['baseline'] / r['ratio']:.3g}"
        )
        mark = "[red]REGRESSED[/]" if r["regressed"] else "[green]ok[/]"
        table.add_row(r["metric"], f"{r['baseline']:.3g}", f"{r['latest']:.3g}", allowed, mark)
    Console().print(table)
    regressions = [r for r in rows if r["regressed"]]
    print(f"{len(rows)} metrics compared, {len(regressions)} regressed")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
