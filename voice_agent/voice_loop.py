"""The voice loop: mic frames → end of turn → STT → brain → sentences → TTS → speaker.

Two drivers share one turn pipeline and one turn-taking policy (`Floor`):
- `run_file` walks a recording in stream time. Each reply is placed on the
  recording's timeline where it would have started (end of the user's speech
  plus the measured processing time), so half-duplex and barge-in are tested
  with files exactly as the user gets them, and the output WAV sounds like the
  conversation would.
- `run_live` reads a microphone on the capture thread while turns run on a
  worker thread and replies play on a player thread, so the user can talk
  over a reply and stop it.
A turn finishes (is stored, `TurnFinished`) once its reply has been played or cut. With
barge-in, a turn that ended at a pause that only sounded final, whose speaker talked on
before its reply could be heard, is not finished: its words open the request that continues
it, answered as one turn ("could you switch on the porch lights, … what is 12 times 12").
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from voice_agent.app import App
from voice_agent.audio.base import SAMPLE_RATE, AudioError, AudioSink, AudioSource, Utterance
from voice_agent.audio.echo import SimulatedEcho
from voice_agent.audio.playback import resample
from voice_agent.audio.player import Player
from voice_agent.audio.vad import Segmenter
from voice_agent.barge_in import Listener, Overheard, OverReply, resume_point
from voice_agent.events import (
    Announcement,
    AudioReady,
    BargeIn,
    Event,
    EventHandler,
    ReplyResumed,
    SpeechStarted,
    StateChanged,
    Token,
    Transcribed,
    TurnFailed,
    ignore,
)
from voice_agent.speaker import Speaker
from voice_agent.tts.base import Speech
from voice_agent.turn import Overlap, Turn
from voice_agent.wake.gate import WakeGate

log = logging.getLogger(__name__)
REPLY_SAMPLE_RATE = 22050  # what espeak-ng and the Piper voice produce: no resampling loss
# How soon a microphone that went away is tried again, doubling up to the cap: each try
# probes every audio device, too much work to repeat many times a second.
MIC_RETRY_S = 0.5
MIC_RETRY_MAX_S = 4.0
# Speech starting this soon after a reply does (or before it) is no answer to the reply:
# answering a voice takes hearing its first word (about 0.3 s) and starting to speak (about
# 0.2 s). It goes on with the turn the reply answers ("Convert eight… ounces to grams",
# whose pause, 500-800 ms, can outlast a turn judged finished and the reply's first sound).
REACTION_S = 0.5


@dataclass
class Heard:
    utterances: list[Utterance] = field(default_factory=list)
    started: bool = False  # the user started speaking at this frame
    barge_in: bool = False  # ...while the assistant was answering or speaking
    ended: bool = False  # their speech ended at this frame (an utterance, or dropped as noise)


class Floor:
    """Who may speak. Half-duplex (default): what the mic hears while the assistant speaks,
    and for a cooldown after, is its own voice and is ignored. Barge-in: the user's speech
    during an answer pauses it, and what they said stops it or lets it go on (barge_in.py)."""

    def __init__(self, segmenter: Segmenter, barge_in: bool, cooldown_s: float) -> None:
        self.segmenter = segmenter
        self.barge_in = barge_in
        self.cooldown_s = cooldown_s
        self._quiet_since = float("-inf")

    def listens(self, now: float, speaking: bool) -> bool:
        """Whether the mic is heard at `now`: not its own voice in half-duplex."""
        if speaking:
            self._quiet_since = now
        return self.barge_in or not (speaking or now - self._quiet_since < self.cooldown_s)

    def hear(
        self, frame: bytes, now: float, speaking: bool, answering: bool, residual_db: float
    ) -> Heard:
        if not self.listens(now, speaking):
            self.segmenter.skip()
            return Heard()
        was_speaking = self.segmenter.in_speech
        utterances = self.segmenter.feed(frame, residual_db)
        started = self.segmenter.in_speech and not was_speaking
        ended = was_speaking and not self.segmenter.in_speech
        return Heard(utterances, started, started and (speaking or answering), ended)


@dataclass
class Reply:
    turn_id: str
    at_s: float  # stream time it starts
    speech: Speech

    @property
    def end_s(self) -> float:
        return self.at_s + len(self.speech.pcm) / 2 / self.speech.sample_rate

    @cached_property
    def samples(self) -> np.ndarray:
        """At the microphone's rate: what a simulated loudspeaker sends back into it."""
        return resample(np.frombuffer(self.speech.pcm, "<i2"), self.speech.sample_rate, SAMPLE_RATE)


