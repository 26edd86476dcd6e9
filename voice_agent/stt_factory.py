"""Pick the speech-to-text engine a profile names; engines import their libraries lazily."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from voice_agent.config import SttConfig

if TYPE_CHECKING:
    from voice_agent.stt import WhisperSTT
    from voice_agent.wyoming.failover import FailoverSTT


def build_stt(
    config: SttConfig,
    vocabulary: list[str] | None = None,
    notify: Callable[[str], None] = lambda message: None,
) -> WhisperSTT | FailoverSTT:
    """The engine for `config.engine`; `notify` hears when a server's fallback stands in."""
    from voice_agent.stt import WhisperSTT

    if config.engine != "wyoming":
        return WhisperSTT(config, vocabulary)
    from voice_agent.wyoming.failover import Failover, FailoverSTT
    from voice_agent.wyoming.stt import ROLE, WyomingSTT

    local = (lambda: WhisperSTT(config, vocabulary)) if config.fallback else None
    failover = Failover(ROLE, config.uri or "", local, config.fallback, notify)
    return FailoverSTT(WyomingSTT(config, vocabulary), failover)
