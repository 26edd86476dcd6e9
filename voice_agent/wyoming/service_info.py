"""What `serve` tells a client that sends `Describe`: the profile's Whisper, its voice, the
wake words it detects (when served: see wake_stream.py) and the assistant itself (`handle`)."""

from __future__ import annotations

from importlib.metadata import version

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
    WakeModel,
    WakeProgram,
)

from voice_agent.config import Settings

NAME = "voice-agent"
OURS = Attribution(name="voice-agent", url="")
OPENWAKEWORD = Attribution(name="openWakeWord", url="https://github.com/dscripka/openWakeWord")
WHISPER = Attribution(
    name="OpenAI Whisper, faster-whisper", url="https://github.com/SYSTRAN/faster-whisper"
)
PIPER = Attribution(name="Piper", url="https://github.com/rhasspy/piper")
ESPEAK = Attribution(name="eSpeak NG", url="https://github.com/espeak-ng/espeak-ng")
ENGLISH = ["en"]  # the agents' rules, examples and answers are English


def server_info(settings: Settings, wake_words: list[str] | None = None) -> Info:
    ours = version("voice-agent")
    stt, tts = settings.stt, settings.tts
    piper = tts.engine == "piper"
    voice = tts.piper_voice if piper else (tts.voice or "espeak-ng")
    info = Info(
        asr=[
            AsrProgram(
                name=NAME,
                description="voice-agent's speech recognition (faster-whisper)",
                attribution=OURS,
                installed=True,
                version=ours,
                models=[
                    AsrModel(
                        name=stt.model,
                        description=f"Whisper {stt.model}, beam {stt.beam_size}",
                        attribution=WHISPER,
                        installed=True,
                        version=None,
                        languages=_whisper_languages(stt.model, stt.language),
                    )
                ],
            )
        ],
        tts=[
            TtsProgram(
                name=NAME,
                description=f"voice-agent's voice ({tts.engine})",
                attribution=OURS,
                installed=True,
                version=ours,
                voices=[
                    TtsVoice(
                        name=voice,
                        description=f"{tts.engine} {voice}",
                        attribution=PIPER if piper else ESPEAK,
                        installed=True,
                        version=None,
                        languages=[voice.split("-")[0]] if piper else ENGLISH,
                    )
                ],
                supports_synthesize_streaming=True,
            )
        ],
        handle=[
            HandleProgram(
                name=NAME,
                description="voice-agent's assistant: calculator, time and timers, weather, "
                "notes, memory and a local language model; it controls no devices",
                attribution=OURS,
                installed=True,
                version=ours,
                models=[
                    HandleModel(
                        name=settings.name,
                        description=settings.description or f"the {settings.name} profile",
                        attribution=OURS,
                        installed=True,
                        version=None,
                        languages=ENGLISH,
                    )
                ],
                supports_home_control=False,
            )
        ],
    )
    if wake_words:
        info.wake = [
            WakeProgram(
                name=NAME,
                description="voice-agent's wake words (openWakeWord)",
                attribution=OURS,
                installed=True,
                version=ours,
                models=[
                    WakeModel(
                        name=word,
                        description=word.replace("_", " "),
                        attribution=OPENWAKEWORD,
                        installed=True,
                        version=None,
                        languages=ENGLISH,
                        phrase=word.replace("_", " "),
                    )
                    for word in wake_words
                ],
            )
        ]
    return info


def _whisper_languages(model: str, language: str | None) -> list[str]:
    """The language Whisper is held to, or every language a multilingual model knows."""
    if language:
        return [language]
    if model.endswith(".en"):
        return ENGLISH
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return sorted(_LANGUAGE_CODES)
