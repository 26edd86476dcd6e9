"""Speech-to-text with faster-whisper.

The model is resolved, loaded and tried on a moment of noise at start-up (`load()`/
`warmup()`), so a missing or damaged model is reported before the first turn, never
mid-conversation. `faster_whisper` is imported only then: it pulls in ctranslate2 and
PyAV, which would slow `voice-agent --help`.

Whisper writes text for non-speech now and then, more readily when primed with a prompt.
What comes back is cleaned: near-silent audio never reaches the model; segments of bare
punctuation or repetition loops ("beep, beep, beep, ...") are dropped; a transcript that
recites the vocabulary prompt is emptied. `no_speech_prob` is left for the caller to judge.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE
from voice_agent.config import SttConfig
from voice_agent.errors import ModelMissingError
from voice_agent.language.numbers import operand_homophones
from voice_agent.language.words import words
from voice_agent.models import known, resolve

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment

# Far below any speech (a quiet microphone's floor is around -70 to -55 dBFS, speech
# -40 to -15): such audio is not worth a model call.
SILENCE_DBFS = -60.0
# Whisper's own limit for a repetitive (looping) decode.
MAX_COMPRESSION_RATIO = 2.4
PROMPT_LEAD = "Commands like:"
MAX_PROMPT_TERMS = 40  # Whisper keeps at most 223 prompt tokens
ECHO_WORDS = 4  # this many prompt words in a row is a recital, not a request
# Speech yields at most about 5 tokens a second; a decode looping on non-speech would
# otherwise run to Whisper's 224-token limit (2 s on tiny.en). Kept below 448 minus the
# longest prompt faster-whisper sends.
TOKENS_PER_S = 8
MIN_TOKENS = 16
MAX_TOKENS = 200
# Whisper reads 30 s windows, the speech followed by silence; faster-whisper pads every
# utterance to one, and on 2 cores the encoder's pass over it is most of a command's
# transcription (tiny.en: 270 of 330 ms). `stt.window_s` shows the encoder less of that
# silence, never less than the speech plus TAIL_S: with a shorter tail Whisper does not
# hear the speech end and repeats it ("What's the weather in London? What's the ...").
FRAMES_PER_S = 100
WHISPER_WINDOW_S = 30.0
TAIL_S = 5.0
# What faster-whisper reads from a model folder; without tokenizer.json it would fetch one
# from the Hugging Face hub.
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


@dataclass(frozen=True)
class Transcript:
    """What was said in one utterance, and how sure Whisper was that it was speech."""

    text: str  # stripped, single spaces; empty when nothing was said
    language: str
    duration_s: float  # of the audio
    elapsed_ms: float  # model time, lock wait excluded; 0 when the model was skipped
    segments: tuple[str, ...] = ()
    avg_logprob: float = 0.0  # best decoded segment's; near 0 is confident
    no_speech_prob: float = 1.0  # most speech-like decoded segment's; 1 when none was decoded


def vocabulary_prompt(vocabulary: list[str]) -> str | None:
    """An initial prompt naming the agents' terms, so Whisper spells and expects them."""
    terms = list(dict.fromkeys(t.strip() for t in vocabulary if t.strip()))
    if not terms:
        return None
    return f"{PROMPT_LEAD} {', '.join(terms[:MAX_PROMPT_TERMS])}."


