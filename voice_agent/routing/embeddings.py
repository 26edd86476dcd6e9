"""Embedding routing: nearest example utterances per agent (sentence-transformers)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from voice_agent.agents.spec import AgentSpec
from voice_agent.errors import ConfigWarning, ModelMissingError
from voice_agent.paths import cache_home
from voice_agent.routing.decision import RouteDecision, routed_text
from voice_agent.routing.exemplar_cache import shared

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)
WITHOUT_EMBEDDINGS = "routing goes by the rules alone meanwhile, and memory by shared words"


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        ...


class EmbeddingsUnavailable(ModelMissingError):
    """The embedding model cannot be loaded: routing goes by the rules, memory by words."""


def load_sentence_transformer(name: str) -> SentenceTransformer:
    """The sentence-transformers model `name` names, loaded offline on the CPU; raises
    EmbeddingsUnavailable (one line, with the fix) when it is missing or damaged."""
    from voice_agent.models import known, resolve

    repair = (
        "run `voice-agent models prepare`"
        if name in known("embeddings")
        else "point routing.embedding_model at a complete sentence-transformers folder"
    )
    try:
        path = resolve("embeddings", name)
        # The model is local: never let the hub client reach out.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import torch
        from sentence_transformers import SentenceTransformer

        # One short sentence gains little from a second thread, and two threads
        # spin against any other busy process: 490 ms instead of 15 ms measured here.
        torch.set_num_threads(1)
        return SentenceTransformer(str(path), device="cpu")
    except ModelMissingError as exc:
        raise EmbeddingsUnavailable(str(exc)) from None
    # safetensors, transformers, tokenizers, json and a missing package share no base class.
    except Exception as exc:  # noqa: BLE001
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EmbeddingsUnavailable(
            f"embedding model {name} cannot be loaded: {reason}; {repair}"
        ) from None


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the packaged model; torch is imported on first use only.

    A model that cannot be loaded is tried once: every later call raises
    EmbeddingsUnavailable at once, and the user is warned the first time only.
    """

    def __init__(self, model_name: str) -> None:
        self.name = model_name
        self._model = None
        self._failure: str | None = None
        self._lock = threading.Lock()

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None and self._failure is None:
                try:
                    self._model = load_sentence_transformer(self.name)
                except EmbeddingsUnavailable as exc:
                    self._failure = str(exc)
                    log.warning("%s", exc)
                    warnings.warn(f"{exc} ({WITHOUT_EMBEDDINGS})", ConfigWarning, stacklevel=2)
            if self._model is None:
                raise EmbeddingsUnavailable(self._failure)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class EmbeddingRouter:
    strategy = "embeddings_only"

    def __init__(
        self,
        specs: dict[str, AgentSpec],
        encoder: Encoder,
        *,
        top_k: int = 3,
        threshold: float = 0.45,
        threshold_boost: float = 0.0,
        margin: float = 0.0,
        fallback: str = "general",
        cache_dir: Path | None = None,
    ) -> None:
        self.encoder = encoder
        self.top_k = top_k
        self.margin = margin
        self.fallback = fallback
        self.thresholds = {
            name: (spec.threshold if spec.threshold is not None else threshold) + threshold_boost
            for name, spec in specs.items()
        }
        self._examples = {name: spec.examples for name, spec in specs.items()}
        self._cache_dir = cache_dir or cache_home() / "embeddings"
        self._matrix: dict[str, np.ndarray] | None = None

    def _exemplars(self) -> dict[str, np.ndarray]:
        if self._matrix is None:
            self._matrix = {name: self._cached(name, ex) for name, ex in self._examples.items()}
        return self._matrix

    def _cached(self, agent: str, examples: list[str]) -> np.ndarray:
        """Exemplar embeddings on disk, keyed by model and a hash of the examples."""
        digest = hashlib.sha256("\n".join(examples).encode()).hexdigest()[:16]
        model = self.encoder.name
        if Path(model).name != model:  # a path: its hash, not the model's own folder
            model = hashlib.sha256(model.encode()).hexdigest()[:16]
        path = self._cache_dir / model / f"{agent}-{digest}.npy"
        return shared(path, len(examples), lambda: self.encoder.encode(examples))

    def warmup(self) -> None:
        self._exemplars()
        self.encoder.encode(["warm up"])

    def scores(self, text: str) -> dict[str, float]:
        query = self.encoder.encode([routed_text(text)])[0]
        result = {}
        for name, matrix in self._exemplars().items():
            sims = matrix @ query
            k = min(self.top_k, len(sims))
            result[name] = float(np.mean(np.partition(sims, -k)[-k:]))
        return result

    def decide_from_scores(self, scores: dict[str, float]) -> RouteDecision:
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        best, best_score = ranked[0]
        runner_score = ranked[1][1] if len(ranked) > 1 else 0.0
        needed = self.thresholds[best]
        if best_score < needed:
            return RouteDecision(
                self.fallback,
                1 - best_score,
                self.strategy,
                scores,
                fallback=True,
                reason=f"no specialist fits: best {best} {best_score:.2f} < {needed:.2f}",
                method="none",
            )
        if best != self.fallback and best_score - runner_score < self.margin:
            return RouteDecision(
                self.fallback,
                1 - best_score,
                self.strategy,
                scores,
                fallback=True,
                reason=(
                    f"no specialist fits: {best} {best_score:.2f} and {ranked[1][0]} "
                    f"{runner_score:.2f} are too close"
                ),
                method="none",
            )
        return RouteDecision(
            best,
            best_score,
            self.strategy,
            scores,
            reason=f"nearest examples: {best} {best_score:.2f} (next {ranked[1][0]} "
            f"{runner_score:.2f})",
            method="embeddings",
        )

    def route(self, text: str) -> RouteDecision:
        start = time.perf_counter()
        decision = self.decide_from_scores(self.scores(text))
        decision.elapsed_ms = (time.perf_counter() - start) * 1000
        return decision
