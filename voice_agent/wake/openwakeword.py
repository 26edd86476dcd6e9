"""openWakeWord on this machine: the official models and tflite runtime of pyopen-wakeword.

Audio goes through three models: a mel spectrogram, a shared speech embedding (one per
80 ms from the last 775 ms), and each wake word's classifier over the last ~1.3 s of
embeddings. The classifier's score crosses `wake.threshold` for several 80 ms steps once
the phrase is complete: one detection is reported at the first, the next only after the
score fell below the threshold again and `REPEAT_S` passed.
"""

from __future__ import annotations

from pathlib import Path

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH
from voice_agent.wake.base import REPEAT_S, Detection, WakeError
from voice_agent.wake.words import models_dir, normalize

# The features model steps 80 ms at a time; fed less, it would only buffer.
CHUNK_BYTES = 1280 * SAMPLE_WIDTH


def model_path(word: str) -> Path:
    """A bundled wake word's verified model file, or the user's own .tflite file."""
    if word.endswith(".tflite"):
        path = Path(word).expanduser()
        if not path.is_file():
            raise WakeError(f"wake.words: no wake word model file {path}")
        return path
    from voice_agent import models

    return Path(models.resolve("wake", word))


class OpenWakeWordDetector:
    name = "openwakeword"

    def __init__(self, words: list[str], threshold: float) -> None:
        try:
            from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures
        except ImportError:
            raise WakeError(
                "wake.engine openwakeword needs pyopen-wakeword: run `make install`"
            ) from None
        folder = models_dir()
        assert folder is not None  # the import above found the package
        self.threshold = threshold
        try:
            self._features = OpenWakeWordFeatures.from_builtin(folder)
            self._models = {word: OpenWakeWord.from_model(model_path(word)) for word in words}
        except (OSError, RuntimeError, ValueError) as exc:
            raise WakeError(f"the openWakeWord runtime cannot start: {exc}") from None
        self._names = {word: normalize(word) for word in words}
        self._pending = bytearray()
        self._samples = 0  # fed to the models: the stream clock
        self._above: set[str] = set()  # words whose score is over the threshold now
        self._last: dict[str, float] = {}  # word -> stream time of its last detection

    def feed(self, frame: bytes) -> list[Detection]:
        self._pending += frame
        if len(self._pending) < CHUNK_BYTES:
            return []
        chunk = bytes(self._pending)
        self._pending.clear()
        self._samples += len(chunk) // SAMPLE_WIDTH
        at_s = self._samples / SAMPLE_RATE
        found = []
        for features in self._features.process_streaming(chunk):
            for word, model in self._models.items():
                for score in model.process_streaming(features):
                    if score < self.threshold:
                        self._above.discard(word)
                    elif word not in self._above:
                        self._above.add(word)
                        if at_s - self._last.get(word, float("-inf")) >= REPEAT_S:
                            self._last[word] = at_s
                            found.append(Detection(self._names[word], at_s))
        return found

    def settle(self, until_s: float) -> list[Detection]:
        return []  # every frame is heard as it is fed

    def close(self) -> None:
        for model in self._models.values():
            model.close()
        self._features.close()
