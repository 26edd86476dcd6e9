"""Pick the LLM backend a profile asks for, and say in one line which and why."""

from __future__ import annotations

from voice_agent.config import LlmConfig
from voice_agent.errors import ModelMissingError, UserError
from voice_agent.llm.base import LLM
from voice_agent.llm.llamacpp_backend import LlamaCppLLM
from voice_agent.llm.ollama_backend import OllamaError, OllamaLLM

# Connection refused is instant; this only bounds a host that swallows packets.
AUTO_PROBE_TIMEOUT_S = 0.5
# Asked for explicitly, Ollama may be slow to list its models under load.
EXPLICIT_PROBE_TIMEOUT_S = 5.0


def select_llm(config: LlmConfig) -> tuple[LLM, str]:
    """Build the backend for `config.backend` and a note for the user.

    "ollama" fails at once (UserError with the fix) if the server or model is
    missing: the user asked for it, so falling back silently would hide that.
    "auto" uses Ollama when it answers quickly and has the model, else the
    embedded model.
    """
    if config.backend == "llamacpp":
        return _embedded(config, "llm.backend is llamacpp")
    if config.backend == "ollama":
        return _explicit_ollama(config)
    return _auto(config)


def _explicit_ollama(config: LlmConfig) -> tuple[LLM, str]:
    llm = OllamaLLM(config)
    try:
        llm.check(timeout=min(config.timeout_s, EXPLICIT_PROBE_TIMEOUT_S))
    except OllamaError as exc:
        llm.close()
        raise UserError(f"llm.backend is ollama, but {exc}") from None
    return llm, f"Using Ollama ({llm.model}) at {llm.host}: llm.backend is ollama"


def _auto(config: LlmConfig) -> tuple[LLM, str]:
    llm = OllamaLLM(config)
    ok, reason = llm.available(timeout=AUTO_PROBE_TIMEOUT_S)
    if ok:
        return llm, f"Using Ollama ({llm.model}) at {llm.host}: it is running and has the model"
    llm.close()
    try:
        return _embedded(config, reason)
    except ModelMissingError as exc:
        raise ModelMissingError(f"{exc} (Ollama cannot stand in: {reason})") from None


def _embedded(config: LlmConfig, why: str) -> tuple[LLM, str]:
    llm = LlamaCppLLM(config)
    return llm, f"Using embedded llama.cpp ({llm.model_name}): {why}"
