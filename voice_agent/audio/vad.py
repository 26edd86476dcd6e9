"""End-of-turn detection: webrtcvad finds speech, frame energy places its edges.

Push style, for the live loop: `feed(frame)` once per frame; it returns the utterances that
this frame completed (almost always none). `flush()` at end of stream, `reset()` to forget
what was heard so far (e.g. the assistant's own voice in half-duplex), `skip(n)` for frames
not fed at all. Files: `segment()`.

Why two signals: webrtcvad keeps flagging frames for a fixed 60-140 ms hang-over after
speech stops, and it looks only at 0-4 kHz, so in noise it misses fricatives ("s", "f")
at word edges. A frame therefore counts as speech when webrtcvad flags it *and* it is
`LOUD_DB` above a running noise floor; each edge then moves to the outermost loud frame
within `EDGE_MS` of it, which is where those fricatives are (also past a stop's closure,
as in "hearts").

Rules, in frames of `frame_ms`:
- onset: `ONSET_SPEECH_MS` of speech frames within the last `ONSET_WINDOW_MS`, so a 50 ms
  click opens no turn. webrtcvad flags a word a frame or two after it turns loud, which
  leaves a short word ("what") under the bar: up to `ONSET_LAG_MS` of loud frames right
  before a speech frame count as speech too (a click is still no longer than it is
  loud). `speech_start_s` is the first speech frame of that window, moved back by the
  edge rule: the onset delay (about 100 ms, up to 220 ms in noise) costs
  latency, not accuracy. Over a reply on open speakers, one frame of that window must also
  be louder than the canceller's residual echo may be (`feed(frame, residual_db)`).
- pre-roll: up to `pre_roll_ms` of audio before `speech_start_s` is kept in `pcm`.
- end of turn: `end_silence_ms` after `speech_end_s` (the last speech frame, moved forward
  by the edge rule); `end_s` is the end of the frame where that was decided.
- semantic end of turn (with a `judge`, `vad.semantic_turn`): after `speculate_ms` of
  silence the judge is asked about the turn so far; a finished-sounding turn ends once the
  answer is in and `turn_check_ms` of silence have passed, an unfinished one only after
  `turn_max_silence_ms`. Speech before the end drops the answer. The judge may also
  transcribe the turn so far (speculative transcription): the closed Utterance carries that
  judgement (`judged`) only when no speech came after it, so the transcript is of exactly
  its speech. Asking before the turn may end is what makes the answer ready when it may:
  the transcription takes longer than the wait. Without `semantic_turn` the judge is still
  asked (for its transcript), and silence alone ends turns.
- a turn holding less than `min_speech_ms` of speech frames (cough, click) is dropped.
- `len(pcm)` is capped at `max_utterance_s` while speech goes on (in a pause, only once
  speech resumes): the turn is returned with `truncated=True` and a new one continues at once
  (its `speech_start_s` is its first speech frame). That last part comes however little
  speech it holds: it tells the listener that the user has stopped.
- `pcm` spans `start_s` to `end_s`: pre-roll, speech and the end-of-turn silence.

Barge-in: `in_speech` turns True at the onset frame and stays True until the turn ends;
`on_speech_start(speech_start_s)`, if given, is called at that same frame. Both also fire
for a burst later dropped by `min_speech_ms` (e.g. a 150 ms knock), never for a 50 ms one.

Time is counted from the frames fed or skipped since construction (`reset()` keeps the
clock), so the timestamps are exact for files and, for live audio, as good as the
capture's frame count. The judge takes ~50-500 ms: live (`realtime`), it runs on a thread
of its own and frames keep flowing; for a file it runs at once and its answer counts only
from the frame its measured time later, as it would have live (after any judgement still
running then: live, that one holds the thread, even when speech resumed and dropped it).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH, AudioError, Utterance
from voice_agent.config import VadConfig

FRAME_MS_ALLOWED = (10, 20, 30)  # what webrtcvad accepts
ONSET_WINDOW_MS = 200
ONSET_SPEECH_MS = 100  # a 50 ms click touches at most 4 frames of 20 ms: 80 ms
ONSET_LAG_MS = 40
LOUD_DB = 6.0  # above the noise floor: energy that belongs to the speech
EDGE_MS = 200  # how far energy may move an edge past webrtcvad's frames (a long "s")
# The noise floor follows the frames webrtcvad does not flag between turns: quickly down,
# slowly up, and (after a warm-up) very slowly up through loud ones, since a loud unflagged
# frame is more often a fricative webrtcvad missed than a louder room. The first frame
# seeds it, capped so that a stream opening with speech still finds that speech loud.
FLOOR_FALL_MS = 40
FLOOR_RISE_MS = 200
FLOOR_RISE_LOUD_MS = 4000
FLOOR_WARMUP_MS = 500
FLOOR_MIN_DB = -80.0  # dBFS: a quiet microphone; dither below it is not loud
FLOOR_SEED_MAX_DB = -50.0  # dBFS: under quiet speech
FULL_SCALE = 32768.0**2


@dataclass(frozen=True)
class Verdict:
    """A judge's finding on a turn so far."""

    finished: bool
    probability: float  # the end-of-turn model's, 0..1
    text: str | None = None  # a transcript of exactly this audio, when the judge took one
    reason: str = ""  # why, for logs and tests
    error: Exception | None = None  # taking that transcript failed
    plan: Any = None  # what the transcript was made ready as ahead of the turn (its routing)
    # Not finished-sounding, but its words are a whole request a skill computes: it ends
    # after end_silence_ms, as silence alone would end it, not after turn_max_silence_ms.
    whole: bool = False
    guess: bool = False  # Whisper was unsure of text (below vad.turn_unsure_logprob)


