"""Pick the TTS engine a profile names; engines import their libraries lazily."""

from __future__ import annotations

from collections.abc import Callable

from voice_agent.config import TtsConfig
from voice_agent.tts.base import TTS


def build_tts(config: TtsConfig, notify: Callable[[str], None] = lambda message: None) -> TTS:
    """The engine for `config.engine`; raises UserError when it is not installed.
    `notify` hears when a Wyoming server's fallback stands in."""
    if config.engine == "wyoming":
        from voice_agent.wyoming.failover import Failover, FailoverTTS
        from voice_agent.wyoming.tts import ROLE, WyomingTTS

        local = None
        if config.fallback:  # with its own default voice: tts.voice names the server's
            local_config = config.model_copy(update={"engine": config.fallback, "voice": None})
            local = lambda: build_tts(local_config)  # noqa: E731
        failover = Failover(ROLE, config.uri or "", local, config.fallback, notify)
        return FailoverTTS(WyomingTTS(config), failover)
    if config.engine == "piper":
        from voice_agent.tts.piper_engine import PiperTTS

        return PiperTTS(config)
    from voice_agent.tts.pyttsx3_engine import Pyttsx3TTS

    return Pyttsx3TTS(config)
