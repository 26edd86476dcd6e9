"""When audio is heard or recorded, as a steady time.monotonic(): for the echo canceller.

A sound card's samples come at a steady rate, but the times a program can measure them at
(a callback's start, a write's return) jitter with the scheduler by milliseconds, and more
on a loaded machine. The echo canceller needs the speaker's audio and the microphone's on
one clock, and steady: its model of the echo path is lost at every jump in alignment (one
of 9 ms let the echo through for seconds). `SampleClock` stamps a stream's blocks from their
sample count after its first, and moves its origin only when the measured times leave it
by more than its tolerance: a real break (an underrun, samples lost) or the card's clock
drifting from the system's.
"""

from __future__ import annotations

from collections import deque

WINDOW = 250  # blocks whose measured times make the best origin
RECENT = 25  # blocks that all measuring late shows the stream itself moved (samples lost)


class SampleClock:
    """Times of consecutive blocks of one stream, from times measured with jitter that can
    only err one way.

    `late`: a measure can only be late (a callback runs after its audio was recorded), so
    the earliest origin of the recent WINDOW is the best; the origin moves when that is
    `behind_s` before it, or when the last RECENT blocks all measure `ahead_s` after it
    (samples were lost, so the rest were recorded later than they count). Otherwise a
    measure can only be early (a write is heard once what was queued before it has played,
    never sooner): the origin moves when a measure is `ahead_s` after it (the stream ran dry
    and started again later).
    """

    def __init__(
        self, sample_rate: int, *, late: bool, ahead_s: float, behind_s: float = 0.0
    ) -> None:
        self.sample_rate = sample_rate
        self.late = late
        self.ahead_s = ahead_s
        self.behind_s = behind_s
        self._origins: deque[float] = deque(maxlen=WINDOW)
        self._origin: float | None = None
        self._samples = 0  # since the origin's sample 0

    def stamp(self, measured: float, samples: int) -> float:
        """The time of the next block of `samples`, measured (with jitter) at `measured`."""
        origin = measured - self._samples / self.sample_rate
        if self._origin is None:
            self._origin = origin
        elif not self.late:
            if origin > self._origin + self.ahead_s:
                self._origin = origin
        else:
            self._origins.append(origin)
            recent = min(list(self._origins)[-RECENT:])
            if recent > self._origin + self.ahead_s:
                self._origin = recent
                self._origins.clear()
            elif min(self._origins) < self._origin - self.behind_s:
                self._origin = min(self._origins)
        at = self._origin + self._samples / self.sample_rate
        self._samples += samples
        return at

    def restart(self) -> None:
        """The stream stopped and starts again: its samples no longer follow on."""
        self._origins.clear()
        self._origin = None
        self._samples = 0
