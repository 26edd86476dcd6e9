"""From answer text to audio: sentences are synthesized while the rest is still generated."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from voice_agent.tts.base import TTS, Speech, StreamingTTS
from voice_agent.tts.chunker import SentenceChunker, speakable


@dataclass
class SpokenReply:
    sentences: list[str] = field(default_factory=list)
    first_audio_at: float | None = None  # perf_counter when the first audio was ready
    last_audio_at: float | None = None
    cancelled: bool = False
    # The first sentence the TTS failed on, re-raised in the caller's thread once the
    # others have been spoken: one sentence the voice cannot say costs only that sentence.
    error: Exception | None = None


class Speaker:
    """Chunks a stream of text pieces into sentences and synthesizes each on a worker thread.

    `on_audio(speech, ready_at)` receives each sentence's audio in order as soon as it
    is synthesized; the caller plays it (speaker) or places it on a timeline (file).
    With `streaming=False` the whole answer is generated first and spoken in one go,
    which is the baseline the streaming latency is compared against.
    """

    def __init__(self, tts: TTS, streaming: bool = True) -> None:
        self.tts = tts
        self.streaming = streaming

    def speak(
        self,
        pieces: Iterable[str],
        on_audio: Callable[[Speech, float], None],
        cancel: threading.Event | None = None,
    ) -> SpokenReply:
        cancel = cancel or threading.Event()
        reply = SpokenReply()
        sentences: queue.Queue[str | None] = queue.Queue()
        worker = threading.Thread(
            target=self._synthesize_all, args=(sentences, on_audio, cancel, reply), daemon=True
        )
        worker.start()
        chunker = SentenceChunker()
        text: list[str] = []
        try:
            for piece in pieces:
                if cancel.is_set():
                    reply.cancelled = True
                    break
                text.append(piece)
                if self.streaming:
                    for sentence in chunker.feed(piece):
                        sentences.put(sentence)
            if not reply.cancelled:
                rest = chunker.flush() if self.streaming else ["".join(text)]
                for sentence in rest:
                    sentences.put(sentence)
        finally:
            sentences.put(None)
            worker.join()
        if reply.error is not None:
            raise reply.error
        reply.cancelled = reply.cancelled or cancel.is_set()
        return reply

    def _synthesize_all(self, sentences, on_audio, cancel, reply: SpokenReply) -> None:
        if isinstance(self.tts, StreamingTTS):
            self._stream_all(sentences, on_audio, cancel, reply)
            return
        while (sentence := sentences.get()) is not None:
            text = speakable(sentence)
            if cancel.is_set() or not text.strip():
                continue
            try:
                speech = self.tts.synthesize(text)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
                reply.error = reply.error or exc
                continue
            if not cancel.is_set():
                reply.sentences.append(text)
                _deliver(speech, on_audio, reply)

    def _stream_all(self, sentences, on_audio, cancel, reply: SpokenReply) -> None:
        """An engine that takes the sentences as they come and sends audio as it has it."""

        def texts() -> Iterator[str]:
            while (sentence := sentences.get()) is not None:
                text = speakable(sentence)
                if text.strip() and not cancel.is_set():
                    reply.sentences.append(text)
                    yield text

        try:
            for speech in self.tts.stream(texts(), cancel):
                if not cancel.is_set():
                    _deliver(speech, on_audio, reply)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
            reply.error = exc


def _deliver(speech: Speech, on_audio: Callable[[Speech, float], None], reply: SpokenReply) -> None:
    ready = time.perf_counter()
    if reply.first_audio_at is None:
        reply.first_audio_at = ready
    reply.last_audio_at = ready
    on_audio(speech, ready)
