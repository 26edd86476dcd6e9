"""The voice loop: mic frames → end of turn → STT → route → agent → sentences → TTS → speaker.

Two drivers share one turn pipeline:
- `run_file` walks a recording in stream time. Each reply is placed on the
  recording's timeline where it would have started (end of the user's speech
  plus the measured processing time), so half-duplex and barge-in can be
  tested with files and the output WAV sounds like the conversation would.
- `run_live` reads a microphone on the capture thread while turns run on a
  worker thread and replies play on a player thread, so the user can talk
  over a reply and stop it.
All timings are milliseconds measured from the end of the user's speech.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from voice_agent.audio.base import AudioSink, AudioSource, Utterance
from voice_agent.audio.vad import Segmenter
from voice_agent.orchestrator import Assistant, Done, Routed, Token, TurnRecord
from voice_agent.speaker import Speaker
from voice_agent.stt import WhisperSTT
from voice_agent.tts.base import TTS, Speech

EventHandler = Callable[[str, dict], None]
REPLY_SAMPLE_RATE = 22050  # what espeak-ng and the Piper voice produce: no resampling loss


@dataclass
class VoiceTurn:
    """One spoken turn: the text pipeline's record plus what the voice stages add."""

    utterance: Utterance
    transcript: str
    record: TurnRecord | None  # None when the audio held no words
    timings: dict[str, float] = field(default_factory=dict)
    reply: list[tuple[float, Speech]] = field(default_factory=list)  # (stream time, audio)
    interrupted: bool = False

    @property
    def reply_end_s(self) -> float:
        if not self.reply:
            return self.utterance.end_s
        at, speech = self.reply[-1]
        return at + len(speech.pcm) / 2 / speech.sample_rate

    def to_dict(self) -> dict:
        data = self.record.to_dict() if self.record else {"answer": "", "agent": None}
        data.update(
            transcript=self.transcript,
            timings={k: round(v, 1) for k, v in self.timings.items()},
            interrupted=self.interrupted,
            speech_start_s=round(self.utterance.speech_start_s, 3),
            speech_end_s=round(self.utterance.speech_end_s, 3),
            reply_start_s=round(self.reply[0][0], 3) if self.reply else None,
        )
        return data


