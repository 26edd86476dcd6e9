"""Acoustic echo: removing the assistant's own voice from the microphone, and simulating it.

On open speakers the microphone hears every reply. `EchoCanceller` takes what the speaker
plays (the far end, `played`) and the microphone's frames (the near end, `clean`) and
returns the microphone with the reply taken out, so the endpointer hears only the user and
barge-in works without a headset. `WebRtcEchoCanceller` is the WebRTC audio processing
module (AEC3) through the `livekit` package: on our replies mixed back at gain 0.5 after
60 ms it removes 34-67 dB of echo from the first second on (about 20 dB with a room's
reverberation in the path), in under 1% of one core.

The two ends must stay in step, as in a WebRTC call: before each 10 ms microphone frame the
module is given the 10 ms the speaker played when that frame was recorded, and never audio
whose echo the microphone has already heard (it only models an echo that comes after its
reference). Both ends are therefore placed on one clock: `played(pcm, at)` says when the
speaker plays the audio (no earlier than `at`), `clean(frame, at)` when the microphone
recorded the frame (no later than `at`). Counting frames instead (one far frame taken per
microphone frame) is what a stalled capture thread or a burst of writes after an underrun
knocks out of step: on a loaded machine the echo then came in up to 4 ms before its
reference, and the module let it through whole. The module's own delay estimator finds the
rest of the path (the room, the latencies the timestamps leave out).

What the module lets through stays under the loudest sound just played by a margin
(`residual_db`); the endpointer opens a turn over a reply only above that (vad.py), so a
syllable of the reply that slipped through does not pause it.

`SimulatedEcho` is the loudspeaker next to the microphone, for recordings: what is played
is mixed into the input at a gain and after a delay (`run --simulate-echo GAIN[,DELAY_MS]`).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE, AudioError
from voice_agent.audio.vad import FULL_SCALE
from voice_agent.errors import UserError

APM_FRAME = SAMPLE_RATE // 100  # samples: the module works on 10 ms frames
# What the canceller lets through lies this far under the loudest 10 ms played just before:
# over 24 replies echoed at gain 0.5, the residual's loudest frame was 35-39 dB under it
# (a self-interrupting stretch, 45-55 dB under), and a user talking over a reply reached
# 10-20 dB under it within their first word.
RESIDUAL_UNDER_DB = 30.0
ECHO_TAIL_S = 0.3  # how long after it was played a sound may still come back
# Far-end audio kept from before the microphone frame being cleaned: the longest echo path
# the module can follow, and a microphone running that far behind the speaker.
FAR_KEPT_S = 2.0
DEFAULT_ECHO_DELAY_MS = 60


class EchoCanceller(Protocol):
    def played(self, pcm: bytes, at: float) -> None:
        """16 kHz mono int16 audio the speaker plays from time `at` on (seconds, the clock
        `clean` is given); any length, any thread."""
        ...

    def clean(self, frame: bytes, at: float) -> bytes:
        """A microphone frame (a multiple of 10 ms) recorded from time `at` on, with the
        played audio's echo removed."""
        ...

    def residual_db(self, at: float, n: int) -> float:
        """How loud (dBFS) what is left of the echo may be in the `n` samples from `at`:
        quieter sound there may be the reply's own; -inf when nothing was played."""
        ...


