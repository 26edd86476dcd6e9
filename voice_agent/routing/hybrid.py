"""Hybrid routing: a confident rule answers at once, otherwise embeddings decide."""

from __future__ import annotations

import time

from voice_agent.routing.decision import RouteDecision
from voice_agent.routing.embeddings import EmbeddingRouter
from voice_agent.routing.rules import RuleRouter

# How far below its threshold an agent's embedding score may be when a rule agrees.
AGREEMENT_SLACK = 0.1


class HybridRouter:
    strategy = "hybrid"

    def __init__(self, rules: RuleRouter, embeddings: EmbeddingRouter, rule_confidence: float):
        self.rules = rules
        self.embeddings = embeddings
        self.encoder = embeddings.encoder
        self.rule_confidence = rule_confidence
        self.fallback = rules.fallback

    def warmup(self) -> None:
        self.embeddings.warmup()

    def decide(self, text: str) -> RouteDecision:
        by_rule = self.rules.decide(text)
        if not by_rule.fallback and by_rule.confidence >= self.rule_confidence:
            by_rule.strategy = self.strategy
            return by_rule
        emb_scores = self.embeddings.scores(text)
        by_emb = self.embeddings.decide_from_scores(emb_scores)
        by_emb.strategy = self.strategy
        if by_rule.fallback:
            return by_emb
        agent = by_rule.agent
        agreed = by_emb.agent == agent and not by_emb.fallback
        close = emb_scores[agent] >= self.embeddings.thresholds[agent] - AGREEMENT_SLACK
        if agreed or (by_emb.fallback and close):
            # A weak rule and the nearest examples point the same way.
            confidence = 1 - (1 - by_rule.confidence) * (1 - emb_scores[agent])
            return RouteDecision(
                agent,
                confidence,
                self.strategy,
                {**emb_scores, agent: confidence},
                reason=f"{by_rule.reason}; examples agree ({emb_scores[agent]:.2f})",
                method="rules+embeddings",
            )
        by_emb.reason = f"weak rule for {agent} overruled; {by_emb.reason}"
        return by_emb

    def route(self, text: str) -> RouteDecision:
        start = time.perf_counter()
        decision = self.decide(text)
        decision.elapsed_ms = (time.perf_counter() - start) * 1000
        return decision
