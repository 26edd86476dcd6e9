"""The closed set of events a turn emits. The live view, `--json`, the benchmarks and the
tests all consume these; every turn ends with exactly one `TurnFinished`.

A typed turn:   Routed, Token…, TurnFinished
A spoken turn:  SpeechStarted, StateChanged(transcribing), Transcribed, StateChanged(thinking),
                Routed, Token…, StateChanged(speaking), AudioReady…, TurnFinished,
                StateChanged(listening)
With wake.enabled  WakeDetected before the turn's speech ends; speech without it makes no
                turn, and StateChanged says "waiting for wake word" while one is needed.
Barge-in adds   BargeIn when the user speaks over the reply (it pauses), then ReplyResumed
                if that was noise or a backchannel; a request stops it and is the next turn.
A failure adds  TurnFailed(stage, code, message) where it happened, then the spoken apology
                as a Token, and the turn still finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from voice_agent.routing.decision import RouteDecision
from voice_agent.turn import Turn


@dataclass(frozen=True)
class StateChanged:
    """listening, waiting for wake word, hearing, transcribing, thinking, speaking, warming up,
    or a profile switch."""

    state: str
    profile: str | None = None


@dataclass(frozen=True)
class SpeechStarted:
    at_s: float  # stream time


@dataclass(frozen=True)
class WakeDetected:
    """A wake word was heard (wake.enabled): the request it starts is answered."""

    word: str
    at_s: float  # stream time


@dataclass(frozen=True)
class Transcribed:
    turn_id: str
    text: str
    stt_ms: float


@dataclass(frozen=True)
class Routed:
    turn_id: str
    step: int
    decision: RouteDecision


@dataclass(frozen=True)
class Token:
    turn_id: str
    text: str


@dataclass(frozen=True)
class AudioReady:
    turn_id: str
    text: str  # the sentence this audio speaks
    duration_s: float


@dataclass(frozen=True)
class BargeIn:
    """The user spoke over the reply: it paused (audio.barge_in). What they said decides
    whether it stops (a request) or goes on (`ReplyResumed`)."""

    turn_id: str | None
    at_s: float  # stream time


@dataclass(frozen=True)
class ReplyResumed:
    """The reply paused by a barge-in goes on: what was heard was not a request."""

    turn_id: str | None
    at_s: float  # stream time
    heard: str  # noise, echo, backchannel or unclear
    text: str  # what was transcribed of it ("" for noise)


@dataclass(frozen=True)
class Announcement:
    """Something said between turns: a fired timer, a backend given up on, a profile switch."""

    text: str


# What the announcement being made is about ("timer:12"), set while the announcer calls the
# app's `announce`: a listener that tells each client only its own (the Wyoming server tells
# a timer to the satellite that set it) reads it; the others need not know it exists.
ANNOUNCING: ContextVar[str | None] = ContextVar("announcing", default=None)


@dataclass(frozen=True)
class TurnFailed:
    turn_id: str
    stage: str
    code: str
    message: str


@dataclass(frozen=True)
class TurnFinished:
    turn: Turn


Event = (
    StateChanged
    | SpeechStarted
    | WakeDetected
    | Transcribed
    | Routed
    | Token
    | AudioReady
    | BargeIn
    | ReplyResumed
    | Announcement
    | TurnFailed
    | TurnFinished
)
EventHandler = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The handler for callers that only want the returned turn."""