class WebRtcEchoCanceller:
    """WebRTC AEC3 (livekit's AudioProcessingModule) with its high-pass filter.

    Noise suppression stays off: it also colours the user's speech, which Whisper then has to
    hear through; echo cancellation alone already brings our replies below the endpointer.
    """

    def __init__(self) -> None:
        try:
            from livekit.rtc import AudioFrame, AudioProcessingModule
        except ImportError:
            raise AudioError(
                "echo cancellation needs the livekit package: pip install 'voice-agent[voice]', "
                "or set audio.echo_cancellation=false"
            ) from None
        self._frame = AudioFrame
        self._apm: Any = AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        self._far: deque[tuple[int, np.ndarray]] = deque()  # (first sample's time, samples)
        self._lock = threading.Lock()

    def played(self, pcm: bytes, at: float) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").copy()
        if len(samples):
            start = round(at * SAMPLE_RATE)
            with self._lock:
                self._far.append((start, samples))
                self._forget_before(start)

    def clean(self, frame: bytes, at: float) -> bytes:
        start = round(at * SAMPLE_RATE)
        far = self._reference(start, len(frame) // 2)
        out = bytearray()
        apm = self._apm
        for i in range(0, len(frame) // 2, APM_FRAME):
            reference = far[i : i + APM_FRAME].tobytes()
            apm.process_reverse_stream(self._frame(reference, SAMPLE_RATE, 1, APM_FRAME))
            # Required with echo cancellation on; 0 leaves the delay to AEC3's own estimator,
            # which measured the same here as the true 60 ms.
            apm.set_stream_delay_ms(0)
            near = self._frame(frame[2 * i : 2 * (i + APM_FRAME)], SAMPLE_RATE, 1, APM_FRAME)
            apm.process_stream(near)
            out += near.data.tobytes()
        return bytes(out)

    def residual_db(self, at: float, n: int) -> float:
        tail = round(ECHO_TAIL_S * SAMPLE_RATE)
        recent = self._reference(round(at * SAMPLE_RATE) - tail, tail + n).astype(np.float32)
        blocks = recent[: len(recent) // APM_FRAME * APM_FRAME].reshape(-1, APM_FRAME)
        loudest = float(np.max(np.mean(blocks * blocks, axis=1)))
        if loudest == 0.0:
            return -math.inf
        return 10 * math.log10(loudest / FULL_SCALE) - RESIDUAL_UNDER_DB

    def _reference(self, start: int, n: int) -> np.ndarray:
        """What the speaker played over samples [start, start + n) of the clock: silence where
        it played nothing; where pieces overlap (a reply resumed), the later one."""
        reference = np.zeros(n, np.int16)
        with self._lock:
            self._forget_before(start)
            pieces = list(self._far)
        for first, samples in pieces:
            lo, hi = max(start, first), min(start + n, first + len(samples))
            if lo < hi:
                reference[lo - start : hi - start] = samples[lo - first : hi - first]
        return reference

    def _forget_before(self, sample: int) -> None:
        """Drop the far end that ended FAR_KEPT_S before `sample` (the lock held)."""
        limit = sample - FAR_KEPT_S * SAMPLE_RATE
        while self._far and self._far[0][0] + len(self._far[0][1]) < limit:
            self._far.popleft()


@dataclass(frozen=True)
class EchoPath:
    """A loudspeaker next to the microphone: its sound arrives `delay_ms` later at `gain`."""

    gain: float
    delay_ms: int = DEFAULT_ECHO_DELAY_MS

    @classmethod
    def parse(cls, text: str) -> EchoPath:
        """`GAIN[,DELAY_MS]` as given to --simulate-echo; UserError in one line if malformed."""
        usage = (
            f"--simulate-echo takes GAIN[,DELAY_MS], e.g. 0.5 or 0.5,{DEFAULT_ECHO_DELAY_MS}: "
            "GAIN from 0 to 4, DELAY_MS a whole number from 0 to 1000"
        )
        parts = text.split(",")
        try:
            if len(parts) > 2:
                raise ValueError
            gain = float(parts[0])
            delay_ms = int(parts[1]) if len(parts) == 2 else DEFAULT_ECHO_DELAY_MS
        except ValueError:
            raise UserError(f"{usage}; got '{text}'") from None
        if not 0 <= gain <= 4 or not 0 <= delay_ms <= 1000:
            raise UserError(f"{usage}; got '{text}'")
        return cls(gain, delay_ms)


class SimulatedEcho:
    """Mixes what is played into the microphone's frames along an `EchoPath`."""

    def __init__(self, path: EchoPath) -> None:
        self.path = path
        self._line = np.zeros(SAMPLE_RATE * path.delay_ms // 1000, np.float32)  # in flight

    def mix(self, frame: bytes, played: bytes) -> bytes:
        """The microphone `frame` plus the echo of earlier playback; `played` (same length as
        `frame`) is what the speaker plays during it."""
        heard = np.concatenate([self._line, np.frombuffer(played, dtype="<i2")])
        n = len(frame) // 2
        arrived, self._line = heard[:n], heard[n:]
        mixed = np.frombuffer(frame, dtype="<i2") + arrived * self.path.gain
        return np.clip(np.round(mixed), -32768, 32767).astype("<i2").tobytes()
