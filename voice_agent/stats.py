"""`voice-agent stats`: what the stored turns say about use, failures and speed."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from voice_agent.turn import TIMING_KEYS

STAGE_KEYS = (*TIMING_KEYS.values(), "agent_ms")


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-agent counts, error counts by stage and code, and median stage timings (ms)."""
    agents = Counter(r.get("agent") or "(no words)" for r in records)
    errors = Counter(
        f"{info.get('stage')}/{info.get('code')}"
        for r in records
        if (
            info := r.get("error_info")
            or ({"stage": "?", "code": "error"} if r.get("error") else None)
        )
    )
    medians: dict[str, dict[str, float]] = {}
    for source in ("typed", "spoken"):
        rows = [r for r in records if r.get("source", "typed") == source]
        values = {
            key: [r["timings"][key] for r in rows if key in (r.get("timings") or {})]
            for key in STAGE_KEYS
        }
        stages = {key: round(statistics.median(v), 1) for key, v in values.items() if v}
        if stages:
            medians[source] = stages
    return {
        "turns": len(records),
        "interrupted": sum(bool(r.get("interrupted")) for r in records),
        "agents": dict(agents.most_common()),
        "errors": dict(errors.most_common()),
        "median_ms": medians,
    }
