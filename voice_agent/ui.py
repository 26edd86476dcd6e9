"""Rich rendering of routing decisions, streaming answers and turn records."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from voice_agent.orchestrator import Done, Routed, Token, TurnEvent, TurnRecord
from voice_agent.routing.decision import RouteDecision

AGENT_STYLES = {
    "utility": "cyan",
    "time": "magenta",
    "weather": "blue",
    "files": "yellow",
    "system": "white",
    "general": "green",
}


def agent_label(decision: RouteDecision | TurnRecord) -> Text:
    style = AGENT_STYLES.get(decision.agent, "bold")
    label = Text(f"[{decision.agent} {decision.confidence:.2f}", style=style)
    if decision.fallback:
        label.append(" · no specialist fits", style="dim")
    label.append("]", style=style)
    return label


def timing_line(record: TurnRecord) -> Text:
    t = record.timings
    parts = [f"route {t.get('route_ms', 0):.1f} ms"]
    if "first_token_ms" in t:
        parts.append(f"first token {t['first_token_ms']:.0f} ms")
    parts.append(f"total {t.get('total_ms', 0):.0f} ms")
    line = f"{record.strategy} · " + " · ".join(parts)
    if record.llm:
        line += f" · {record.llm}"
    return Text(line, style="dim")


def stream_turn(console: Console, events: Iterable[TurnEvent]) -> TurnRecord:
    """Print the agent label, then the answer as it streams, then the timings."""
    record: TurnRecord | None = None
    for event in events:
        if isinstance(event, Routed):
            console.print(agent_label(event.decision), end=" ")
        elif isinstance(event, Token):
            console.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
        elif isinstance(event, Done):
            record = event.record
    console.print()
    assert record is not None
    if record.error:
        console.print(Text(f"error: {record.error}", style="red"))
    console.print(timing_line(record))
    return record


def decision_table(text: str, decision: RouteDecision) -> Group:
    """The scores of every agent, best first, with the reason for the decision."""
    table = Table("agent", "score", show_edge=False, box=None, padding=(0, 2, 0, 0))
    for name, score in sorted(decision.scores.items(), key=lambda kv: kv[1], reverse=True):
        table.add_row(name, f"{score:.3f}", style="bold" if name == decision.agent else "dim")
    summary = Text.assemble(
        (text, "italic"),
        " → ",
        agent_label(decision),
        f"  {decision.strategy} via {decision.method or 'none'} in {decision.elapsed_ms:.2f} ms",
    )
    return Group(summary, table, Text(decision.reason, style="dim"), Text())
