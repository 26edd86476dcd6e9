"""Speech to text on a Wyoming server (wyoming-faster-whisper, `voice-agent serve`, …).

Transcribe, AudioStart, AudioChunk…, AudioStop → Transcript, on one connection per
utterance. The audio goes out in chunks as it is fed, so a caller can stream an utterance
while it is being spoken (`stream()`), and the wait after the last chunk is only the
server's decoding. The text is cleaned as the local engine's is, and comes back in the
same `Transcript` record.
"""

from __future__ import annotations

import asyncio
import time

from voice_agent.audio.base import SAMPLE_RATE
from voice_agent.config import SttConfig
from voice_agent.errors import UserError
from voice_agent.language.numbers import operand_homophones
from voice_agent.stt import SILENCE_DBFS, Transcript, level_dbfs, pcm_to_float
from voice_agent.wyoming.client import EventLoop, connected, describe, where

ROLE = "speech recognition server"
CONSEQUENCE = "so I didn't get that"
CHUNK_BYTES = 2 * SAMPLE_RATE // 10  # 100 ms, as satellites send it
_FORMAT = {"rate": SAMPLE_RATE, "width": 2, "channels": 1}


class WyomingSTT:
    """A Wyoming ASR server; one instance serves every turn, from any thread."""

    name = "wyoming"

    def __init__(self, config: SttConfig, vocabulary: list[str] | None = None) -> None:
        self.config = config
        self.uri = config.uri or ""
        # The agents' terms, for a server that biases its decoding with them.
        self.terms = list(dict.fromkeys(t.strip() for t in vocabulary or () if t.strip()))
        self.info = None
        self.load_ms: float | None = None  # Describe → Info round trip
        self._loop = EventLoop(f"wyoming-stt {self.uri}")

    def load(self) -> None:
        """Ask the server what it is; UserError when it offers no speech recognition."""
        self.info, self.load_ms = self._loop.run(describe(self.uri, ROLE, self.config.timeout_s))
        if not self.info.asr:
            offered = [kind for kind in ("tts", "wake", "handle") if getattr(self.info, kind)]
            raise UserError(
                f"stt.uri: {self.uri} offers no speech recognition (it offers "
                f"{', '.join(offered) or 'nothing'}); point it at a Wyoming ASR server"
            )

    def warmup(self) -> None:
        self.load()

    def transcribe(self, pcm: bytes) -> Transcript:
        """Transcribe one endpointed utterance of 16 kHz mono int16 PCM."""
        level = level_dbfs(pcm_to_float(pcm))
        if level < SILENCE_DBFS:  # as the local engine: near silence is not worth a request
            return Transcript("", self.config.language or "", len(pcm) / 2 / SAMPLE_RATE, 0.0)
        transcription = self.stream()
        for start in range(0, len(pcm), CHUNK_BYTES):
            transcription.feed(pcm[start : start + CHUNK_BYTES])
        return transcription.finish()

    def stream(self) -> Transcription:
        """An utterance sent to the server while it is heard: `feed` it, then `finish`."""
        return Transcription(self)

    def close(self) -> None:
        self._loop.close()

    def __repr__(self) -> str:
        return f"WyomingSTT({where(self.uri)})"


class Transcription:
    """One utterance on its own connection. `finish()` raises ServerDown when the server
    could not be reached, ServerLost when it failed after that."""

    def __init__(self, stt: WyomingSTT) -> None:
        self._stt = stt
        self._bytes = 0
        self._audio: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._future = stt._loop.submit(self._run())

    def feed(self, pcm: bytes) -> None:
        self._bytes += len(pcm)
        self._stt._loop.call(self._audio.put_nowait, pcm)

    def finish(self) -> Transcript:
        """The transcript; `elapsed_ms` is the wait from the last audio to the text."""
        self._stt._loop.call(self._audio.put_nowait, None)
        text, language, elapsed = self._future.result()
        text = operand_homophones(" ".join(text.split()))
        return Transcript(
            text=text,
            language=language or self._stt.config.language or "",
            duration_s=self._bytes / 2 / SAMPLE_RATE,
            elapsed_ms=elapsed,
            segments=(text,) if text else (),
            no_speech_prob=0.0 if text else 1.0,
        )

    def cancel(self) -> None:
        """Drop the utterance; its connection is closed."""
        self._future.cancel()

    async def _run(self) -> tuple[str, str | None, float]:
        from wyoming.asr import Transcribe, Transcript
        from wyoming.audio import AudioChunk, AudioStart, AudioStop

        cfg = self._stt.config
        request = Transcribe(language=cfg.language, transcript_terms=self._stt.terms or None)
        async with connected(self._stt.uri, ROLE, cfg.timeout_s, CONSEQUENCE) as connection:
            await connection.send(request, AudioStart(**_FORMAT))
            while (pcm := await self._audio.get()) is not None:
                await connection.send(AudioChunk(audio=pcm, **_FORMAT))
            await connection.send(AudioStop())
            sent = time.perf_counter()
            event = await connection.receive_until(Transcript)
            elapsed = (time.perf_counter() - sent) * 1000
        transcript = Transcript.from_event(event)
        return transcript.text, transcript.language, elapsed
