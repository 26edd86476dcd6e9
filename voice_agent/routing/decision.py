"""What every router reads (the start of a request) and the record it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

# A request is routed on its first this many characters; the agent still gets all of it.
# About what anyone says in one breath (20 s of speech, the longest utterance a profile
# records, is some 60 words, 350 characters) and longer than any request in the benchmarks;
# what is asked is said at the start. It also bounds the rules' work: a quadratic pattern
# takes about a millisecond on 500 characters, and 10 s on 100 KB.
MAX_ROUTED_CHARS = 500


def routed_text(text: str) -> str:
    """The part of a request routing looks at."""
    return text[:MAX_ROUTED_CHARS]


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
