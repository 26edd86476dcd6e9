"""One Wyoming client's connection to `serve`: its events in, the assistant's answers out.

The connection keeps reading while its requests are worked on, so a client that hangs up
is noticed at once and its request is dropped (see lanes.py). Requests are answered in
the order they came, one at a time, by the connection's own worker task, which is also
the only writer of multi-event answers (audio): an announcement never lands inside one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, NotHandled
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.timer import TimerFinished
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)
from wyoming.wake import Detect

from voice_agent.audio.base import SAMPLE_RATE
from voice_agent.tts.chunker import SentenceChunker
from voice_agent.wyoming.lanes import Busy
from voice_agent.wyoming.wake_stream import WakeStream

if TYPE_CHECKING:
    from voice_agent.wyoming.server import WyomingServer

log = logging.getLogger(__name__)

SAMPLES_PER_CHUNK = 1024  # audio sent back in chunks of this many samples, as Piper's server does
MAX_PENDING = 256  # requests one connection may have queued; a client past this is dropped
BUSY_ANSWER = "Sorry, I'm answering too many requests right now; please ask again in a moment."

Job = Callable[[], Awaitable[None]]


class Connection(AsyncEventHandler):
    def __init__(
        self, server: WyomingServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(reader, writer)
        self.server = server
        peer = writer.get_extra_info("peername")
        self.address = f"{peer[0]}:{peer[1]}" if peer else "unknown"
        self.client = self.address  # a satellite's id, once it gives one
        self._jobs: asyncio.Queue[Job] = asyncio.Queue(MAX_PENDING)
        self._worker: asyncio.Task | None = None
        self._audio = bytearray()
        self._audio_cut = False  # more audio came than serve.max_audio_s allows
        self._to_16k = AudioChunkConverter(rate=SAMPLE_RATE, width=2, channels=1)
        self._stream: SentenceChunker | None = None  # a streamed Synthesize in progress
        self._wake: WakeStream | None = None  # after Detect: the audio is for wake words
        server.connected(self)

    # -- events in ----------------------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        kind = event.type
        if Describe.is_type(kind):
            await self.write_event(self.server.info().event())
        elif Ping.is_type(kind):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif Detect.is_type(kind):
            await self._detect(Detect.from_event(event))
        elif self._wake is not None and AudioChunk.is_type(kind):
            for detection in await self._wake.feed(AudioChunk.from_event(event)):
                await self.write_event(detection)
        elif self._wake is not None and AudioStop.is_type(kind):
            wake, self._wake = self._wake, None
            for answer in wake.stop():
                await self.write_event(answer)
        elif Transcribe.is_type(kind) or AudioStart.is_type(kind):
            if Transcribe.is_type(kind) and self._wake is not None:  # no longer for wake words
                self._wake.close()
                self._wake = None
            self._audio, self._audio_cut = bytearray(), False
        elif AudioChunk.is_type(kind):
            self._take_audio(AudioChunk.from_event(event))
        elif AudioStop.is_type(kind):
            audio, cut = bytes(self._audio), self._audio_cut
            self._audio, self._audio_cut = bytearray(), False
            return self._queue(lambda: self._transcribe(audio, cut))
        elif Transcript.is_type(kind):
            transcript = Transcript.from_event(event)
            return self._queue(lambda: self._handle(transcript))
        elif SynthesizeStart.is_type(kind):
            self._stream = SentenceChunker()
        elif SynthesizeChunk.is_type(kind) and self._stream is not None:
            text = SynthesizeChunk.from_event(event).text
            return self._queue_sentences(self._stream.feed(text))
        elif SynthesizeStop.is_type(kind) and self._stream is not None:
            rest, self._stream = self._stream.flush(), None
            return self._queue_sentences(rest) and self._queue(
                lambda: self.write_event(SynthesizeStopped().event())
            )
        elif Synthesize.is_type(kind) and self._stream is None:
            # (inside a stream it repeats the streamed text, for servers that cannot stream)
            sentences = _sentences(Synthesize.from_event(event).text)
            return self._queue(lambda: self._speak(sentences))
        return True

    async def _detect(self, detect: Detect) -> None:
        """The audio that follows is for wake words (until AudioStop)."""
        if self._wake is not None:
            self._wake.close()
        self._wake = WakeStream(self.server.wake, detect.names)
        if self._wake.refused:
            await self.write_event(Error(text=self._wake.refused, code="wake-word").event())

    def _take_audio(self, chunk: AudioChunk) -> None:
        if self._audio_cut:
            return
        pcm = self._to_16k.convert(chunk).audio
        if len(self._audio) + len(pcm) > self.server.max_audio_bytes:
            self._audio_cut = True
            return
        self._audio += pcm

    def _queue(self, job: Job) -> bool:
        """Answer `job` after the connection's earlier requests; False drops a flooding client."""
        try:
            self._jobs.put_nowait(job)
        except asyncio.QueueFull:
            log.warning("%s sent more than %d requests at once; dropped", self.client, MAX_PENDING)
            return False
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"wyoming {self.address}")
        return True

    def _queue_sentences(self, sentences: list[str]) -> bool:
        """Streamed text: each sentence its own audio stream, as soon as it is complete."""
        return all(self._queue(lambda s=s: self._speak([s])) for s in sentences)

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except Busy as exc:
                await self.write_event(Error(text=str(exc), code="busy").event())
            except (ConnectionError, asyncio.IncompleteReadError):
                return  # the client is gone: disconnect() ends this task
            except Exception as exc:  # noqa: BLE001 - one request fails, not the connection
                log.exception("a request from %s failed", self.client)
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                await self.write_event(Error(text=reason, code=type(exc).__name__).event())

    # -- requests -----------------------------------------------------------------------------
    async def _transcribe(self, pcm: bytes, cut: bool) -> None:
        if cut:
            limit = self.server.settings.serve.max_audio_s
            await self.write_event(
                Error(
                    text=f"the audio is longer than {limit:g} s (serve.max_audio_s)",
                    code="audio-too-long",
                ).event()
            )
            return
        heard = await self.server.assistant.transcribe(pcm)
        await self.write_event(Transcript(text=heard.text, language=heard.language).event())

    async def _handle(self, transcript: Transcript) -> None:
        context = transcript.context or {}
        if context.get("satellite_id"):
            self.client = str(context["satellite_id"])
        # Home Assistant names the conversation; a bare client holds one per satellite/address.
        conversation = str(context.get("conversation_id") or self.client)
        try:
            answer = await self.server.assistant.answer(transcript.text, self.client, conversation)
        except Busy:
            await self.write_event(NotHandled(text=BUSY_ANSWER, context=context).event())
            return
        if answer is None:
            return
        self.server.timers_set(self.client, answer.timers)
        reply = Handled if answer.handled else NotHandled
        out = {**context, "conversation_id": conversation}
        await self.write_event(reply(text=answer.text, context=out).event())

    async def _speak(self, sentences: list[str]) -> None:
        """One audio stream (AudioStart, chunks, AudioStop) saying `sentences` in order."""
        started = False
        for sentence in sentences:
            speech = await self.server.assistant.synthesize(sentence)
            if not started:
                start = AudioStart(rate=speech.sample_rate, width=2, channels=1)
                await self.write_event(start.event())
                started = True
            await self._send_pcm(speech.pcm, speech.sample_rate)
        if not started:  # nothing to say: still a (silent) stream, so the client is answered
            await self.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
        await self.write_event(AudioStop().event())

    async def _send_pcm(self, pcm: bytes, rate: int) -> None:
        step = SAMPLES_PER_CHUNK * 2
        for at in range(0, len(pcm), step):
            chunk = AudioChunk(rate=rate, width=2, channels=1, audio=pcm[at : at + step])
            await self.write_event(chunk.event())

    # -- told between requests -------------------------------------------------------------
    def announce(self, timer_id: int, message: str) -> None:
        """A timer this client set went off: TimerFinished, then the announcement spoken."""

        async def tell() -> None:
            await self.write_event(TimerFinished(id=str(timer_id)).event())
            try:
                await self._speak(_sentences(message))
            except Busy:
                log.warning("the voice was busy: %s heard only the timer event", self.client)

        self._queue(tell)

    async def disconnect(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        if self._wake is not None:
            self._wake.close()
        self.server.disconnected(self)


def _sentences(text: str) -> list[str]:
    chunker = SentenceChunker()
    return [*chunker.feed(text), *chunker.flush()]
