"""Which utterances are for the assistant when it waits for a wake word (wake.enabled).

The detector hears every frame; the endpointer's utterances are then judged when they end:
- one that holds a wake word is answered from the wake word on, so "hey jarvis, how long
  is left on my timer" said in one breath is one turn. The audio is cut at the quietest
  moment just before the detection (the word ends there), and what is left of the wake
  phrase in the transcript is taken out of it (`strip`);
- a wake word said alone (nothing after it in its utterance), or recognised only once its
  utterance had ended, lets the next utterance in without one;
- from a request until `follow_up_s` after its answer ends the user is in conversation:
  an utterance that starts then needs no wake word. That includes speech over the reply,
  which with barge-in stops it as without a wake word: a wake word said over the reply is
  missed by openWakeWord once the reply is as loud as the user at the microphone, even
  echo-cancelled (it scored 0.04 at echo gain 0.5), while the endpointer hears the user;
- anything else is ignored (counted in `ignored`): never transcribed, answered or stored.
  The end-of-turn judge, which may transcribe speech in its pauses, is asked only about
  requests (`guard`), and about a request from its wake word on, the very audio that is
  answered.
The detector never hears the assistant's own voice (the voice loop feeds it silence while a
reply plays), so a reply that says "hey jarvis" opens nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH, Utterance
from voice_agent.audio.vad import TurnJudge, Verdict
from voice_agent.events import EventHandler, StateChanged, WakeDetected, ignore
from voice_agent.wake.base import Detection, WakeDetector
from voice_agent.wake.words import strip_wake_phrase

WAITING = "waiting for wake word"
LISTENING = "listening"
CUT_SEARCH_S = 0.5  # the detection comes 0.1-0.35 s after the wake word's end
CUT_FRAME_S = 0.02
MIN_COMMAND_S = 0.25  # less speech than this after the wake word is no request
KEEP_S = 30.0  # detections older than this have nothing left to open


class WakeGate:
    def __init__(
        self,
        detector: WakeDetector,
        words: list[str],
        follow_up_s: float,
        emit: EventHandler = ignore,
    ) -> None:
        self.detector = detector
        self.words = words
        self.follow_up_s = follow_up_s
        self.emit = emit
        self.now_s = 0.0  # stream time: every frame heard
        self._detections: deque[Detection] = deque()
        self._open_until = float("-inf")  # speech starting before this needs no wake word
        self.ignored = 0  # utterances that held no request
        self._continuing = False  # an admitted utterance goes on past vad.max_utterance_s
        self._state = ""

    @property
    def state(self) -> str:
        return LISTENING if self.now_s <= self._open_until or self._detections else WAITING

    def hear(self, frame: bytes) -> None:
        self.now_s += len(frame) / SAMPLE_WIDTH / SAMPLE_RATE
        self._add(self.detector.feed(frame))
        while self._detections and self._detections[0].at_s < self.now_s - KEEP_S:
            self._detections.popleft()
        self._show_state()

    def admit(self, utterance: Utterance) -> Utterance | None:
        """What of `utterance` is a request to answer, or None."""
        if self._continuing:
            self._continuing = utterance.truncated
            return utterance
        self._add(self.detector.settle(utterance.speech_end_s))
        request, woken = self._request(utterance)
        while self._detections and self._detections[0].at_s <= utterance.end_s:
            self._detections.popleft()
        if request is None:
            self.ignored += 1
            if woken:  # the wake word alone: the request comes next
                self.open()
            else:
                self._state = ""  # the view showed "hearing": say again that it waits
                self._show_state()
            return None
        self._open_until = float("inf")  # in conversation: its answer sets the window's end
        self._continuing = request.truncated
        return request

    def guard(self, judge: TurnJudge) -> TurnJudge:
        """`judge` (end of turn, speculative transcription) asked only about requests: speech
        that is not one is never transcribed, and ends as soon as it pauses."""
        return _GuardedJudge(self, judge)

    def open(self, from_s: float | None = None) -> None:
        """`follow_up_s` from now (or from `from_s`, when a reply ends later on a recording's
        timeline) for the user to start a request without the wake word."""
        self._open_until = max(self.now_s, from_s or 0.0) + self.follow_up_s
        self._show_state()

    def strip(self, text: str) -> str:
        return strip_wake_phrase(text, self.words)

    def close(self) -> None:
        self.detector.close()

    def _request(self, utterance: Utterance) -> tuple[Utterance | None, bool]:
        """The request in `utterance` (None if none) and whether a wake word is in it."""
        detections = list(self._detections)  # the live judge reads from its own thread
        inside = [d for d in detections if utterance.start_s <= d.at_s <= utterance.end_s]
        if inside:
            return _after(utterance, inside[0].at_s), True
        if any(d.at_s < utterance.start_s for d in detections):
            return utterance, False
        return (utterance if utterance.speech_start_s <= self._open_until else None), False

    def _add(self, detections: list[Detection]) -> None:
        for detection in detections:
            self._detections.append(detection)
            self.emit(WakeDetected(detection.word, detection.at_s))

    def _show_state(self) -> None:
        if self.state != self._state:
            self._state = self.state
            self.emit(StateChanged(self._state))


class _GuardedJudge:
    def __init__(self, gate: WakeGate, judge: TurnJudge) -> None:
        self.gate, self.inner = gate, judge

    def judge(self, utterance: Utterance) -> Verdict:
        if self.gate._continuing:
            return self.inner.judge(utterance)
        request, _ = self.gate._request(utterance)
        if request is None:
            return Verdict(True, 1.0, None, "no wake word: not a request")
        return self.inner.judge(request)


def _after(utterance: Utterance, at_s: float) -> Utterance | None:
    """The part of `utterance` after the wake word recognised at `at_s`, or None when too
    little speech follows it. The cut goes at the quietest 20 ms before `at_s`."""
    pcm = np.frombuffer(utterance.pcm, "<i2").astype(np.float32)
    step = round(CUT_FRAME_S * SAMPLE_RATE)
    first = max(0, round((at_s - CUT_SEARCH_S - utterance.start_s) * SAMPLE_RATE))
    last = min(len(pcm) - step, round((at_s - utterance.start_s) * SAMPLE_RATE))
    if last < first:
        return None
    starts = np.arange(first, last + 1, step // 2)
    energy = [float(np.dot(pcm[s : s + step], pcm[s : s + step])) for s in starts]
    cut = int(starts[int(np.argmin(energy))]) + step // 2
    cut_s = utterance.start_s + cut / SAMPLE_RATE
    if utterance.speech_end_s - cut_s < MIN_COMMAND_S and not utterance.truncated:
        return None
    return replace(
        utterance,
        pcm=utterance.pcm[cut * SAMPLE_WIDTH :],
        start_s=cut_s,
        speech_start_s=max(cut_s, utterance.speech_start_s),
    )