class TurnJudge(Protocol):
    def judge(self, utterance: Utterance) -> Verdict:
        """Is the turn so far finished? Blocking; called off the capture thread when live."""
        ...


class Judgement:
    """A judge's answer on its way: ready live when its thread is done, for a file at the
    stream time it was asked plus the time it took (`ready_s`)."""

    def __init__(self, future: Future[Verdict], ready_s: float | None) -> None:
        self._future = future
        self.ready_s = ready_s  # stream time; None live

    def ready(self, now_s: float) -> bool:
        if self.ready_s is None:
            return self._future.done()
        return now_s >= self.ready_s - 1e-9

    def verdict(self) -> Verdict:
        """Waits if need be; a judge that failed counts as "not finished", with no transcript."""
        try:
            return self._future.result()
        except Exception as exc:  # noqa: BLE001 - silence still ends the turn
            return Verdict(False, 0.0, reason=f"judge failed: {exc}")


def _webrtcvad() -> Any:
    try:
        import webrtcvad
    except ImportError:
        raise AudioError(
            "webrtcvad is not installed: pip install 'voice-agent[voice]' (webrtcvad-wheels)"
        ) from None
    return webrtcvad


def _frames(ms: float, frame_ms: int) -> int:
    return math.ceil(ms / frame_ms)


def level_db(frame: bytes) -> float:
    """Mean power of an int16 frame in dBFS (a full-scale square wave is 0)."""
    x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    return 10 * math.log10(float(np.dot(x, x)) / (len(x) * FULL_SCALE) + 1e-12)