def without_stray_quote(text: str) -> str:
    """`text` without a quotation mark Whisper left unpaired at its end or start ('Cancel the
    timer."'): it would be read out, and kept in what the user is quoted as saying."""
    if text.count('"') % 2 == 0:
        return text
    if text.endswith('"'):
        return text[:-1].rstrip()
    return text[1:].lstrip() if text.startswith('"') else text


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """16-bit little-endian PCM -> float32 in [-1, 1), the form faster-whisper takes."""
    if len(pcm) % 2:
        raise ValueError(f"int16 PCM needs an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def level_dbfs(audio: np.ndarray) -> float:
    """RMS level of float audio in dB below full scale; -inf for digital silence."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


class WhisperSTT:
    """faster-whisper behind a lock; one instance serves every turn."""

    def __init__(self, config: SttConfig, vocabulary: list[str] | None = None) -> None:
        self.config = config
        self.prompt = vocabulary_prompt(vocabulary or []) if config.vocabulary_prompt else None
        self.load_ms: float | None = None
        self._echoes = _ngrams(words(self.prompt or ""), ECHO_WORDS)
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Resolve, load and try the model once; raises ModelMissingError (one line, with the
        fix) when it is missing or damaged."""
        with self._lock:
            if self._model is None:
                start = time.perf_counter()
                self._model = _load_model(self.config)
                self.load_ms = (time.perf_counter() - start) * 1000

    def warmup(self) -> None:
        """Load: trying the model on noise also warms it, so the first real turn is not cold."""
        self.load()

    def transcribe(self, pcm: bytes, context: str | None = None) -> Transcript:
        """Transcribe one endpointed utterance of 16 kHz mono int16 PCM.

        `context` is what the assistant just asked ("Which city?"): Whisper reads it as the
        text before the utterance, which is how it was trained to use a prompt, so a short
        answer is heard as an answer to it ("In Paris." rather than "In pairs.")."""
        audio = pcm_to_float(pcm)
        duration = audio.size / SAMPLE_RATE
        if level_dbfs(audio) < SILENCE_DBFS:
            return Transcript("", self.config.language or "", duration, 0.0)
        self.load()
        options = self._options(duration, context)
        with self._lock:
            self._model.window_frames = window_frames(duration, self.config.window_s)
            start = time.perf_counter()
            segments, info = self._model.transcribe(audio, **options)
            decoded = list(segments)  # the generator decodes: it must run under the lock
            elapsed = (time.perf_counter() - start) * 1000
        return self._result(decoded, info.language, duration, elapsed, context)

    def _options(self, duration: float, context: str | None = None) -> dict[str, Any]:
        cfg = self.config
        tokens = MIN_TOKENS + TOKENS_PER_S * min(duration, WHISPER_WINDOW_S)  # per window
        return {
            "language": cfg.language,
            "beam_size": cfg.beam_size,
            "best_of": cfg.best_of,
            "temperature": _temperatures(cfg.temperature),
            "condition_on_previous_text": False,
            "without_timestamps": True,  # commands need no timing, and it saves decode steps
            "vad_filter": False,  # our endpointer already cut the utterance
            "initial_prompt": " ".join(p for p in (self.prompt, context) if p) or None,
            "max_new_tokens": min(MAX_TOKENS, round(tokens)),
        }

    def _result(
        self,
        decoded: list[Segment],
        language: str,
        duration: float,
        elapsed: float,
        context: str | None = None,
    ) -> Transcript:
        kept = [" ".join(s.text.split()) for s in decoded if _is_speech(s)]
        text = without_stray_quote(operand_homophones(" ".join(kept)))
        # A decode that only repeats the question is the prompt, not the user's answer.
        if self._recites_prompt(text) or (context and words(text) == words(context)):
            text, kept = "", []
        return Transcript(
            text=text,
            language=language,
            duration_s=duration,
            elapsed_ms=elapsed,
            segments=tuple(kept),
            avg_logprob=max((s.avg_logprob for s in decoded), default=0.0),
            no_speech_prob=min((s.no_speech_prob for s in decoded), default=1.0),
        )

    def _recites_prompt(self, text: str) -> bool:
        if not self.prompt:
            return False
        said = words(text)
        lead = tuple(words(PROMPT_LEAD))
        return lead in _ngrams(said, len(lead)) or bool(self._echoes & _ngrams(said, ECHO_WORDS))


def window_frames(duration_s: float, window_s: float) -> int:
    """How many feature frames of its 30 s window the encoder reads (an even number: it
    halves them)."""
    seconds = min(WHISPER_WINDOW_S, max(window_s, duration_s + TAIL_S))
    return 2 * math.ceil(seconds * FRAMES_PER_S / 2)


def _is_speech(segment: Segment) -> bool:
    """Bare punctuation (". .") and repetition loops are what non-speech decodes to."""
    return bool(words(segment.text)) and segment.compression_ratio <= MAX_COMPRESSION_RATIO


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _temperatures(temperature: float) -> float | tuple[float, ...]:
    """0 is one deterministic pass: faster-whisper's fallback ladder samples at random.

    Above 0 the ladder starts at the configured temperature and climbs to 1 in steps of
    0.2 whenever a decode looks wrong, as Whisper does.
    """
    if temperature == 0:
        return 0.0
    steps = int((1.0 - temperature) / 0.2 + 1e-9)
    return tuple(round(temperature + 0.2 * i, 2) for i in range(steps + 1))


def _load_model(config: SttConfig) -> WhisperModel:
    """The model, loaded and tried: a damaged folder may load and fail only on its first
    decode (a config.json without Whisper's settings), which is found here instead."""
    path = _model_dir(config.model)
    label = f"Whisper model {config.model}"
    if path != Path(config.model).expanduser():
        label += f" ({path})"
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise ModelMissingError(
            f"{label} is incomplete: no {', '.join(missing)}; {_repair(config.model)}"
        )
    try:
        model = _windowed_whisper()(
            str(path),
            device="cpu",
            compute_type=config.compute_type,
            cpu_threads=config.cpu_threads,
        )
        segments, _ = model.transcribe(
            _noise(), language=config.language, beam_size=1, max_new_tokens=4, vad_filter=False
        )
        list(segments)
    # ctranslate2, tokenizers (a bare Exception), json and PyAV share no base class.
    except Exception as exc:  # noqa: BLE001
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelMissingError(
            f"{label} cannot be loaded: {reason}; check stt.compute_type, or "
            f"{_repair(config.model)}"
        ) from None
    return model


def _windowed_whisper() -> type[WhisperModel]:
    """faster-whisper's model, its encoder reading the first `window_frames` of each padded
    30 s segment (CTranslate2 takes inputs shorter than 3000 frames)."""
    from faster_whisper import WhisperModel

    class WindowedWhisper(WhisperModel):
        window_frames = int(WHISPER_WINDOW_S * FRAMES_PER_S)

        def encode(self, features: np.ndarray) -> Any:
            return super().encode(features[..., : self.window_frames])

    return WindowedWhisper


def _repair(name: str) -> str:
    """How to get a good copy: bundled models are rebuilt, the user's own replaced."""
    if name in known("stt"):
        return "run `voice-agent models prepare`"
    return f"point stt.model at a complete CTranslate2 Whisper folder ({', '.join(MODEL_FILES)})"


def _noise() -> np.ndarray:
    """One second of faint noise (about -40 dBFS): enough for Whisper to run a decode."""
    return np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE).astype(np.float32)


def _model_dir(name: str) -> Path:
    """A folder to load: bundled or local as it is, a hub name downloaded (online) now."""
    found = resolve("stt", name)
    if isinstance(found, Path):
        return found
    from faster_whisper.utils import download_model

    try:
        return Path(download_model(found))
    except ValueError:
        raise ModelMissingError(
            f"unknown Whisper model '{name}': use tiny.en or base, a local CTranslate2 folder, "
            "or a faster-whisper hub name such as small.en or Systran/faster-whisper-medium"
        ) from None
    except OSError as exc:  # offline, unknown repository, HTTP error: all OSErrors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelMissingError(
            f"Whisper model {name} is not bundled and could not be downloaded from the "
            f"Hugging Face hub ({reason}); connect to the internet once, or use tiny.en or base"
        ) from None
