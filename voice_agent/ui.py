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


STAGES = (
    ("end_of_turn_ms", "end of turn"),
    ("stt_ms", "STT"),
    ("route_ms", "routing"),
    ("first_token_ms", "first token"),
    ("first_audio_ms", "first audio"),
    ("total_ms", "total"),
)


def stage_line(timings: dict[str, float]) -> Text:
    """Each stage's time since the end of the user's speech."""
    parts = [f"{label} {timings[key]:.0f}" for key, label in STAGES if key in timings]
    return Text("ms after you stopped: " + " · ".join(parts), style="dim")


class VoiceView:
    """The live terminal view: state, transcript, agent, the answer as it streams, timings."""

    STATE_STYLES = {
        "listening": "green",
        "hearing": "bold green",
        "transcribing": "yellow",
        "thinking": "magenta",
        "speaking": "cyan",
        "warming up": "dim",
    }

    def __init__(self, console: Console, profile: str) -> None:
        self.console = console
        self.profile = profile
        self.state = "warming up"
        self.transcript = ""
        self.decision: RouteDecision | None = None
        self.answer = ""
        self.timings: dict[str, float] = {}
        self.live = None

    def __enter__(self) -> VoiceView:
        from rich.live import Live

        self.live = Live(self.render(), console=self.console, refresh_per_second=12)
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def on_event(self, kind: str, data: dict) -> None:
        if kind == "state":
            self.state = data["state"]
        elif kind == "transcript":
            self._finish_previous()
            self.transcript, self.answer, self.decision = data["text"], "", None
            self.timings = dict(data["timings"])
        elif kind == "routed":
            self.decision = data["decision"]
        elif kind == "token":
            self.answer += data["text"]
        elif kind == "done":
            self.timings = dict(data["turn"].timings)
        elif kind == "barge_in":
            self.answer += " [interrupted]"
        elif kind == "announcement":
            self.console.print(Text(f"⏰ {data['text']}", style="bold yellow"))
        if self.live is not None:
            self.live.update(self.render())

    def _finish_previous(self) -> None:
        """Keep finished turns above the live area, like a transcript of the conversation."""
        if self.transcript:
            self.console.print(Text(f"you: {self.transcript}", style="bold"))
            self.console.print(Text(f"assistant: {self.answer.strip()}"))
            self.console.print(stage_line(self.timings))

    def render(self) -> Group:
        from rich.panel import Panel

        style = self.STATE_STYLES.get(self.state, "")
        head = Text.assemble(
            (f"● {self.state}", style), f"   profile {self.profile}   Ctrl+C quits"
        )
        lines = [head]
        if self.transcript:
            lines.append(Text.assemble(("you: ", "bold"), self.transcript))
        if self.decision is not None:
            lines.append(Text.assemble(agent_label(self.decision), " ", self.answer.strip()))
        if self.timings:
            lines.append(stage_line(self.timings))
        return Group(Panel(Group(*lines), title="voice-agent", title_align="left"))
