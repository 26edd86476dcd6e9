"""The live speaker's queue: replies played in order on a thread of their own.

`stop()` cuts off what is playing and drops the rest (a request spoken over the reply).
`pause()` cuts it off and keeps the rest; `resume()` plays on from the quietest moment just
before where it stopped (barge_in.resume_point), so a cough or an "mm-hm" over the reply
costs a pause and nothing else.

With an echo canceller, what the sink writes is handed to it as it goes, with when it will
be heard (a sink without `on_write` plays on, uncancelled).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE, AudioSink
from voice_agent.audio.echo import EchoCanceller
from voice_agent.audio.playback import resample
from voice_agent.barge_in import resume_point
from voice_agent.tts.base import Speech

log = logging.getLogger(__name__)


class Player:
    def __init__(self, sink: AudioSink, canceller: EchoCanceller | None = None) -> None:
        self.sink = sink
        self.canceller = canceller
        self.error: Exception | None = None  # the last playback failure, for the turn to report
        self._far = np.zeros(0, np.int16)  # the speech playing now, at the mic's rate
        self._rate = SAMPLE_RATE
        self._written = 0  # bytes of it the sink has written
        if canceller is not None:
            sink.on_write = self._on_write  # type: ignore[attr-defined]
        self._queue: deque[tuple[Speech, bool]] = deque()
        self._changed = threading.Condition()
        self._playing = False
        self._paused = False
        self._cut = False  # pause() stopped the speech playing now
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Playing, or holding speech to play (paused included)."""
        with self._changed:
            return self._playing or self._paused or bool(self._queue)

    def enqueue(self, speech: Speech, reported: bool = True) -> None:
        """Play `speech` after what is queued; `reported`: a failure is the turn's to report
        (announcements between turns are only logged)."""
        with self._changed:
            self._queue.append((speech, reported))
            self._changed.notify_all()

    def wait_idle(self, poll_s: float = 0.01) -> None:
        while self.busy:
            time.sleep(poll_s)

    def pause(self) -> None:
        """Go quiet now; keep what is left for resume()."""
        with self._changed:
            self._paused = True
            self._cut = self._cut or self._playing
        self.sink.stop()

    def resume(self) -> None:
        with self._changed:
            self._paused = False
            self._changed.notify_all()

    def stop(self) -> None:
        """Go quiet now and drop what is left."""
        with self._changed:
            self._queue.clear()
            self._paused = False
            self._changed.notify_all()
        self.sink.stop()

    def close(self) -> None:
        self.stop()
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(timeout=2)
        self.sink.close()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._closed and (self._paused or not self._queue):
                    self._changed.wait()
                if self._closed:
                    return
                speech, reported = self._queue.popleft()
                self._playing, self._cut = True, False
            if self.canceller is not None:
                pcm = np.frombuffer(speech.pcm, "<i2")
                self._far = resample(pcm, speech.sample_rate, SAMPLE_RATE)
                self._rate, self._written = speech.sample_rate, 0
            started = time.perf_counter()
            try:
                self.sink.play(speech.pcm, speech.sample_rate)
            except Exception as exc:  # noqa: BLE001 - reported by the turn that queued it
                log.exception("playback failed")
                if reported:
                    self.error = exc
            finally:
                with self._changed:
                    if self._cut and self._paused:
                        rest = _rest(speech, time.perf_counter() - started)
                        if rest is not None:
                            self._queue.appendleft((rest, reported))
                    self._playing = False
                    self._changed.notify_all()

    def _on_write(self, size: int, at: float) -> None:
        """The sink wrote `size` more bytes of the current speech (or of the silence after),
        to be heard from time.monotonic() `at` on."""
        start = self._written * SAMPLE_RATE // (2 * self._rate)
        self._written += size
        end = min(self._written * SAMPLE_RATE // (2 * self._rate), len(self._far))
        if end > start:
            self.canceller.played(self._far[start:end].tobytes(), at)


def _rest(speech: Speech, played_s: float) -> Speech | None:
    """What is left of `speech` paused after `played_s` of it (the sink plays in real time),
    from where it resumes."""
    pcm = np.frombuffer(speech.pcm, "<i2")
    position = round(played_s * speech.sample_rate)
    if position >= len(pcm):
        return None
    start = resume_point(pcm, position, speech.sample_rate)
    return Speech(pcm[start:].tobytes(), speech.sample_rate)
