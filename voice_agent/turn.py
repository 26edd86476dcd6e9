"""One record per turn: what was asked, the steps taken, the answer, and when each stage ended.

Every duration is derived from `marks`: seconds on one clock whose zero is the end of
the user's speech (spoken turns) or the moment the request arrived (typed turns). The
UI, `--json`, the store, `history`, `stats` and the benchmarks all read this record.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from voice_agent.routing.decision import RouteDecision
from voice_agent.skills.base import Result

# mark -> the legacy timing key scripts read (milliseconds since the clock's zero)
TIMING_KEYS = {
    "endpoint": "end_of_turn_ms",
    "transcribed": "stt_ms",
    "routed": "route_ms",
    "first_token": "first_token_ms",
    "first_audio": "first_audio_ms",
    "finished": "total_ms",
}


@dataclass(frozen=True)
class TurnError:
    """Where a turn failed (stt, route, skill, llm, tts, playback, …), a stable code, a message."""

    stage: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"stage": self.stage, "code": self.code, "message": self.message}


@dataclass
class Step:
    """One agent answering one piece of the request."""

    agent: str
    text: str
    decision: RouteDecision
    result: Result | None = None
    llm: str | None = None  # the backend, when this step used the LLM
    error: TurnError | None = None
    marks: dict[str, float] = field(default_factory=dict)  # on the turn's clock

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "agent": self.agent,
            "text": self.text,
            "route": self.decision.to_dict(),
            "result": self.result.to_dict() if self.result else None,
            "llm": self.llm,
            "error": self.error.to_dict() if self.error else None,
            "marks": _rounded(self.marks, 4),
        }
        return data


@dataclass(frozen=True)
class Overlap:
    """Speech over the reply (barge-in): the reply paused at `at_s` (stream time); `heard` is
    what it turned out to be. After noise (no words), its own echo, a backchannel ("mm-hm",
    "okay") or a short sound whose words were unclear (a guess) the reply resumed at
    `resumed_s`; after a request it stopped where it paused."""

    at_s: float
    heard: Literal["noise", "echo", "backchannel", "unclear", "request"]
    text: str = ""
    resumed_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "at_s": round(self.at_s, 3),
            "heard": self.heard,
            "text": self.text,
            "resumed_s": _round(self.resumed_s, 3),
        }


@dataclass
class Turn:
    text: str  # what was answered: the typed request, or the transcript
    profile: str
    source: Literal["typed", "spoken"] = "typed"
    transcript: str | None = None  # spoken turns only
    steps: list[Step] = field(default_factory=list)
    answer: str = ""
    error: TurnError | None = None
    interrupted: bool = False  # the user talked over the answer, and it stopped
    barge_ins: list[Overlap] = field(default_factory=list)  # speech over the reply, in order
    marks: dict[str, float] = field(default_factory=dict)  # seconds since `origin`
    # Stream times (seconds into the recording or since listening began), spoken turns only.
    speech_start_s: float | None = None
    speech_end_s: float | None = None
    reply_start_s: float | None = None
    reply_end_s: float | None = None
    session: str | None = None  # a named conversation (`chat --session NAME`)
    client: str | None = None  # who asked over the network (`serve`): a satellite or host:port
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    ts: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    origin: float = field(default_factory=time.perf_counter, repr=False)  # perf_counter of zero

    # -- the clock ------------------------------------------------------------------------
    def now(self) -> float:
        return time.perf_counter() - self.origin

    def mark(self, name: str, at: float | None = None) -> None:
        """Record when a stage ended, the first time only (a stage ends once)."""
        self.marks.setdefault(name, self.now() if at is None else at)

    @property
    def timings(self) -> dict[str, float]:
        """Milliseconds since the clock's zero, under the keys `--json` has always used."""
        out = {
            key: self.marks[mark] * 1000 for mark, key in TIMING_KEYS.items() if mark in self.marks
        }
        if "routed" in self.marks and "answered" in self.marks:
            out["agent_ms"] = (self.marks["answered"] - self.marks["routed"]) * 1000
        return out

    # -- views ----------------------------------------------------------------------------
    @property
    def first_step(self) -> Step | None:
        return self.steps[0] if self.steps else None

    @property
    def agent(self) -> str | None:
        return self.steps[0].agent if self.steps else None

    @property
    def llm(self) -> str | None:
        return next((s.llm for s in self.steps if s.llm), None)

    def to_dict(self) -> dict[str, Any]:
        step = self.first_step
        decision = step.decision if step else None
        data: dict[str, Any] = {
            "id": self.id,
            "ts": self.ts,
            "source": self.source,
            "session": self.session,
            "client": self.client,
            "text": self.text,
            "transcript": self.transcript,
            "profile": self.profile,
            "agent": self.agent,
            "confidence": round(decision.confidence, 3) if decision else None,
            "strategy": decision.strategy if decision else None,
            "fallback": decision.fallback if decision else None,
            "scores": {k: round(v, 3) for k, v in decision.scores.items()} if decision else {},
            "route_reason": decision.reason if decision else None,
            "answer": self.answer,
            "llm": self.llm,
            "error": self.error.message if self.error else None,
            "error_info": self.error.to_dict() if self.error else None,
            "interrupted": self.interrupted,
            "timings": _rounded(self.timings, 1),
            "marks": _rounded(self.marks, 4),
            "steps": [s.to_dict() for s in self.steps],
        }
        if self.source == "spoken":
            data.update(
                speech_start_s=_round(self.speech_start_s, 3),
                speech_end_s=_round(self.speech_end_s, 3),
                reply_start_s=_round(self.reply_start_s, 3),
                barge_ins=[overlap.to_dict() for overlap in self.barge_ins],
            )
        return data


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _rounded(values: dict[str, float], digits: int) -> dict[str, float]:
    return {k: round(v, digits) for k, v in values.items()}
