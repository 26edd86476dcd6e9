"""Pick the LLM backend a profile asks for, and say in one line which and why."""

from __future__ import annotations

import warnings

from voice_agent.config import LlmConfig
from voice_agent.errors import ConfigError, ConfigWarning, ModelMissingError, UserError
from voice_agent.llm.base import LLM
from voice_agent.llm.llamacpp_backend import LlamaCppLLM
from voice_agent.llm.ollama_backend import OllamaError, OllamaLLM, resolve_host

# Connection refused is instant; this only bounds a host that swallows packets.
AUTO_PROBE_TIMEOUT_S = 0.5
# Asked for explicitly, Ollama may be slow to list its models under load.
EXPLICIT_PROBE_TIMEOUT_S = 5.0


def select_llm(config: LlmConfig) -> tuple[LLM, str]:
    """Build the backend for `config.backend` and a note for the user.

    "ollama" fails at once (UserError with the fix) if the server or model is
    missing: the user asked for it, so falling back silently would hide that.
    "auto" uses Ollama when it answers quickly, like Ollama, and has the model;
    else the embedded model, and the note says why.
    """
    if config.backend == "llamacpp":
        return _embedded(config, "llm.backend is llamacpp")
    if config.backend == "ollama":
        return _explicit_ollama(config)
    return _auto(config)


def check_ollama_host(config: LlmConfig) -> None:
    """Say at start, before any turn needs the LLM, that the Ollama address is malformed.

    Raises the ConfigError when the profile asks for Ollama; in "auto" mode warns
    (ConfigWarning), since the embedded model answers instead.
    """
    if config.backend == "llamacpp":
        return
    try:
        resolve_host(config.ollama_host)
    except ConfigError as exc:
        if config.backend == "ollama":
            raise
        warnings.warn(f"{exc} — the embedded model answers instead", ConfigWarning, stacklevel=2)


def _explicit_ollama(config: LlmConfig) -> tuple[LLM, str]:
    llm = OllamaLLM(config)
    try:
        llm.check(timeout=min(config.timeout_s, EXPLICIT_PROBE_TIMEOUT_S))
    except OllamaError as exc:
        llm.close()
        raise UserError(f"llm.backend is ollama, but {exc}") from None
    return llm, f"Using Ollama ({llm.model}) at {llm.host}: llm.backend is ollama"


def _auto(config: LlmConfig) -> tuple[LLM, str]:
    try:
        llm = OllamaLLM(config)
    except ConfigError as exc:
        return _instead_of_ollama(config, str(exc))
    ok, reason = llm.available(timeout=AUTO_PROBE_TIMEOUT_S)
    if ok:
        return llm, f"Using Ollama ({llm.model}) at {llm.host}: it is running and has the model"
    llm.close()
    return _instead_of_ollama(config, reason)


def _instead_of_ollama(config: LlmConfig, reason: str) -> tuple[LLM, str]:
    try:
        return _embedded(config, reason)
    except ModelMissingError as exc:
        raise ModelMissingError(f"{exc} (Ollama cannot stand in: {reason})") from None


def _embedded(config: LlmConfig, why: str) -> tuple[LLM, str]:
    llm = LlamaCppLLM(config)
    return llm, f"Using embedded llama.cpp ({llm.model_name}): {why}"
