"""Text to speech protocol."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass
class Speech:
    pcm: bytes  # mono int16
    sample_rate: int


class TTS(Protocol):
    name: str

    def synthesize(self, text: str) -> Speech:
        """Speak one sentence into memory. Thread-safe: engines own their threads."""
        ...

    def warmup(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class StreamingTTS(TTS, Protocol):
    """An engine that takes a reply's sentences as they are written (a Wyoming server)."""

    def stream(self, texts: Iterable[str], cancel: threading.Event) -> Iterator[Speech]:
        """Audio for `texts`, in pieces as soon as each exists; `cancel` stops it."""
        ...
