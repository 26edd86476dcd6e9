"""Compound requests: "what's 25 times 4 and set a timer for that many minutes" → two steps.

Deterministic first: a request is cut at its clause boundaries ("and", "then", commas,
sentence ends) only where every piece routes confidently on its own (a specialist, or a
question for the general agent) and the pieces are at least two; "rock and roll", "Romeo
and Juliet" and "add milk and eggs to my list" have a piece that routes nowhere, so they
stay whole, and "between March 1 and April 15" is one range.
When a boundary leaves one piece unclear, the LLM may be asked for a JSON plan, which
is checked against the known agents and the request's own words before anything runs;
not when the unclear pieces are words the whole command keeps as said ("make a note
called packing, saying, bring the passport": a note's body; skills.base.KeepsWords).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from voice_agent.dialogue.references import asks_to_be_told
from voice_agent.language.endings import words_unfinished
from voice_agent.language.numbers import read_number
from voice_agent.language.when import only_when
from voice_agent.language.words import words
from voice_agent.routing.decision import RouteDecision

MAX_BOUNDARIES = 6  # a spoken request with more is a list, not a plan: keep the search small
MAX_STEPS = 4
CONFIDENT = 0.5

# Sentence ends count: Whisper writes requests said in one breath as sentences.
_BOUNDARY = re.compile(
    r"(?:\s*[,;]\s*|(?<=[.?!])\s+)(?:and\s+)?(?:then\s+)?|\s+and\s+then\s+|\s*,?\s+then\s+"
    r"|\s+and\s+(?:also\s+)?",
    re.I,
)
# Words that join a request to the conversation rather than ask anything.
_LEAD = re.compile(
    r"^(?:(?:and|then|also|after that|afterwards|please|next|now|ok(?:ay)?|so|well)\b[\s,]*)+",
    re.I,
)
# An "and" that closes a pair these open joins its two ends, not two requests.
_PAIRED = re.compile(r"\b(?:between|both)\b(?![^,;.?!]*\band\b)[^,;.?!]*$", re.I)
_QUESTION = re.compile(
    r"^(?:who|what|when|where|why|how|which|is|are|was|were|do|does|did|can|could|tell me"
    r"|explain|describe)\b",
    re.I,
)


@dataclass(frozen=True)
class Piece:
    text: str
    decision: RouteDecision


Route = Callable[[str], RouteDecision]


def clean(piece: str) -> str:
    return _LEAD.sub("", piece.strip()).strip(" ,;").rstrip(".!")


def _cuts(text: str) -> list[re.Match[str]]:
    """The clause boundaries of `text`, less the pauses Whisper wrote as commas or stops
    inside one request: after words no request ends on ("set a timer for, five minutes"),
    after a lead-in ("okay, ...") or before an amount ("an hour, 30 minutes")."""
    cuts = []
    for m in _BOUNDARY.finditer(text):
        before, rest = clean(text[: m.start()]), clean(text[m.end() :]).split(maxsplit=1)
        if not before or words_unfinished(text[: m.start()]):
            continue  # "Okay, what time is it?": only words that join it to the conversation
        if rest and read_number(rest[0]) is not None:
            continue
        if _PAIRED.search(text[: m.start()]) and m.group().strip().lower() == "and":
            continue  # "the days between March 1 and April 15": one range, one request
        cuts.append(m)
    return cuts


def split(text: str, route: Route) -> list[Piece] | None:
    """The request as two or more steps, or None when it is one request."""
    cuts = _cuts(text)[:MAX_BOUNDARIES]
    if not cuts:
        return None
    routed: dict[str, Piece | None] = {}

    def piece(start: int, end: int) -> Piece | None:
        said = clean(text[start:end])
        if said not in routed:
            routed[said] = _confident(said, route)
        return routed[said]

    # Most steps first: "a, b and c" is three steps, not "a" and "b and c".
    for size in range(min(len(cuts), MAX_STEPS - 1), 0, -1):
        for chosen in itertools.combinations(cuts, size):
            starts = [0, *(m.end() for m in chosen)]
            ends = [*(m.start() for m in chosen), len(text)]
            pieces = [piece(a, b) for a, b in zip(starts, ends, strict=True)]
            if all(pieces) and any(not p.decision.fallback for p in pieces):
                return pieces
    return None


def _confident(said: str, route: Route) -> Piece | None:
    tokens = said.split()
    if len(tokens) < 2 or read_number(tokens[0]) is not None:
        return None  # "30 minutes" of "an hour and 30 minutes" is an amount, not a task
    if only_when(said):
        return None  # "remind me to email Jo, and ask about the keys, tomorrow at nine"
    if asks_to_be_told(said):
        return Piece(said, route(said))  # "... and tell me when it's done": never the task's
    decision = route(said)
    if not decision.fallback and decision.confidence >= CONFIDENT:
        return Piece(said, decision)
    if decision.fallback and _QUESTION.match(said) and len(said.split()) >= 3:
        return Piece(said, decision)  # a question for the general agent
    return None


def unclear(text: str, route: Route) -> list[str]:
    """In joined clauses that `split` left whole, of which some piece routes to a
    specialist, the pieces that route nowhere: worth asking the LLM for a plan. [] when
    there are none."""
    cuts = _cuts(text)
    if not cuts:
        return []
    edges = [0, *(c for m in cuts for c in (m.start(), m.end())), len(text)]
    pieces = [clean(text[a:b]) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    # A lone word is the end of a phrase after a pause Whisper wrote as a comma ("list the
    # files in my notes, folder"), not a task: asking the LLM then cost 10 s for one step.
    found = {p: _confident(p, route) for p in pieces if len(p.split()) > 1}
    if not any(p is not None and not p.decision.fallback for p in found.values()):
        return []
    return [said for said, p in found.items() if p is None]


PLAN_INSTRUCTION = (
    "Split the user's request into the separate tasks it asks for, in order. Agents:\n"
    "{agents}\n"
    'Reply as {{"steps": [{{"agent": "<agent>", "request": "<the task in the user\'s words>"}}]}}. '
    "Use one step if it is a single task."
)


def check_plan(obj: dict, text: str, agents: Mapping[str, str], route: Route) -> list[Piece] | None:
    """The LLM's plan, if every step names a known agent, uses the request's own words and
    routes where the plan says; else None."""
    steps = obj.get("steps")
    if not isinstance(steps, list) or not 2 <= len(steps) <= MAX_STEPS:
        return None
    said = set(words(text))
    pieces = []
    for step in steps:
        if not isinstance(step, dict):
            return None
        agent, request = step.get("agent"), clean(str(step.get("request", "")))
        asked = words(request)
        if agent not in agents or not asked:
            return None
        if sum(w in said for w in asked) < 0.7 * len(asked):
            return None  # the model wrote a request of its own
        decision = route(request)
        if decision.agent != agent:
            return None
        pieces.append(Piece(request, decision))
    return pieces
