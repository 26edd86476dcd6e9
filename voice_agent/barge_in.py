"""Speech over a reply (barge-in): the reply pauses at once, and what was said decides
whether it stops or goes on.

A user who talks over the assistant expects it to yield at once, as a person would, so the
reply pauses at the onset of their speech (the barge-in, within 300 ms). Nothing is thrown
away yet, and its generation goes on. When their speech ends it is transcribed (or the
transcript taken in its pause is used) and judged:
- noise: no voice (audio/voice_check.py: a cough, a door or a knock the VAD took for
  speech; it is not transcribed, since Whisper may write such a sound as "Okay."), no words,
  or a burst too short to be a turn at all. The reply resumes.
- echo: mostly the reply's own words. The echo canceller let some of the reply through (it
  is still learning the echo path at the first reply). The reply resumes.
- backchannel: a short acknowledgement ("mm-hm", "okay", "yeah, I see": only words of
  language/acknowledgement.py, in at most `audio.backchannel_max_ms` of speech). The reply
  resumes, and no turn is taken. A short sound first heard as a request is heard once more
  with acknowledgements as the recogniser's context (the echo canceller clips the start of
  speech over a reply, and "yes, go on" came out "Yes, gone."): if that hears one, and is
  sure of it, it is one. (That context leads Whisper to hear "Okay." in a clipped "louder",
  but unsure: an average log-probability near -1, where the acknowledgements it restores
  are above -0.35.)
- unclear: a short sound first heard as a request, in words Whisper was unsure of
  (`vad.turn_unsure_logprob`), that the second hearing neither heard surely as anything:
  the echo canceller clipped an "uh-huh" to "better," (-1.1), then "Better." (-0.56). A
  guess must not stop the reply and become a turn of its own: it resumes, and a user who
  meant "stop" says it again.
- request: anything else ("okay, and what about tomorrow", "stop"). The reply stops where it
  paused, and the request is the next turn, with the transcript already taken.
While the user speaks again, or another of their utterances is still being judged, the
reply stays paused: the last thing they said decides.

Why pause rather than play on until the transcript says it is a request: that transcript
comes 0.3-1.5 s after the speech ends, and an assistant that talks over a real interruption
that long does not listen. The price of a backchannel is a short pause, with nothing lost:
the reply resumes at the quietest moment of the REWIND_S before it paused (a gap between
words, as a rule), so the word it stopped in is heard whole.

`OverReply` is one such pause, fed by the capture loop frame by frame; live the judging runs
on a thread of its own, for a file it runs at once and counts from the stream time its
measured duration later, as the end-of-turn judge does.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from voice_agent.audio.base import Utterance
from voice_agent.audio.vad import Judgement, Segmenter, Verdict
from voice_agent.audio.voice_check import holds_voice
from voice_agent.language.acknowledgement import ACKNOWLEDGEMENT_CONTEXT, is_acknowledgement
from voice_agent.stt import Transcript, words

REWIND_S = 0.5  # at most this far back from the pause point the reply resumes
QUIET_FRAME_S = 0.02

Heard = Literal["noise", "echo", "backchannel", "unclear", "request"]
ECHO_MIN_WORDS = 2  # fewer words say too little to be told from a request ("stop")
ECHO_SHARE = 0.8  # of the words heard that the reply says: it heard itself
SURE_LOGPROB = -0.5  # an acknowledgement heard in its context, at least this sure


@dataclass(frozen=True)
class Overheard:
    """What speech over the reply turned out to be."""

    heard: Heard
    text: str = ""
    utterance: Utterance | None = None  # a request's, to answer
    heard_at: float = 0.0  # perf_counter when its speech was closed (live turns' clock)


class Hearing:
    """An utterance being judged: ready live when its thread is done, for a file at the stream
    time it closed plus the time the judging took (`ready_s`)."""

    def __init__(
        self, utterance: Utterance, future: Future[Overheard], ready_s: float | None
    ) -> None:
        self.utterance = utterance
        self._future = future
        self.ready_s = ready_s

    def ready(self, now_s: float) -> bool:
        if self.ready_s is None:
            return self._future.done()
        return now_s >= self.ready_s - 1e-9

    def result(self) -> Overheard:
        return self._future.result()  # _judge raises nothing


def judge(text: str, speech_s: float, backchannel_max_s: float, saying: str = "") -> Heard:
    """noise (no words), echo (the reply's own words: the echo canceller let some of it
    through), backchannel (a short acknowledgement) or request."""
    said = words(text)
    if not said:
        return "noise"
    own = set(words(saying))
    if len(said) >= ECHO_MIN_WORDS and sum(w in own for w in said) >= ECHO_SHARE * len(said):
        return "echo"
    if speech_s <= backchannel_max_s and is_acknowledgement(text):
        return "backchannel"
    return "request"


class Listener:
    """Transcribes and judges the utterances heard over a reply. `check_s`: the silence after
    which the endpointer looks at a turn so far (vad.turn_check_ms)."""

    def __init__(
        self,
        transcribe: Callable[[bytes, str | None], Transcript],
        backchannel_max_s: float,
        check_s: float,
        unsure_logprob: float,
        saying: Callable[[], str],
        realtime: bool,
    ) -> None:
        self.transcribe = transcribe  # what an utterance's audio says, with a context
        self.backchannel_max_s = backchannel_max_s
        self.check_s = check_s
        self.unsure_logprob = unsure_logprob  # words below it are a guess (vad.turn_unsure_logprob)
        self.saying = saying  # the text of the reply being spoken
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="over-reply") if realtime else None
        )

    def hear(self, utterance: Utterance, now_s: float) -> Hearing:
        """Start judging `utterance`, closed at stream time `now_s`."""
        started = time.perf_counter()
        if self._executor is not None:
            judging = self._executor.submit(self._judge, utterance, started)
            return Hearing(utterance, judging, None)
        speculated = utterance.judged
        future: Future[Overheard] = Future()
        future.set_result(self._judge(utterance, started))
        ready_s = now_s + time.perf_counter() - started
        if utterance.judged is not speculated and utterance.judged is not None:
            utterance.judged.ready_s = ready_s  # transcribed here: the turn's clock runs on
        elif speculated is not None and speculated.ready_s is not None:
            ready_s = max(now_s, speculated.ready_s)  # its transcript was taken in the pause
        return Hearing(utterance, future, ready_s)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _judge(self, utterance: Utterance, heard_at: float) -> Overheard:
        if utterance.truncated:  # a part cut at vad.max_utterance_s: long speech, a request
            return Overheard("request", "", utterance, heard_at)
        if not holds_voice(utterance.pcm):
            return Overheard("noise", "", utterance, heard_at)
        speculated = utterance.judged.verdict() if utterance.judged is not None else None
        if speculated is not None and speculated.text is not None:
            text, guess = speculated.text, speculated.guess
        else:
            try:
                first = self.transcribe(utterance.pcm, None)
            except Exception:  # noqa: BLE001 - the turn transcribes again and says what failed
                return Overheard("request", "", utterance, heard_at)
            text, guess = first.text, first.avg_logprob < self.unsure_logprob
            # The turn this may become uses these words: it is not transcribed twice.
            done: Future[Verdict] = Future()
            done.set_result(Verdict(True, 1.0, text, "heard over the reply", guess=guess))
            utterance.judged = Judgement(done, None)
        speech_s = utterance.speech_end_s - utterance.speech_start_s
        heard = judge(text, speech_s, self.backchannel_max_s, self.saying())
        if heard == "request" and speech_s <= self.backchannel_max_s:
            again = self._as_acknowledgement(utterance.pcm)
            if again and judge(again, speech_s, self.backchannel_max_s) == "backchannel":
                return Overheard("backchannel", again, utterance, heard_at)
            if guess and not again:
                return Overheard("unclear", text, utterance, heard_at)
        return Overheard(heard, text, utterance, heard_at)

    def _as_acknowledgement(self, pcm: bytes) -> str:
        """A short sound heard again with acknowledgements as its context: the words, or ""
        if the recogniser is unsure of them or fails (the first hearing stands)."""
        try:
            heard = self.transcribe(pcm, ACKNOWLEDGEMENT_CONTEXT)
        except Exception:  # noqa: BLE001 - a second opinion only
            return ""
        return heard.text if heard.avg_logprob >= SURE_LOGPROB else ""


class OverReply:
    """A reply paused by speech over it, until what was said is known (see module doc).

    Once per frame: `hear(...)` with what the endpointer did, then `settle(...)`: a request
    (stop the reply, answer it), noise or a backchannel (resume), or None (stay paused).
    """

    def __init__(self, at_s: float, listener: Listener) -> None:
        self.at_s = at_s
        self.listener = listener
        self._judging: deque[Hearing] = deque()
        self._latest: Overheard | None = None

    def ends_early(self, segmenter: Segmenter, now_s: float) -> bool:
        """Whether the user's speech can end now, before the endpointer would end it, since
        its pause already shows it asks for nothing: its words so far (the transcript taken
        in the pause) are none, the reply's own or only acknowledgements, or it holds too
        little speech to be a turn at all
        (the judge was not asked). The caller flushes the segmenter then. A request is left
        to the endpointer, so that a pause in its middle does not split it."""
        if not segmenter.in_speech or segmenter.silence_s + 1e-9 < self.listener.check_s:
            return False
        judgement = segmenter.judgement
        if judgement is None:
            return segmenter.judge is not None
        if not judgement.ready(now_s):
            return False
        text = judgement.verdict().text
        listener = self.listener
        return (
            text is not None
            and judge(text, 0, listener.backchannel_max_s, listener.saying()) != "request"
        )

    def hear(self, utterances: Iterable[Utterance], ended: bool, now_s: float) -> None:
        """The utterances the endpointer closed at this frame (requests only, with a wake
        word gate); `ended`: its speech ended at this frame, closed or dropped."""
        closed = list(utterances)
        for utterance in closed:
            self._judging.append(self.listener.hear(utterance, now_s))
        if ended and not closed and self._latest is None:
            self._latest = Overheard("noise")  # too short to be a turn: dropped by the endpointer

    def settle(self, now_s: float, in_speech: bool) -> Overheard | None:
        while self._judging and self._judging[0].ready(now_s):
            self._latest = self._judging.popleft().result()
            if self._latest.heard == "request":
                return self._latest
        if self._latest is not None and not self._judging and not in_speech:
            return self._latest
        return None

    def pending(self) -> list[Utterance]:
        """Utterances still being judged when a request settled: they are answered after it."""
        rest = [hearing.utterance for hearing in self._judging]
        self._judging.clear()
        return rest


def resume_point(pcm: np.ndarray, position: int, sample_rate: int) -> int:
    """Where a reply paused at sample `position` goes on: the start of the quietest frame in
    the REWIND_S before it, a gap between words as a rule (0 for a reply that has not
    started)."""
    frame = max(1, round(QUIET_FRAME_S * sample_rate))
    start = max(0, position - round(REWIND_S * sample_rate))
    n = (position - start) // frame
    if n < 1:
        return min(position, len(pcm))
    x = pcm[position - n * frame : position].astype(np.float64).reshape(n, frame)
    return position - n * frame + int(np.argmin((x**2).mean(axis=1))) * frame