class VoiceLoop:
    def __init__(
        self,
        assistant: Assistant,
        stt: WhisperSTT,
        tts: TTS,
        *,
        streaming: bool = True,
        on_event: EventHandler | None = None,
    ) -> None:
        self.assistant = assistant
        self.stt = stt
        self.tts = tts
        self.speaker = Speaker(tts, streaming=streaming)
        self.on_event = on_event or (lambda kind, data: None)
        settings = assistant.settings
        self.frame_s = settings.audio.frame_ms / 1000
        self.barge_in = settings.audio.barge_in
        self.cooldown_s = settings.audio.post_tts_cooldown_ms / 1000
        self.segmenter = Segmenter(settings.vad, settings.audio.frame_ms)
        self._new_segmenter = lambda: Segmenter(settings.vad, settings.audio.frame_ms)

    def warmup(self) -> None:
        self.on_event("state", {"state": "warming up"})
        self.stt.warmup()
        self.tts.warmup()
        self.assistant.warmup()

    # -- one turn ---------------------------------------------------------------------------
    def turn(
        self,
        utterance: Utterance,
        play: Callable[[Speech], None] | None = None,
        cancel: threading.Event | None = None,
        started: float | None = None,
    ) -> VoiceTurn:
        """Transcribe, answer and speak one utterance.

        Each sentence's audio goes to `play` (the speaker) as soon as it is ready, and
        onto `turn.reply` at the stream time it would start: the end of the user's
        speech plus the time it took, after the previous sentence. `started` is the
        perf_counter when the endpointer closed the turn (now, for files).
        """
        t0 = started if started is not None else time.perf_counter()
        eot_ms = (utterance.end_s - utterance.speech_end_s) * 1000

        def since_speech_end(at: float) -> float:
            return eot_ms + (at - t0) * 1000

        self.on_event("state", {"state": "transcribing"})
        transcript = self.stt.transcribe(utterance.pcm)
        timings = {"end_of_turn_ms": eot_ms, "stt_ms": since_speech_end(time.perf_counter())}
        self.on_event("transcript", {"text": transcript.text, "timings": timings})
        turn = VoiceTurn(utterance, transcript.text, None, timings)
        if not transcript.text:
            return turn
        self.on_event("state", {"state": "thinking"})
        turn_start = time.perf_counter()
        events = self.assistant.turn(transcript.text)
        holder: dict[str, TurnRecord] = {}

        def on_audio(speech: Speech, ready: float) -> None:
            at = utterance.speech_end_s + since_speech_end(ready) / 1000
            if not turn.reply:
                timings["first_audio_ms"] = since_speech_end(ready)
                self.on_event("state", {"state": "speaking"})
            else:
                at = max(at, turn.reply_end_s)
            turn.reply.append((at, speech))
            if play is not None:
                play(speech)

        try:
            spoken = self.speaker.speak(self._pieces(events, holder), on_audio, cancel)
        finally:
            events.close()
        turn.interrupted = spoken.cancelled
        turn.record = holder.get("record")
        offset = (turn_start - t0) * 1000 + eot_ms
        if turn.record is not None:
            text_timings = turn.record.timings
            timings["route_ms"] = offset + text_timings["route_ms"]
            if "first_token_ms" in text_timings:
                timings["first_token_ms"] = offset + text_timings["first_token_ms"]
        timings["total_ms"] = since_speech_end(time.perf_counter())
        self.on_event("done", {"turn": turn})
        return turn

    def _pieces(self, events: Iterator, holder: dict) -> Iterator[str]:
        for event in events:
            if isinstance(event, Routed):
                self.on_event("routed", {"decision": event.decision})
            elif isinstance(event, Token):
                self.on_event("token", {"text": event.text})
                yield event.text
            elif isinstance(event, Done):
                holder["record"] = event.record

    # -- a recording --------------------------------------------------------------------------
    def run_file(self, source: AudioSource) -> list[VoiceTurn]:
        """Every utterance in the recording, answered in order, replies placed on its timeline."""
        self.segmenter = self._new_segmenter()  # a recording is a stream of its own: clock at 0
        turns: list[VoiceTurn] = []
        current: VoiceTurn | None = None
        busy_until = float("-inf")  # stream time when the current reply stops playing
        t = 0.0
        for frame in source.frames():
            t += self.frame_s
            playing = t <= busy_until
            if not self.barge_in and t <= busy_until + self.cooldown_s:
                self.segmenter.skip()  # half-duplex: the mic hears the assistant; ignore it
                continue
            was_speaking = self.segmenter.in_speech
            finished = self.segmenter.feed(frame)
            if playing and current and self.segmenter.in_speech and not was_speaking:
                self._cut(current, t)  # barge-in: the user talked over the reply
                busy_until = t
                self.on_event("barge_in", {"at_s": t})
            for utterance in finished:
                current = self.turn(utterance)
                turns.append(current)
                busy_until = current.reply_end_s
        last = self.segmenter.flush()
        if last is not None:
            turns.append(self.turn(last))
        return turns

    @staticmethod
    def _cut(turn: VoiceTurn, at_s: float) -> None:
        """Drop the reply audio after `at_s`, as the speaker stopping would."""
        kept = []
        for start, speech in turn.reply:
            if start >= at_s:
                break
            samples = int((at_s - start) * speech.sample_rate)
            kept.append((start, Speech(speech.pcm[: samples * 2], speech.sample_rate)))
        turn.reply = kept
        turn.interrupted = True

    # -- a microphone ---------------------------------------------------------------------------
    def run_live(self, source: AudioSource, sink: AudioSink, stop: threading.Event) -> None:
        """Listen until `stop` is set: turns run on a worker, replies play on a player thread."""
        player = _Player(sink)
        utterances: queue.Queue[tuple[Utterance, float] | None] = queue.Queue()
        cancel = threading.Event()
        busy = threading.Event()  # a turn is being answered
        announcements: queue.Queue[str] = queue.Queue()
        self.assistant.announce = announcements.put  # fired timers, spoken between turns
        worker = threading.Thread(
            target=self._live_turns,
            args=(utterances, announcements, player, cancel, busy, stop),
            daemon=True,
        )
        worker.start()
        self.assistant.start_timers()
        quiet_since = 0.0
        self.on_event("state", {"state": "listening"})
        try:
            for frame in source.frames():
                if stop.is_set():
                    break
                now = time.perf_counter()
                speaking = player.busy
                if speaking:
                    quiet_since = now
                if not self.barge_in and (speaking or now - quiet_since < self.cooldown_s):
                    self.segmenter.skip()
                    continue
                was_speaking = self.segmenter.in_speech
                finished = self.segmenter.feed(frame)
                if self.segmenter.in_speech and not was_speaking:
                    self.on_event("state", {"state": "hearing"})
                    if speaking or busy.is_set():
                        cancel.set()  # barge-in: stop talking and stop generating
                        player.stop()
                        self.on_event("barge_in", {})
                for utterance in finished:
                    utterances.put((utterance, time.perf_counter()))
        finally:
            stop.set()
            utterances.put(None)
            worker.join(timeout=5)
            player.close()

    def _live_turns(self, utterances, announcements, player, cancel, busy, stop) -> None:
        while not stop.is_set():
            try:
                item = utterances.get(timeout=0.2)
            except queue.Empty:
                if not player.busy and not self.segmenter.in_speech:
                    self._speak_announcements(announcements, player)
                continue
            if item is None:
                continue
            utterance, started = item
            cancel.clear()
            busy.set()
            try:
                self.turn(utterance, player.enqueue, cancel, started)
            finally:
                busy.clear()
                self.on_event("state", {"state": "listening"})

    def _speak_announcements(self, announcements: queue.Queue[str], player: _Player) -> None:
        while not announcements.empty():
            message = announcements.get_nowait()
            self.on_event("announcement", {"text": message})
            player.enqueue(self.tts.synthesize(message))


class _Player:
    """Plays queued replies in order on its own thread; `stop()` cuts them off at once."""

    def __init__(self, sink: AudioSink) -> None:
        self.sink = sink
        self._queue: queue.Queue[Speech | None] = queue.Queue()
        self._playing = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._playing.is_set() or not self._queue.empty()

    def enqueue(self, speech: Speech) -> None:
        self._queue.put(speech)

    def stop(self) -> None:
        while not self._queue.empty():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self.sink.stop()

    def close(self) -> None:
        self.stop()
        self._queue.put(None)
        self._thread.join(timeout=2)
        self.sink.close()

    def _run(self) -> None:
        while (speech := self._queue.get()) is not None:
            self._playing.set()
            try:
                self.sink.play(speech.pcm, speech.sample_rate)
            finally:
                self._playing.clear()


def write_timeline(path, turns: Iterable[VoiceTurn], duration_s: float) -> None:
    """The spoken replies placed after each utterance, as one WAV at least as long as the input."""
    from voice_agent.audio.playback import WavSink

    sink = WavSink(path, sample_rate=REPLY_SAMPLE_RATE)
    sink.extend_to(duration_s)
    for turn in turns:
        for at, speech in turn.reply:
            sink.place(speech.pcm, speech.sample_rate, at)
    sink.close()
