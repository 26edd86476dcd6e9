"""Pick the TTS engine a profile names; engines import their libraries lazily."""

from __future__ import annotations

from voice_agent.config import TtsConfig
from voice_agent.tts.base import TTS


def build_tts(config: TtsConfig) -> TTS:
    """The engine for `config.engine`; raises UserError when it is not installed."""
    if config.engine == "piper":
        from voice_agent.tts.piper_engine import PiperTTS

        return PiperTTS(config)
    from voice_agent.tts.pyttsx3_engine import Pyttsx3TTS

    return Pyttsx3TTS(config)
