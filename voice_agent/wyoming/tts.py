"""Text to speech on a Wyoming server (wyoming-piper, `voice-agent serve`, …).

`stream()` speaks a reply's sentences as they are written, on one connection: with
streaming synthesis (SynthesizeStart, a SynthesizeChunk per sentence, SynthesizeStop) when
the server's Info offers it, else one Synthesize per sentence. Audio is handed on as soon
as the server sends it, and a barge-in closes the connection at once.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from voice_agent.config import TtsConfig
from voice_agent.errors import UserError
from voice_agent.tts.base import Speech
from voice_agent.wyoming.client import Connection, EventLoop, connected, describe, where

ROLE = "voice server"
# Wait this long for audio before looking at the cancel flag again.
POLL_S = 0.05
# A blank line ends a sentence for a server's sentence splitter at once (wyoming-piper's
# waits for the next sentence's capital letter otherwise): each sentence is spoken as soon
# as it is sent.
SENTENCE_END = "\n\n"
_CONNECTED, _DONE = object(), object()


class WyomingTTS:
    """A Wyoming TTS server; thread-safe (each request has its own connection)."""

    name = "wyoming"

    def __init__(self, config: TtsConfig) -> None:
        self.config = config
        self.uri = config.uri or ""
        self.info = None
        self.load_ms: float | None = None  # Describe → Info round trip
        self._loop = EventLoop(f"wyoming-tts {self.uri}")

    def load(self) -> None:
        """Ask the server what it offers; UserError when it cannot speak, or has no tts.voice."""
        self.info, self.load_ms = self._loop.run(describe(self.uri, ROLE, self.config.timeout_s))
        if not self.info.tts:
            raise UserError(f"tts.uri: {self.uri} offers no text to speech")
        voices = [voice.name for program in self.info.tts for voice in program.voices]
        if self.config.voice and self.config.voice not in voices:
            shown = ", ".join(voices[:5]) + (" …" if len(voices) > 5 else "")
            raise UserError(
                f"tts.voice: {self.uri} has no voice {self.config.voice!r} (it has {shown})"
            )

    @property
    def streaming(self) -> bool:
        """Whether the server takes a reply's text as it is written (its Info says)."""
        if self.info is None:
            self.load()
        return self.info.tts[0].supports_synthesize_streaming

    def warmup(self) -> None:
        """Describe, then speak once: servers load a voice on its first request."""
        self.load()
        self.synthesize("Ready.")

    def synthesize(self, text: str) -> Speech:
        """One sentence, whole."""
        pieces = list(self.stream([text], threading.Event()))
        rate = pieces[0].sample_rate if pieces else 22050
        return Speech(b"".join(p.pcm for p in pieces), rate)

    def stream(self, texts: Iterable[str], cancel: threading.Event) -> Iterator[Speech]:
        """Audio for `texts`, taken as they come, in pieces as the server sends them.

        Connects first: ServerDown is raised here, before any text is taken. ServerLost
        comes from the iteration. Setting `cancel` ends it and closes the connection.
        """
        streaming = self.streaming
        out: queue.Queue[Any] = queue.Queue()
        closed = threading.Event()
        future = self._loop.submit(self._speak(iter(texts), streaming, out, closed))
        first = out.get()
        if first is not _CONNECTED:
            raise first
        return self._pieces(out, future, closed, cancel)

    def close(self) -> None:
        self._loop.close()

    def __repr__(self) -> str:
        return f"WyomingTTS({where(self.uri)})"

    # -- on the caller's thread ----------------------------------------------------------------
    def _pieces(self, out, future, closed: threading.Event, cancel) -> Iterator[Speech]:
        try:
            while not cancel.is_set():
                try:
                    items = [out.get(timeout=POLL_S)]
                except queue.Empty:
                    continue
                while not out.empty():  # everything that has arrived goes out as one piece
                    items.append(out.get_nowait())
                yield from _joined([i for i in items if isinstance(i, Speech)])
                failed = [i for i in items if isinstance(i, BaseException)]
                if failed:
                    raise failed[0]
                if items[-1] is _DONE:
                    return
        finally:
            future.cancel()
            closed.wait(timeout=2)  # the connection is closed before the caller goes on

    # -- on the loop ---------------------------------------------------------------------------
    async def _speak(self, texts: Iterator[str], streaming: bool, out, closed) -> None:
        try:
            async with connected(self.uri, ROLE, self.config.timeout_s) as connection:
                out.put(_CONNECTED)
                if streaming:
                    await self._streamed(connection, texts, out)
                else:
                    while (text := await asyncio.to_thread(next, texts, None)) is not None:
                        await connection.send(self._request(text))
                        await self._receive_audio(connection, out)
            out.put(_DONE)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
            out.put(exc)
        finally:
            closed.set()

    async def _streamed(self, connection: Connection, texts: Iterator[str], out) -> None:
        from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop

        voice = self._request("").voice
        await connection.send(SynthesizeStart(voice=voice))

        async def send_all() -> None:
            while (text := await asyncio.to_thread(next, texts, None)) is not None:
                await connection.send(SynthesizeChunk(text=text + SENTENCE_END))
            await connection.send(SynthesizeStop())

        sender = asyncio.create_task(send_all())
        try:
            await self._receive_audio(connection, out, until_stopped=True)
            await sender
        finally:
            sender.cancel()

    async def _receive_audio(self, connection: Connection, out, until_stopped=False) -> None:
        """Audio chunks into `out` until AudioStop (one Synthesize) or SynthesizeStopped."""
        from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStop
        from wyoming.tts import SynthesizeStopped

        mono16 = AudioChunkConverter(width=2, channels=1)
        end = SynthesizeStopped if until_stopped else AudioStop
        while True:
            event = await connection.receive()
            if end.is_type(event.type):
                return
            if AudioChunk.is_type(event.type):
                chunk = mono16.convert(AudioChunk.from_event(event))
                out.put(Speech(chunk.audio, chunk.rate))

    def _request(self, text: str) -> Any:
        from wyoming.tts import Synthesize, SynthesizeVoice

        voice = SynthesizeVoice(name=self.config.voice) if self.config.voice else None
        return Synthesize(text=text, voice=voice)


def _joined(pieces: list[Speech]) -> Iterator[Speech]:
    """Consecutive pieces at one rate as one."""
    while pieces:
        rate = pieces[0].sample_rate
        same = 0
        while same < len(pieces) and pieces[same].sample_rate == rate:
            same += 1
        yield Speech(b"".join(p.pcm for p in pieces[:same]), rate)
        pieces = pieces[same:]
