"""Rule routing: the agents' regular expressions, with priorities and confidences."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from voice_agent.agents.spec import AgentSpec
from voice_agent.routing.decision import RouteDecision, routed_text

# A rival agent's match at the same priority makes the winner less certain.
RIVAL_PENALTY_SAME_PRIORITY = 0.2
RIVAL_PENALTY_LOWER_PRIORITY = 0.05


@dataclass(frozen=True)
class _CompiledRule:
    agent: str
    find: Callable[[str], str | None]  # what a pattern or recognizer matched, or None
    confidence: float
    priority: int


@dataclass
class RuleMatch:
    agent: str
    confidence: float  # noisy-or of the agent's matching rules: more evidence, more certainty
    priority: int
    matched: str


# Whisper writes pauses as commas ("25 times, 7"); rules are written for the words.
# Commas that group digits ("1,000") stay.
_PAUSE_COMMA = re.compile(r",(?!\d)|(?<!\d),")


class RuleRouter:
    strategy = "rules_only"

    def __init__(self, specs: dict[str, AgentSpec], fallback: str = "general") -> None:
        self.fallback = fallback
        self._rules = [
            _CompiledRule(spec.name, rule.find, rule.confidence, rule.priority)
            for spec in specs.values()
            for rule in spec.rules
        ]
        self._agents = list(specs)

    def matches(self, text: str) -> list[RuleMatch]:
        """Every agent with a matching rule, best first."""
        by_agent: dict[str, RuleMatch] = {}
        text = _PAUSE_COMMA.sub(" ", routed_text(text))
        for rule in self._rules:
            found = rule.find(text)
            if found is None:
                continue
            match = by_agent.get(rule.agent)
            if match is None:
                by_agent[rule.agent] = RuleMatch(rule.agent, rule.confidence, rule.priority, found)
            else:
                match.confidence = 1 - (1 - match.confidence) * (1 - rule.confidence)
                match.priority = max(match.priority, rule.priority)
        return sorted(by_agent.values(), key=lambda m: (m.priority, m.confidence), reverse=True)

    def decide(self, text: str) -> RouteDecision:
        matches = self.matches(text)
        scores = {name: 0.0 for name in self._agents}
        for match in matches:
            scores[match.agent] = match.confidence
        if not matches:
            return RouteDecision(
                self.fallback,
                0.0,
                self.strategy,
                scores,
                fallback=True,
                reason="no rule matched: no specialist fits",
                method="none",
            )
        best = matches[0]
        confidence = best.confidence
        if len(matches) > 1:
            rival = matches[1]
            same = rival.priority == best.priority
            confidence -= RIVAL_PENALTY_SAME_PRIORITY if same else RIVAL_PENALTY_LOWER_PRIORITY
        scores[best.agent] = confidence
        rivals = ", ".join(m.agent for m in matches[1:])
        reason = f"rule matched {best.matched!r}" + (f" (also matched: {rivals})" if rivals else "")
        return RouteDecision(
            best.agent, max(confidence, 0.0), self.strategy, scores, reason=reason, method="rules"
        )

    def route(self, text: str) -> RouteDecision:
        start = time.perf_counter()
        decision = self.decide(text)
        decision.elapsed_ms = (time.perf_counter() - start) * 1000
        return decision
