"""The record every router returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol


@dataclass
class RouteDecision:
    agent: str
    confidence: float
    strategy: str  # rules_only | embeddings_only | hybrid
    scores: dict[str, float] = field(default_factory=dict)  # per agent, same scale as confidence
    elapsed_ms: float = 0.0
    fallback: bool = False  # True: no specialist fits, the fallback agent answers
    reason: str = ""  # e.g. "rule matched: 'times'" or "best weather 0.31 < threshold 0.45"
    method: str = ""  # what decided: rules | embeddings | rules+embeddings | none

    def to_dict(self) -> dict:
        data = asdict(self)
        data["confidence"] = round(self.confidence, 3)
        data["scores"] = {k: round(v, 3) for k, v in self.scores.items()}
        data["elapsed_ms"] = round(self.elapsed_ms, 3)
        return data


class Router(Protocol):
    strategy: str

    def route(self, text: str) -> RouteDecision: ...