@dataclass
class _Part:
    """What was heard of an utterance cut while the user talked on: at vad.max_utterance_s,
    or at a pause that only sounded final (a turn the next request continues)."""

    speech_start_s: float
    text: str = ""
    error: Exception | None = None


class VoiceLoop:
    def __init__(self, app: App, *, streaming: bool = True, on_event: EventHandler | None = None):
        self.app = app
        self.streaming = streaming
        self.emit: EventHandler = on_event or ignore
        self.timeline: list[Reply] = []  # run_file: every reply placed on the recording
        self._parts: list[_Part] = []  # answered with the utterance that ends them
        self.gate: WakeGate | None = None  # wake.enabled: which utterances are requests
        self.ignored = 0  # utterances the gate found no request in, by the last run
        self._overlaps: list[Overlap] = []  # live: speech over the reply of the current turn
        self._saying = ""  # the text of the last answer spoken, to tell its echo
        self._continued: Turn | None = None  # file: answered again with the request after it
        self._interrupting: Utterance | None = None  # live: the request that stopped a reply

    def warmup(self) -> None:
        self.emit(StateChanged("warming up", profile=self.app.settings.name))
        self.app.warmup(voice=True)

    def _floor(self, realtime: bool = False) -> Floor:
        audio = self.app.settings.audio
        segmenter = self.app.segmenter(realtime)
        if self.gate is not None and segmenter.judge is not None:
            segmenter.judge = self.gate.guard(segmenter.judge)
        return Floor(segmenter, audio.barge_in, audio.post_tts_cooldown_ms / 1000)

    # -- one turn ---------------------------------------------------------------------------
    def hold(self, utterance: Utterance) -> None:
        """A part cut at vad.max_utterance_s: the user is still talking, so it is not answered
        (a reply now would talk over them, and half-duplex would not hear the rest). It is
        transcribed now, and answered with the rest once they stop."""
        part = _Part(utterance.speech_start_s)
        try:
            part.text = self.app.transcribe(utterance.pcm)
            self.app.health.ok("stt")
        except Exception as exc:  # noqa: BLE001 - the turn says so once the user stops
            part.error = exc
        self._parts.append(part)

    def answer(
        self,
        utterance: Utterance,
        play: Callable[[Speech], None] | None = None,
        cancel: threading.Event | None = None,
        started: float | None = None,
    ) -> Turn:
        """Transcribe, answer and speak one utterance; the caller finishes the turn.

        `started` is the perf_counter when the endpointer closed the turn (now, for files):
        the turn's clock starts at the end of the user's speech, that long before.
        A transcript taken in the pause before the end (speculative, `utterance.judged`) is
        used as it is, and its failure is the turn's; for a file, if it was still being made
        at the end of the turn, the clock runs on from when it would have been ready.
        """
        app = self.app
        parts, self._parts = self._parts, []
        eot_s = utterance.end_s - utterance.speech_end_s
        judged = utterance.judged
        late_s = 0.0  # files: how long after the end of turn the speculative transcript came
        if judged is not None and judged.ready_s is not None and started is None:
            late_s = max(0.0, judged.ready_s - utterance.end_s)
        turn = Turn(
            text="",
            profile=app.settings.name,
            source="spoken",
            origin=(started if started is not None else time.perf_counter()) - eot_s - late_s,
            speech_start_s=parts[0].speech_start_s if parts else utterance.speech_start_s,
            speech_end_s=utterance.speech_end_s,
            session=app.orchestrator.session,
        )
        turn.mark("endpoint", eot_s)
        self.emit(StateChanged("transcribing"))
        try:
            failed = next((part.error for part in parts if part.error), None)
            if failed is not None:
                raise failed
            app.health.check("stt")
            verdict = judged.verdict() if judged is not None else None
            if verdict is not None and verdict.error is not None:
                raise verdict.error
            speculated = verdict.text if verdict is not None else None
            last = app.transcribe(utterance.pcm) if speculated is None else speculated
            heard = [*(part.text for part in parts), last]
            text = " ".join(piece for piece in heard if piece)
            text = self.gate.strip(text) if self.gate is not None else text
            app.health.ok("stt")
        except Exception as exc:  # noqa: BLE001 - a failing stage ends its turn, not the loop
            turn.mark("transcribed")
            self._speak(
                turn, self._relay(app.orchestrator.fail(turn, None, "stt", exc)), play, cancel
            )
            return turn
        turn.text = turn.transcript = text
        turn.mark("transcribed")
        self.emit(Transcribed(turn.id, text, turn.timings["stt_ms"]))
        self.emit(StateChanged("thinking"))
        events = app.orchestrator.answer(turn, verdict.plan if verdict is not None else None)
        try:
            self._speak(turn, self._relay(events), play, cancel)
        finally:
            events.close()
        turn.mark("answered")
        turn.mark("finished")
        return turn

    def _continues(self, turn: Turn, request: Utterance) -> bool:
        """Whether `request`, which stopped `turn`'s reply, is the rest of `turn`: begun
        before that reply could be heard, by a turn that did nothing answering it again would
        do twice (a timer set stays a turn of its own). If so, the turn's words open the
        request's, and the caller drops the turn rather than finishing it."""
        start = turn.reply_start_s
        soon = start is None or request.speech_start_s < start + REACTION_S
        if soon and turn.text and turn.error is None and self.app.orchestrator.redoable(turn):
            self._parts.append(_Part(turn.speech_start_s, turn.text))
            return True
        return False

    def _end(self, turn: Turn, turns: list[Turn]) -> None:
        """Finish a file's turn, unless the next request continues it."""
        if turn is self._continued:
            self._continued = None
            turns.remove(turn)
        else:
            self.finish(turn)

    def finish(self, turn: Turn) -> None:
        for event in self.app.orchestrator.finish(turn):
            self.emit(event)
        self.emit(StateChanged("listening", profile=self.app.settings.name))
        if self.gate is not None:
            self.gate.open(turn.reply_end_s)  # a follow-up needs no wake word

    def _speech_started(self, at_s: float) -> None:
        self.app.hold_prefill()  # Whisper will need the cores the LLM is reading ahead with
        self.emit(SpeechStarted(at_s))

    def _relay(self, events: Iterator[Event]) -> Iterator[str]:
        """Pass every event on; hand the answer's text to the speaker."""
        self._saying = ""
        for event in events:
            self.emit(event)
            if isinstance(event, Token):
                self._saying += event.text
                yield event.text

    def _speak(self, turn, pieces: Iterator[str], play, cancel) -> None:
        def on_audio(speech: Speech, ready: float) -> None:
            at = turn.speech_end_s + (ready - turn.origin)
            if turn.reply_start_s is None:
                turn.mark("first_audio", ready - turn.origin)
                turn.reply_start_s = at
                self.emit(StateChanged("speaking"))
            else:
                at = max(at, turn.reply_end_s)
            reply = Reply(turn.id, at, speech)
            turn.reply_end_s = reply.end_s
            self.timeline.append(reply)
            self.emit(AudioReady(turn.id, at, reply.end_s - at))
            if play is not None:
                play(speech)

        if not self.app.health.usable("tts"):
            for _ in pieces:  # shown, not spoken, while the voice rests
                pass
            return
        try:
            spoken = Speaker(self.app.tts, streaming=self.streaming).speak(pieces, on_audio, cancel)
        except Exception as exc:  # noqa: BLE001 - the answer was shown; say what broke
            for event in self.app.orchestrator.fail(turn, None, "tts", exc):
                self.emit(event)
            return
        self.app.health.ok("tts")
        turn.interrupted = turn.interrupted or spoken.cancelled

    # -- a recording --------------------------------------------------------------------------
    def run_file(self, source: AudioSource, echo: SimulatedEcho | None = None) -> list[Turn]:
        """Every utterance in the recording, answered in order, replies placed on its timeline.

        `echo`: a loudspeaker next to the microphone; the replies come back into the recording
        along its path, and the echo canceller (if on) hears them as it would live.
        """
        self.gate = self._gate()
        floor = self._floor()  # a recording is a stream of its own: its clock starts at 0
        canceller = self.app.echo_canceller() if echo is not None else None
        self.timeline = []
        turns: list[Turn] = []
        pending: Turn | None = None  # answered; its reply is still playing on the timeline
        over: OverReply | None = None  # speech over that reply paused it
        held: list[Reply] = []  # ...and this is what it has still to play
        listener = self._listener(realtime=False)
        frame_s = source.frame_ms / 1000
        t = 0.0
        version = self.app.version
        for frame in source.frames():
            residual_db = -math.inf
            if echo is not None:
                played = self._played(round(t * SAMPLE_RATE), len(frame) // 2)
                frame = echo.mix(frame, played)
                if canceller is not None:
                    canceller.played(played, t)
                    frame = canceller.clean(frame, t)
                    residual_db = canceller.residual_db(t, len(frame) // 2)
            t += frame_s
            if version != self.app.version:
                floor, version = self._refloor(floor), self.app.version
            speaking = over is None and pending is not None and t <= (pending.reply_end_s or 0)
            heard = self._hear(floor, frame, t, speaking, False, residual_db)
            if heard.started:
                self._speech_started(t)
            if heard.barge_in and pending is not None:
                over, held = OverReply(t, listener), self._pause(pending, t)
                self.emit(BargeIn(pending.id, t))
            requests = list(self._requests(heard.utterances))
            if over is not None and pending is not None:
                settled = self._overheard(over, floor.segmenter, heard, requests, t)
                if settled is None:
                    continue
                requests = self._settle(pending, over, settled, held, t)
                over = None
                if not requests:
                    continue
            if pending is not None and (not speaking or heard.utterances or requests):
                self._end(pending, turns)
                pending = None
            for utterance in requests:
                if utterance.truncated:
                    self.hold(utterance)
                    continue
                pending = self.answer(utterance)
                turns.append(pending)
        last = list(self._requests([floor.segmenter.flush()]))
        if over is not None and pending is not None:  # the recording ended during the pause
            over.hear(last, True, t)
            last = self._settle(pending, over, over.settle(math.inf, False), held, t)
        if pending is not None:
            self._end(pending, turns)
        for utterance in last:
            turns.append(self.answer(utterance))
            self.finish(turns[-1])
        listener.close()
        self._close_gate()
        return turns

    def _listener(self, realtime: bool) -> Listener:
        """Judges what is said over a reply (barge-in)."""
        audio, vad = self.app.settings.audio, self.app.settings.vad
        backchannel_max_s, check_s = audio.backchannel_max_ms / 1000, vad.turn_check_ms / 1000
        return Listener(
            self.app.hear,
            backchannel_max_s,
            check_s,
            vad.turn_unsure_logprob,
            lambda: self._saying,
            realtime,
        )

    def _overheard(
        self,
        over: OverReply,
        segmenter: Segmenter,
        heard: Heard,
        requests: list[Utterance],
        now_s: float,
    ) -> Overheard | None:
        """What the speech over a paused reply was, once it is known (see barge_in.py)."""
        if over.ends_early(segmenter, now_s):
            over.hear([*requests, *self._requests([segmenter.flush()])], True, now_s)
        else:
            over.hear(requests, heard.ended, now_s)
        return over.settle(now_s, segmenter.in_speech)

    def _settle(
        self, turn: Turn, over: OverReply, settled: Overheard, held: list[Reply], t: float
    ) -> list[Utterance]:
        """A reply paused on the timeline resumes at `t` (noise, a backchannel: nothing to
        answer), or stops where it paused: the requests to answer."""
        if settled.heard == "request":
            turn.interrupted = True
            turn.barge_ins.append(Overlap(over.at_s, "request", settled.text))
            if settled.utterance is None:
                return []
            if self._continues(turn, settled.utterance):
                self._continued = turn
            return [settled.utterance, *over.pending()]
        at = t
        for reply in held:  # in order, none before it was ready
            at = max(at, reply.at_s)
            self.timeline.append(Reply(turn.id, at, reply.speech))
            at = self.timeline[-1].end_s
        turn.reply_end_s = max(turn.reply_end_s or 0.0, at)
        turn.barge_ins.append(Overlap(over.at_s, settled.heard, settled.text, t))
        self.emit(ReplyResumed(turn.id, t, settled.heard, settled.text))
        return []

    def _hear(
        self,
        floor: Floor,
        frame: bytes,
        now: float,
        speaking: bool,
        answering: bool,
        residual_db: float,
    ) -> Heard:
        """What the floor hears of `frame`. The wake word detector hears it too, but never
        the assistant's own voice (silence while a reply plays, and while half-duplex still
        ignores its echo): a reply that says "hey jarvis" wakes nothing. During a reply the
        user is in conversation (see wake/gate.py), so none is needed then."""
        if self.gate is not None:
            own_voice = speaking or not floor.listens(now, speaking)
            self.gate.hear(bytes(len(frame)) if own_voice else frame)
        return floor.hear(frame, now, speaking, answering, residual_db)

    def _gate(self) -> WakeGate | None:
        from voice_agent.wake.factory import build_gate

        return build_gate(self.app.settings.wake, self.emit, lambda said: self.app.announce(said))

    def _requests(self, utterances: Iterable[Utterance | None]) -> Iterator[Utterance]:
        """The utterances to answer: all of them, or with wake words on what the gate admits."""
        for utterance in utterances:
            if utterance is not None and self.gate is not None:
                utterance = self.gate.admit(utterance)
            if utterance is not None:
                yield utterance

    def _close_gate(self) -> None:
        if self.gate is not None:
            self.ignored = self.gate.ignored
            self.gate.close()
            self.gate = None

    def _played(self, start: int, samples: int) -> bytes:
        """What the replies on the timeline play from sample `start` on, at the mic's rate."""
        out = np.zeros(samples, np.float32)
        for reply in self.timeline:
            at = round(reply.at_s * SAMPLE_RATE)
            lo, hi = max(start, at), min(start + samples, at + len(reply.samples))
            if lo < hi:
                out[lo - start : hi - start] += reply.samples[lo - at : hi - at]
        return np.clip(out, -32768, 32767).astype("<i2").tobytes()

    def _refloor(self, old: Floor) -> Floor:
        """After a profile switch: the new profile's endpointer, on the same stream clock."""
        new = self._floor(old.segmenter.realtime)
        new.segmenter.skip(round(old.segmenter.now_s * 1000 / self.app.settings.audio.frame_ms))
        new._quiet_since = old._quiet_since
        return new

    def _pause(self, turn: Turn, at_s: float) -> list[Reply]:
        """Take the reply audio after `at_s` off the timeline, as the speaker pausing would;
        returns it, to resume from a little before `at_s` (barge_in.resume_point)."""
        kept, held = [], []
        for reply in self.timeline:
            if reply.turn_id == turn.id and reply.end_s > at_s:
                if reply.at_s >= at_s:
                    held.append(reply)
                    continue
                rate = reply.speech.sample_rate
                pcm = np.frombuffer(reply.speech.pcm, "<i2")
                played = int((at_s - reply.at_s) * rate)
                rest = pcm[resume_point(pcm, played, rate) :]
                held.append(Reply(turn.id, at_s, Speech(rest.tobytes(), rate)))
                reply = Reply(turn.id, reply.at_s, Speech(pcm[:played].tobytes(), rate))
            kept.append(reply)
        self.timeline = kept
        turn.reply_end_s = at_s
        return held

    # -- a microphone ---------------------------------------------------------------------------
    def run_live(self, source: AudioSource, sink: AudioSink, stop: threading.Event) -> None:
        """Listen until `stop` is set: turns run on a worker, replies play on a player thread."""
        canceller = self.app.echo_canceller()
        player = Player(sink, canceller)
        listener = self._listener(realtime=True)
        over: OverReply | None = None  # speech over the reply paused it
        utterances: queue.Queue[tuple[Utterance, float] | None] = queue.Queue()
        cancel = threading.Event()
        busy = threading.Event()  # a turn is being answered
        announcements: queue.Queue[str] = queue.Queue()
        self.app.announce = announcements.put  # fired timers, spoken between turns
        worker = threading.Thread(
            target=self._live_turns,
            args=(utterances, announcements, player, cancel, busy, stop),
            daemon=True,
        )
        worker.start()
        self.app.start_services()
        self.gate = self._gate()
        floor, version = self._floor(realtime=True), self.app.version
        self.emit(StateChanged("listening", profile=self.app.settings.name))
        try:
            for frame in self._microphone(source, stop):
                if stop.is_set():
                    break
                if frame is None:  # the microphone went away: what it half heard is dropped
                    floor.segmenter.reset()
                    continue
                if version != self.app.version:  # a spoken profile switch: its endpointer
                    floor, version = self._refloor(floor), self.app.version
                residual_db = -math.inf
                if canceller is not None:
                    frame = canceller.clean(frame, source.captured_at)
                    residual_db = canceller.residual_db(source.captured_at, len(frame) // 2)
                now = time.perf_counter()
                heard = self._hear(floor, frame, now, player.busy, busy.is_set(), residual_db)
                if heard.started:
                    self._speech_started(floor.segmenter.now_s)
                    self.emit(StateChanged("hearing"))
                if heard.barge_in and over is None:
                    player.pause()  # quiet at once; generation goes on until it is decided
                    over = OverReply(floor.segmenter.now_s, listener)
                    self.emit(BargeIn(None, over.at_s))
                requests = list(self._requests(heard.utterances))
                queued = [(utterance, time.perf_counter()) for utterance in requests]
                if over is not None:
                    now_s = floor.segmenter.now_s
                    settled = self._overheard(over, floor.segmenter, heard, requests, now_s)
                    if settled is None:
                        continue
                    queued = self._settle_live(over, settled, now_s, player, cancel)
                    over = None
                for request in queued:
                    utterances.put(request)
        finally:
            stop.set()
            utterances.put(None)
            worker.join(timeout=5)
            player.close()
            listener.close()
            self._close_gate()

    def _settle_live(
        self,
        over: OverReply,
        settled: Overheard,
        now_s: float,
        player: Player,
        cancel: threading.Event,
    ) -> list[tuple[Utterance, float]]:
        """The paused reply resumes (noise, a backchannel), or stops and generates no more:
        the requests to answer, with when each was heard. What was heard goes to the turn
        being answered (`_live_turn`) before it can finish."""
        at = over.at_s
        if settled.heard == "request":
            self._overlaps.append(Overlap(at, "request", settled.text))
            self._interrupting = settled.utterance
            cancel.set()
            player.stop()
            first = [(settled.utterance, settled.heard_at)] if settled.utterance else []
            return first + [(u, time.perf_counter()) for u in over.pending()]
        self._overlaps.append(Overlap(at, settled.heard, settled.text, now_s))
        player.resume()
        self.emit(ReplyResumed(None, now_s, settled.heard, settled.text))
        self.emit(StateChanged("speaking"))
        return []

    def _microphone(self, source: AudioSource, stop: threading.Event) -> Iterator[bytes | None]:
        """The source's frames. When the microphone goes away (unplugged, sound server gone)
        the user is told once, None is yielded, and it is opened again every few seconds
        until it is back; then the user is told it is listening again."""
        wait_s = MIC_RETRY_S
        lost = False
        while not stop.is_set():
            try:
                for frame in source.frames():
                    if lost:
                        lost, wait_s = False, MIC_RETRY_S
                        self.app.announce("The microphone is back: I'm listening again.")
                        self.emit(StateChanged("listening", profile=self.app.settings.name))
                    yield frame
                return
            except AudioError as exc:
                if not lost:
                    log.warning("the microphone is gone: %s", exc)
                    lost = True
                    self.app.announce(
                        f"I can't hear you: {str(exc).rstrip('.')}. I'll keep trying to reach "
                        "the microphone, and listen again as soon as it is back."
                    )
                    self.emit(StateChanged("microphone lost", profile=self.app.settings.name))
                    yield None
            stop.wait(wait_s)
            wait_s = min(wait_s * 2, MIC_RETRY_MAX_S)

    def _live_turns(self, utterances, announcements, player, cancel, busy, stop) -> None:
        while not stop.is_set():
            try:
                item = utterances.get(timeout=0.2)
            except queue.Empty:
                if not player.busy:
                    self._speak_announcements(announcements, player)
                continue
            if item is None:
                continue
            utterance, started = item
            if utterance.truncated:
                self.hold(utterance)
                continue
            cancel.clear()
            busy.set()
            try:
                self._live_turn(utterance, started, player, cancel)
            except Exception as exc:  # noqa: BLE001 - a bug here must not stop the listening
                log.exception("the voice loop failed on a turn")
                self.emit(TurnFailed("", "voice_loop", type(exc).__name__, str(exc)))
            finally:
                busy.clear()

    def _live_turn(self, utterance: Utterance, started: float, player: Player, cancel) -> None:
        self._overlaps, self._interrupting = [], None
        turn = self.answer(utterance, player.enqueue, cancel, started)
        player.wait_idle()  # paused by a barge-in counts: it waits for what was said
        if cancel.is_set():
            turn.interrupted = True
            if self._interrupting is not None and self._continues(turn, self._interrupting):
                return  # the request queued next answers it with its own
        turn.barge_ins.extend(self._overlaps)
        if player.error is not None:
            for event in self.app.orchestrator.fail(turn, None, "playback", player.error):
                self.emit(event)
            player.error = None
        self.finish(turn)

    def _speak_announcements(self, announcements: queue.Queue[str], player: Player) -> None:
        while not announcements.empty():
            message = announcements.get_nowait()
            self.emit(Announcement(message))
            if self.app.health.usable("tts"):
                try:
                    player.enqueue(self.app.tts.synthesize(message), reported=False)
                except Exception:  # noqa: BLE001 - it was shown; the voice failing is logged
                    log.exception("could not speak an announcement")


def write_timeline(path, replies: Iterable[Reply], duration_s: float) -> None:
    """The spoken replies placed after each utterance, as one WAV at least as long as the input."""
    from voice_agent.audio.playback import WavSink

    sink = WavSink(path, sample_rate=REPLY_SAMPLE_RATE)
    sink.extend_to(duration_s)
    for reply in replies:
        sink.place(reply.speech.pcm, reply.speech.sample_rate, reply.at_s)
    sink.close()
