"""Rich rendering of turn events: the typed chat, `ask`, and the live voice view."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from voice_agent.events import (
    Announcement,
    BargeIn,
    Event,
    ReplyResumed,
    Routed,
    StateChanged,
    Token,
    Transcribed,
    TurnFailed,
    TurnFinished,
)
from voice_agent.routing.decision import RouteDecision
from voice_agent.turn import Turn

PALETTE = ("cyan", "magenta", "blue", "yellow", "green", "bright_red", "bright_blue", "white")


def agent_style(agent: str, colors: Mapping[str, str | None] = {}) -> str:
    """The agent's own colour from its YAML, else a stable one from its name."""
    return colors.get(agent) or PALETTE[zlib.crc32(agent.encode()) % len(PALETTE)]


def agent_label(decision: RouteDecision, colors: Mapping[str, str | None] = {}) -> Text:
    style = agent_style(decision.agent, colors)
    label = Text(f"[{decision.agent} {decision.confidence:.2f}", style=style)
    if decision.fallback:
        label.append(" · no specialist fits", style="dim")
    label.append("]", style=style)
    return label


def timing_line(turn: Turn) -> Text:
    t = turn.timings
    parts = [f"route {t.get('route_ms', 0):.1f} ms"]
    if "first_token_ms" in t:
        parts.append(f"first token {t['first_token_ms']:.0f} ms")
    parts.append(f"total {t.get('total_ms', 0):.0f} ms")
    step = turn.first_step
    line = (f"{step.decision.strategy} · " if step else "") + " · ".join(parts)
    if turn.llm:
        line += f" · {turn.llm}"
    return Text(line, style="dim")


def decision_table(text: str, decision: RouteDecision, colors: Mapping = {}) -> Group:
    """The scores of every agent, best first, with the reason for the decision."""
    table = Table("agent", "score", show_edge=False, box=None, padding=(0, 2, 0, 0))
    for name, score in sorted(decision.scores.items(), key=lambda kv: kv[1], reverse=True):
        table.add_row(name, f"{score:.3f}", style="bold" if name == decision.agent else "dim")
    summary = Text.assemble(
        (text, "italic"),
        " → ",
        agent_label(decision, colors),
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


class ChatView:
    """Prints a typed turn's events: the answer as it streams; with `verbose`, how it was
    routed and timed. Announcements that arrive mid-answer wait until it is over."""

    def __init__(self, console: Console, colors: Mapping[str, str | None], verbose: bool = False):
        self.console = console
        self.colors = colors
        self.verbose = verbose

    def __call__(self, event: Event) -> None:
        out = self.console
        if isinstance(event, Routed) and self.verbose:
            out.print(agent_label(event.decision, self.colors), end=" ")
        elif isinstance(event, Token):
            out.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
        elif isinstance(event, TurnFailed) and self.verbose:
            out.print(Text(f" [{event.stage} failed: {event.code}: {event.message}]", style="red"))
        elif isinstance(event, Announcement):
            out.print(Text(f"⏰ {event.text}", style="bold yellow"))
        elif isinstance(event, StateChanged) and event.profile and event.state.startswith("switch"):
            out.print(Text(f"profile {event.profile}", style="cyan"))
        elif isinstance(event, TurnFinished):
            out.print()
            if self.verbose:
                out.print(timing_line(event.turn))


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

    def __init__(
        self, console: Console, profile: str, colors: Mapping[str, Any] = {}, verbose: bool = False
    ) -> None:
        self.console = console
        self.profile = profile
        self.colors = colors
        self.verbose = verbose
        self.state = "warming up"
        self.transcript = ""
        self.decision: RouteDecision | None = None
        self.answer = ""
        self.paused = False
        self.timings: dict[str, float] = {}
        self.live = None

    def __enter__(self) -> VoiceView:
        from rich.live import Live

        self.live = Live(self.render(), console=self.console, refresh_per_second=12)
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self.state = event.state
            self.profile = event.profile or self.profile
        elif isinstance(event, Transcribed):
            self.transcript, self.answer, self.decision = event.text, "", None
            self.paused = False
            self.timings = {}
        elif isinstance(event, Routed):
            self.decision = event.decision
        elif isinstance(event, Token):
            self.answer += event.text
        elif isinstance(event, TurnFinished):
            self.timings = event.turn.timings
            self._print_finished(event.turn)
        elif isinstance(event, BargeIn | ReplyResumed):
            self.paused = isinstance(event, BargeIn)  # until what was said over it is known
        elif isinstance(event, TurnFailed) and self.verbose:
            self.console.print(Text(f"{event.stage} failed: {event.message}", style="red"))
        elif isinstance(event, Announcement):
            self.console.print(Text(f"⏰ {event.text}", style="bold yellow"))
        if self.live is not None:
            self.live.update(self.render())

    def _print_finished(self, turn: Turn) -> None:
        """Keep finished turns above the live area, like a transcript of the conversation."""
        if not (turn.text or turn.answer):
            return
        self.console.print(Text(f"you: {turn.text}", style="bold"))
        self.console.print(Text(f"assistant: {turn.answer.strip()}"))
        if self.verbose:
            self.console.print(stage_line(turn.timings))
        self.transcript, self.answer, self.decision = "", "", None

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
            label = agent_label(self.decision, self.colors) if self.verbose else Text("")
            paused = (" [paused: you spoke]", "dim") if self.paused else ""
            lines.append(Text.assemble(label, " ", self.answer.strip(), paused))
        if self.timings and self.verbose:
            lines.append(stage_line(self.timings))
        return Group(Panel(Group(*lines), title="voice-agent", title_align="left"))
