"""Build the router a profile asks for."""

from __future__ import annotations

from contextlib import suppress

from voice_agent.agents.spec import AgentSpec
from voice_agent.config import RoutingConfig
from voice_agent.routing.decision import RouteDecision, Router
from voice_agent.routing.embeddings import (
    EmbeddingRouter,
    EmbeddingsUnavailable,
    Encoder,
    SentenceTransformerEncoder,
)
from voice_agent.routing.hybrid import HybridRouter
from voice_agent.routing.rules import RuleRouter

STRATEGIES = ("rules_only", "embeddings_only", "hybrid")


def build_router(
    config: RoutingConfig,
    specs: dict[str, AgentSpec],
    strategy: str | None = None,
    encoder: Encoder | None = None,
) -> Router:
    strategy = strategy or config.strategy
    rules = RuleRouter(specs, fallback=config.fallback_agent)
    if strategy == "rules_only":
        return rules
    embeddings = EmbeddingRouter(
        specs,
        encoder or SentenceTransformerEncoder(config.embedding_model),
        top_k=config.top_k,
        threshold=config.threshold,
        threshold_boost=config.threshold_boost,
        margin=config.margin,
        fallback=config.fallback_agent,
    )
    if strategy == "embeddings_only":
        return RulesWithoutEmbeddings(embeddings, rules)
    if strategy == "hybrid":
        return RulesWithoutEmbeddings(
            HybridRouter(rules, embeddings, config.rule_confidence), rules
        )
    raise ValueError(f"unknown routing strategy {strategy!r} (expected one of {STRATEGIES})")


class RulesWithoutEmbeddings:
    """A router that needs embeddings, with the rules answering alone whenever the embedding
    model cannot be loaded (the encoder warns once), so no turn fails on it."""

    def __init__(self, router: EmbeddingRouter | HybridRouter, rules: RuleRouter) -> None:
        self.router = router
        self.rules = rules
        self.strategy = router.strategy
        self.encoder = router.encoder

    def warmup(self) -> None:
        with suppress(EmbeddingsUnavailable):
            self.router.warmup()

    def route(self, text: str) -> RouteDecision:
        try:
            return self.router.route(text)
        except EmbeddingsUnavailable:
            decision = self.rules.route(text)
            decision.reason += " (rules alone: the embedding model cannot be loaded)"
            return decision