class Segmenter:
    """Splits a stream of fixed-size 16 kHz int16 frames into utterances (see module doc)."""

    def __init__(
        self,
        config: VadConfig,
        frame_ms: int = 20,
        on_speech_start: Callable[[float], None] | None = None,
        judge: TurnJudge | None = None,
        realtime: bool = False,
    ) -> None:
        if frame_ms not in FRAME_MS_ALLOWED:
            raise ValueError(f"frame_ms must be one of {FRAME_MS_ALLOWED}, got {frame_ms}")
        self.frame_ms = frame_ms
        self.frame_bytes = SAMPLE_RATE * SAMPLE_WIDTH * frame_ms // 1000
        self.on_speech_start = on_speech_start
        self._vad = _webrtcvad().Vad(config.aggressiveness)
        self._frame_s = frame_ms / 1000
        self._onset_window = _frames(ONSET_WINDOW_MS, frame_ms)
        self._onset_speech = _frames(ONSET_SPEECH_MS, frame_ms)
        self._onset_lag = ONSET_LAG_MS // frame_ms
        self._edge = EDGE_MS // frame_ms
        self._fall = min(1.0, frame_ms / FLOOR_FALL_MS)
        self._rise = frame_ms / FLOOR_RISE_MS
        self._rise_loud = frame_ms / FLOOR_RISE_LOUD_MS
        self._pre_roll = _frames(config.pre_roll_ms, frame_ms)
        self._end_silence = _frames(config.end_silence_ms, frame_ms)
        self.judge = judge
        self._semantic = judge is not None and config.semantic_turn
        self._check = _frames(config.turn_check_ms, frame_ms)
        self._ask_at = min(_frames(config.speculate_ms, frame_ms), self._check)
        self._whole_silence = self._end_silence  # ends a turn whose verdict is `whole`
        if self._semantic:
            self._end_silence = _frames(config.turn_max_silence_ms, frame_ms)
        self.realtime = realtime
        self._executor: ThreadPoolExecutor | None = None
        self._min_speech = _frames(config.min_speech_ms, frame_ms)
        self._max_frames = max(1, int(config.max_utterance_s * 1000) // frame_ms)
        self._index = 0  # frames fed or skipped: the stream clock
        self._judge_free_s = 0.0  # files: stream time the judge's thread is free again
        self._floor: float | None = None  # dBFS
        self._warmup = _frames(FLOOR_WARMUP_MS, frame_ms)  # unflagged frames still to see
        self.reset()

    @property
    def in_speech(self) -> bool:
        """True from the onset frame until the end-of-turn decision."""
        return self._kept is not None

    @property
    def now_s(self) -> float:
        """Stream time at the end of the last frame fed or skipped."""
        return self._index * self._frame_s

    @property
    def silence_s(self) -> float:
        """How long the turn in progress has been quiet (0 while speech goes on, or between
        turns)."""
        return 0.0 if self._kept is None else (self._index - self._speech_end) * self._frame_s

    @property
    def judgement(self) -> Judgement | None:
        """The judge's view of the turn in progress, asked in its current pause: None before
        speculate_ms of silence, or when the turn holds too little speech to be one."""
        return self._judgement

    def reset(self) -> None:
        """Forget audio, onset history and any turn in progress.

        The clock and the noise floor are kept: both describe the microphone, not the turn.
        """
        # An onset looks back over its window, then the edge, then the pre-roll.
        span = self._onset_window + self._edge + self._pre_roll
        self._history: deque[bytes] = deque(maxlen=span)
        self._loud: deque[bool] = deque(maxlen=span)
        self._recent: deque[bool] = deque(maxlen=self._onset_window)  # speech flags
        self._above_echo: deque[bool] = deque(maxlen=self._onset_window)  # see feed()
        self._kept: list[bytes] | None = None  # frames of the turn in progress
        self._kept_start = 0  # frame index of _kept[0]
        self._speech_start: int | None = None  # first speech frame of the turn
        self._speech_end = 0  # end (exclusive) of the speech, loud edge included
        self._last_speech = 0  # last speech frame (webrtcvad and energy agree)
        self._speech = 0  # speech frames in the turn
        self._continues = False  # the turn goes on from a part cut at the cap
        self._judgement: Judgement | None = None  # on the turn as it was at the pause
        self._heard_verdict = False  # the judgement's answer has been looked at

    def skip(self, frames: int = 1) -> None:
        """Frames the caller did not feed (e.g. ignored in half-duplex): reset() and advance
        the clock over them, so later timestamps stay on the caller's timeline."""
        self.reset()
        self._index += frames

    def feed(self, frame: bytes, residual_db: float = -math.inf) -> list[Utterance]:
        """Process one frame; returns the utterances it completed (usually none).

        `residual_db`: while a reply plays on open speakers, how loud what the echo canceller
        left of it may be in this frame (EchoCanceller.residual_db). A turn opens only if a
        frame of its onset window is louder: the reply's words that slip through stay under
        it and do not pause the reply, while a user talking over it rises above it within a
        word, even where the canceller's double-talk suppression dips their next frames
        lower than any residual."""
        if len(frame) != self.frame_bytes:
            raise ValueError(
                f"expected a {self.frame_ms} ms frame of {self.frame_bytes} bytes, got {len(frame)}"
            )
        level = level_db(frame)
        flagged = self._vad.is_speech(frame, SAMPLE_RATE)
        floor = self._floor
        if floor is None:
            floor = min(max(level, FLOOR_MIN_DB), FLOOR_SEED_MAX_DB)
        loud = level > floor + LOUD_DB
        kept = self._kept
        if not flagged and kept is None:  # inside a turn, quiet frames are speech too
            floor = self._track_floor(floor, level, loud)
        self._floor = floor
        speech = flagged and loud
        index = self._index
        self._index += 1
        self._history.append(frame)
        self._loud.append(loud)
        self._recent.append(speech)
        self._above_echo.append(level > residual_db)
        if kept is None:
            if speech:
                self._count_lagged_onset()
            if sum(self._recent) >= self._onset_speech and any(self._above_echo):
                self._open(index)
            return []
        kept.append(frame)
        return self._extend(kept, speech, loud, index)

    def flush(self) -> Utterance | None:
        """End of stream: the turn in progress, if it holds enough speech; then reset()."""
        done = self._close(self._kept, truncated=False) if self._kept is not None else None
        if done is not None:
            done.judged = self._judgement
        self.reset()
        return done

    def segment(self, frames: Iterable[bytes]) -> Iterator[Utterance]:
        """All utterances of a finite stream (e.g. a file), the last one flushed."""
        for frame in frames:
            yield from self.feed(frame)
        last = self.flush()
        if last is not None:
            yield last

    def _count_lagged_onset(self) -> None:
        """The loud frames just before this speech frame are its start, which webrtcvad
        flags late: they count as speech for the onset."""
        for back in range(2, min(self._onset_lag + 2, len(self._recent) + 1)):
            if self._recent[-back] or not self._loud[-back]:
                return
            self._recent[-back] = True

    def _track_floor(self, floor: float, level: float, loud: bool) -> float:
        if self._warmup and level > FLOOR_MIN_DB:  # digital silence says nothing of the room
            self._warmup -= 1
        if level < floor:
            rate = self._fall
        else:
            rate = self._rise_loud if loud and not self._warmup else self._rise
        return max(FLOOR_MIN_DB, floor + rate * (level - floor))

    def _open(self, index: int) -> None:
        """Onset at frame `index`: the turn starts at the window's first speech frame, or at
        the earliest loud frame within the edge before it."""
        oldest = index + 1 - len(self._history)
        first = index + 1 - len(self._recent) + self._recent.index(True)
        start = first
        for i in range(max(oldest, first - self._edge), first):
            if self._loud[i - oldest]:
                start = i
                break
        kept_start = max(start - self._pre_roll, oldest)
        self._kept = list(self._history)[kept_start - oldest :]
        self._kept_start = kept_start
        self._speech_start = start
        self._speech_end = index + 1
        self._last_speech = index
        self._speech = sum(self._recent)
        self._continues = False
        if self.on_speech_start is not None:
            self.on_speech_start(start * self._frame_s)

    def _extend(self, kept: list[bytes], speech: bool, loud: bool, index: int) -> list[Utterance]:
        """Frame `index` (already in `kept`) of a turn in progress."""
        if speech:
            self._speech += 1
            self._speech_end = index + 1
            self._last_speech = index
            if self._speech_start is None:
                self._speech_start = index
        elif loud and index - self._last_speech <= self._edge:
            self._speech_end = index + 1
        silence = index + 1 - self._speech_end
        if silence == 0:
            self._judgement = None  # the user goes on: what was judged is not the turn
        elif silence == self._ask_at and self.judge is not None and self._judgement is None:
            self._ask(kept, silence)
        if (
            silence >= self._end_silence
            or (silence >= self._check and self._judged_finished())
            or self._judged_whole(silence)
        ):
            done = self._close(kept, truncated=False)
            if done is not None:
                done.judged = self._judgement
            self._kept = None
            self._judgement = None
            return [done] if done else []
        # Not in a pause: the turn may end there (within end silence), and a part of silence
        # would be transcribed into noise ("Thank you.") and drop the judgement.
        if len(kept) >= self._max_frames and silence == 0:
            return self._cut(kept, index)
        return []

    def _ask(self, kept: list[bytes], silence: int) -> None:
        """Start judging the turn so far (if it holds enough speech to be one), as it will be
        at turn_check_ms if the pause goes on: its silence so far is repeated up to there.
        The answer counts only then, and the end-of-turn model hears a finished sentence
        as finished more often after a longer pause (19 of the bench's 24 spoken commands
        at 160 ms, 16 at 80 ms)."""
        pause = kept[len(kept) - silence :]
        ahead = [pause[i % silence] for i in range(self._check - silence)]
        so_far = self._close(kept + ahead, truncated=False)
        if so_far is None or self.judge is None:
            return
        self._heard_verdict = False
        if self.realtime:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="turn-judge")
            self._judgement = Judgement(self._executor.submit(self.judge.judge, so_far), None)
            return
        future: Future[Verdict] = Future()
        started = time.perf_counter()
        try:
            future.set_result(self.judge.judge(so_far))
        except Exception as exc:  # noqa: BLE001 - reported by Judgement.verdict
            future.set_exception(exc)
        took_s = time.perf_counter() - started
        self._judge_free_s = max(self.now_s, self._judge_free_s) + took_s
        self._judgement = Judgement(future, self._judge_free_s)

    def _judged_finished(self) -> bool:
        """The judge's answer, once it is in, says the turn is finished (semantic mode)."""
        judgement = self._judgement
        if not self._semantic or judgement is None or self._heard_verdict:
            return False
        if not judgement.ready(self.now_s):
            return False
        self._heard_verdict = True
        return judgement.verdict().finished

    def _judged_whole(self, silence: int) -> bool:
        """The judge found words a skill answers whole, and silence alone would end the
        turn by now (semantic mode)."""
        judgement = self._judgement
        if not self._semantic or judgement is None or silence < self._whole_silence:
            return False
        return judgement.ready(self.now_s) and judgement.verdict().whole

    def _cut(self, kept: list[bytes], index: int) -> list[Utterance]:
        """At the length cap: hand over what we have and keep listening in the same turn."""
        done = self._close(kept, truncated=True)
        self._kept = []
        self._kept_start = index + 1
        self._judgement = None
        self._speech_start = None
        self._speech = 0
        self._continues = self._continues or done is not None
        return [done] if done else []

    def _close(self, kept: list[bytes], truncated: bool) -> Utterance | None:
        """The turn in progress as an Utterance, or None if it holds too little speech and
        continues no part already handed over."""
        short = self._speech_start is None or self._speech < self._min_speech
        if short and not self._continues:
            return None
        fs = self._frame_s
        speech_start = self._kept_start if self._speech_start is None else self._speech_start
        return Utterance(
            pcm=b"".join(kept),
            start_s=self._kept_start * fs,
            speech_start_s=speech_start * fs,
            speech_end_s=self._speech_end * fs,
            end_s=(self._kept_start + len(kept)) * fs,
            truncated=truncated,
        )
