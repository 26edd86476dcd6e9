"""Text to speech protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
