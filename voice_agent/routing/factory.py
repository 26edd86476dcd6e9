"""Build the router a profile asks for."""

from __future__ import annotations

from voice_agent.agents.spec import AgentSpec
from voice_agent.config import RoutingConfig
from voice_agent.routing.decision import Router
from voice_agent.routing.embeddings import EmbeddingRouter, Encoder, SentenceTransformerEncoder
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
        return embeddings
    if strategy == "hybrid":
        return HybridRouter(rules, embeddings, config.rule_confidence)
    raise ValueError(f"unknown routing strategy {strategy!r} (expected one of {STRATEGIES})")
