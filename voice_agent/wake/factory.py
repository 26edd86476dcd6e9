"""The wake word gate a profile asks for (wake.enabled), with its engine; None without."""

from __future__ import annotations

from collections.abc import Callable

from voice_agent.config import WakeConfig
from voice_agent.events import EventHandler
from voice_agent.wake.base import WakeDetector
from voice_agent.wake.gate import WakeGate


def build_detector(
    config: WakeConfig, notify: Callable[[str], None] = lambda message: None
) -> WakeDetector:
    """The engine for `config.engine`; raises WakeError when it cannot start."""
    if config.engine == "wyoming":
        from voice_agent.wake.wyoming import WyomingWakeDetector

        return WyomingWakeDetector(config.uri or "", config.words, notify)
    from voice_agent.wake.openwakeword import OpenWakeWordDetector

    return OpenWakeWordDetector(config.words, config.threshold)


def build_gate(
    config: WakeConfig, emit: EventHandler, notify: Callable[[str], None]
) -> WakeGate | None:
    if not config.enabled:
        return None
    return WakeGate(build_detector(config, notify), config.words, config.follow_up_s, emit)
