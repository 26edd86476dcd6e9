"""Wake word detection: what every engine hears and says.

An engine is fed the microphone's 16 kHz mono int16 audio in frames of any length and
reports each wake word once, when it is heard: the word as configured and the stream time
(seconds of audio fed so far) at which it was recognised, just after the word ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voice_agent.errors import UserError

# A model's score stays high, or dips and rises again, for a while after the phrase: one
# saying of a wake word is one detection, the next counts from this much later.
REPEAT_S = 1.0


class WakeError(UserError):
    """The wake word engine cannot start (model, runtime or server): one clear line."""


@dataclass(frozen=True)
class Detection:
    word: str  # the wake word's name: hey_jarvis (a model file: its name)
    at_s: float  # stream time of the audio that completed it


class WakeDetector(Protocol):
    name: str

    def feed(self, frame: bytes) -> list[Detection]:
        """Hear `frame`; the wake words it completed (an engine answering later returns them
        from a later call)."""
        ...

    def settle(self, until_s: float) -> list[Detection]:
        """The detections not yet returned, once the engine has heard the audio up to
        `until_s` (an engine on another machine is given a moment for it)."""
        ...

    def close(self) -> None: ...
