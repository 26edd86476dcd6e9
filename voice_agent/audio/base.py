"""Audio stage protocols. Audio inside voice-agent is 16 kHz mono signed 16-bit PCM bytes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from voice_agent.errors import UserError

if TYPE_CHECKING:
    from voice_agent.audio.vad import Judgement

SAMPLE_RATE = 16000
SAMPLE_WIDTH = 2  # bytes, int16


class AudioError(UserError):
    """A device problem the user can act on (no device, busy, unplugged). One clear sentence."""


class AudioSource(Protocol):
    frame_ms: int
    captured_at: float  # time.monotonic() the last frame yielded was recorded from

    def frames(self) -> Iterator[bytes]:
        """Yield frames of exactly frame_ms of 16 kHz mono int16 audio until closed or exhausted."""
        ...

    def close(self) -> None: ...


class AudioSink(Protocol):
    def play(self, pcm: bytes, sample_rate: int) -> None:
        """Play mono int16 audio; returns when it has been played (or stop() was called)."""
        ...

    def stop(self) -> None:
        """Interrupt what is playing now (barge-in), from any thread, within a few ms."""
        ...

    def close(self) -> None: ...


@dataclass
class Utterance:
    """One user turn found by the endpointer."""

    pcm: bytes  # 16 kHz mono int16, including pre-roll
    start_s: float  # stream time where the kept audio starts (pre-roll included)
    speech_start_s: float  # where speech was detected
    speech_end_s: float  # where the user stopped speaking (before the end-of-turn silence)
    end_s: float  # when the endpointer decided the turn was over (speech_end_s + silence)
    truncated: bool = False  # cut at the maximum utterance length
    judged: Judgement | None = None  # the end-of-turn judge's view of exactly this speech
