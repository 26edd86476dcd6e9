"""Semantic end of turn: does the speech so far sound like a finished turn?

Smart Turn v3.2 (pipecat's BSD-2 model, an 8.7 MB ONNX file; see models.py) reads the
Whisper log-mel spectrogram of the last 8 s of a turn and returns the probability that the
speaker has finished. It keys on prosody as well as words: "Convert eight…" trails off
differently from "…ounces to grams." Its preprocessing is reproduced here, as pipecat's
`LocalSmartTurnAnalyzerV3` does it, from faster-whisper's own feature extractor:
- the last 8 s of 16 kHz audio, zero-padded at the start when shorter;
- the waveform normalised to zero mean and unit variance (Whisper itself does not do this);
- 80 mel bins x 800 frames (10 ms hop; the extractor's trailing frame dropped), as
  `input_features` [batch, 80, 800].

onnxruntime is imported on `load()`; one thread keeps a call at about 110 ms here and
leaves the other core to Whisper.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE
from voice_agent.errors import ModelMissingError

if TYPE_CHECKING:
    from faster_whisper.feature_extractor import FeatureExtractor

WINDOW_S = 8
WINDOW = WINDOW_S * SAMPLE_RATE
NORMALISE_EPS = 1e-7  # as in transformers' WhisperFeatureExtractor (zero-mean unit-variance)


class TurnModel(Protocol):
    def probability_finished(self, pcm: bytes) -> float:
        """0..1: how likely the speaker has finished, given a turn's 16 kHz int16 audio."""
        ...


class SmartTurn:
    """Smart Turn v3.x on onnxruntime (CPU)."""

    def __init__(self, model: str = "smart-turn-v3.2", threads: int = 1) -> None:
        self.model = model
        self.threads = threads
        self._session: Any = None
        self._features: FeatureExtractor | None = None

    def load(self) -> None:
        """Resolve, verify and load the model; a missing or damaged file raises with the fix."""
        if self._session is not None:
            return
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        from voice_agent.models import resolve

        path = resolve("turn", self.model)
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = self.threads
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own opaque types
            raise ModelMissingError(
                f"end-of-turn model {self.model} cannot be loaded from {Path(path)}: {exc}"
            ) from None
        self._features = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE)

    def probability_finished(self, pcm: bytes) -> float:
        self.load()
        assert self._features is not None
        audio = np.frombuffer(pcm, dtype="<i2")[-WINDOW:].astype(np.float32) / 32768.0
        audio = np.pad(audio, (WINDOW - len(audio), 0))
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + NORMALISE_EPS)
        # padding=0: 8 s give 801 frames, of which the extractor drops the last.
        mel = self._features(audio, padding=0)
        (probability,) = self._session.run(None, {"input_features": mel[np.newaxis]})
        return float(np.asarray(probability).reshape(-1)[0])
