"""Piper neural text to speech (piper-tts 1.x), an optional extra because it is GPL-3.0."""

from __future__ import annotations

import importlib.util
import threading
import weakref
from pathlib import Path
from typing import Any

from voice_agent import models
from voice_agent.config import TtsConfig
from voice_agent.errors import ModelMissingError, UserError
from voice_agent.tts.base import Speech
from voice_agent.tts.chunker import speakable

_INSTALL = (
    "Piper is not installed: run `pip install -e '.[piper]'` (piper-tts is GPL-3.0, hence an "
    "optional extra), or use tts.engine: pyttsx3"
)


# Piper phonemizes through its bundled espeak-ng, whose state is process-global: one lock
# for all instances. Loaded voices are shared too (63 MB and 1.5 s each for a medium voice).
_lock = threading.Lock()
_loaded: weakref.WeakValueDictionary[Path, Any] = weakref.WeakValueDictionary()


class PiperTTS:
    """Speech from a Piper voice; the voice loads on `warmup()` or the first sentence.

    `config.length_scale` multiplies the voice's own pace (<1 is faster).
    """

    name = "piper"

    def __init__(self, config: TtsConfig) -> None:
        if importlib.util.find_spec("piper") is None:
            raise UserError(_INSTALL)
        self.model_path = Path(models.resolve("tts", config.piper_voice))
        self._length_scale = config.length_scale
        self._variation = config.variation
        self._voice: Any = None  # piper.PiperVoice once loaded
        self._syn_config: Any = None

    @property
    def sample_rate(self) -> int:
        """The voice's sample rate (loads the voice)."""
        with _lock:
            return self._load().config.sample_rate

    def synthesize(self, text: str) -> Speech:
        """Speak `text` (normalised with `speakable`) into memory."""
        text = speakable(text)
        with _lock:
            voice = self._load()
            chunks = list(voice.synthesize(text, self._syn_config)) if text else []
        return Speech(b"".join(c.audio_int16_bytes for c in chunks), voice.config.sample_rate)

    def warmup(self) -> None:
        """Load the voice (about 1.5 s) and run it once: the first inference is the slowest."""
        self.synthesize("Ready.")

    def close(self) -> None:
        """Drop this instance's hold on the voice; it is freed when no instance uses it."""
        with _lock:
            self._voice = None

    def _load(self) -> Any:
        if self._voice is None:
            self._voice = _loaded.get(self.model_path) or self._load_voice()
            _loaded[self.model_path] = self._voice
            self._syn_config = self._synthesis_config(self._voice)
        return self._voice

    def _load_voice(self) -> Any:
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise UserError(f"{_INSTALL} ({exc})") from None
        try:
            return PiperVoice.load(self.model_path)
        except Exception as exc:  # onnxruntime and json raise many types; all mean a bad file
            raise ModelMissingError(
                f"{self.model_path}: cannot load this Piper voice: {exc}"
            ) from None

    def _synthesis_config(self, voice: Any) -> Any:
        from piper import SynthesisConfig

        return SynthesisConfig(
            length_scale=voice.config.length_scale * self._length_scale,
            noise_scale=voice.config.noise_scale * self._variation,
            noise_w_scale=voice.config.noise_w_scale * self._variation,
        )
