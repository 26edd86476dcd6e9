"""Wake word names: the models bundled with pyopen-wakeword, and how each is spoken.

Found from the installed package's files, without importing it (config validation and
`--help` stay fast).
"""

from __future__ import annotations

import importlib.util
import re
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path

PACKAGE = "pyopen_wakeword"
# The package's feature models, beside the wake word models in the same folder.
FEATURE_MODELS = ("melspectrogram", "embedding_model")
# A server may name a model with its version: hey_jarvis_v0.1.
_VERSION = re.compile(r"_v[0-9.]+$")
# How close a heard word must be to a wake word's word to count as it ("jarvis": "jervis",
# not "jars"): spelled alike, and at most one letter longer or shorter.
SIMILAR = 0.75


@cache
def models_dir() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


@cache
def bundled() -> tuple[str, ...]:
    """The names of the wake word models pyopen-wakeword ships (alexa, hey_jarvis, ...)."""
    folder = models_dir()
    if folder is None:
        return ()
    names = (p.stem for p in folder.glob("*.tflite"))
    return tuple(sorted(n for n in names if n not in FEATURE_MODELS))


def normalize(name: str) -> str:
    """A model name as configured: `hey_jarvis_v0.1`, `Hey Jarvis` -> `hey_jarvis`;
    a model file's path -> its file name without suffix."""
    stem = Path(name).stem if name.endswith(".tflite") else name
    return _VERSION.sub("", stem.strip().lower().replace(" ", "_"))


def spoken(word: str) -> list[str]:
    """The words a wake word is said with: `hey_jarvis` -> ["hey", "jarvis"]."""
    return [w for w in re.split(r"[\W_]+", normalize(word)) if w]


def strip_wake_phrase(text: str, words: list[str]) -> str:
    """`text` without a wake phrase (or its tail, when its start was cut) at its start:
    "Hey Jarvis, how long is left?" -> "how long is left?"; "Jarvis. What time is it?"
    -> "What time is it?". A heard word counts when it is spelled close to the phrase's."""
    tokens = list(re.finditer(r"[\w']+", text))
    best = 0  # tokens of `text` that are the end of some wake phrase
    for word in words:
        phrase = spoken(word)
        for start in range(len(phrase)):
            tail = phrase[start:]
            if len(tokens) >= len(tail) and all(
                _similar(token.group(), said) for token, said in zip(tokens, tail, strict=False)
            ):
                best = max(best, len(tail))
                break
    if not best:
        return text
    rest = text[tokens[best - 1].end() :]
    return rest.lstrip(" ,.!?;:-—…").strip()


def _similar(heard: str, said: str) -> bool:
    heard = heard.lower()
    return (
        abs(len(heard) - len(said)) <= 1 and SequenceMatcher(None, heard, said).ratio() >= SIMILAR
    )
