"""Wake words heard by a Wyoming server (wyoming-openwakeword, or any that offers `wake`).

One connection streams the microphone for as long as the assistant listens: Detect(names),
AudioStart, then AudioChunk after AudioChunk, each stamped with its stream time in ms,
which the server puts on its Detection. The server scores audio as it arrives and answers
only when it hears a wake word, and it may say so on several chunks in a row: a word is
reported again only after `REPEAT_S`. wake.threshold is the server's own setting here.

A recording is fed faster than real time: it is paced to `MAX_SPEED` times real time so
the server keeps up, and `settle(t)` gives it `SETTLE_S` after the audio up to t was sent.
A server that cannot be reached at start is one line (WakeError); one lost later is told
once and tried again every `RETRY_S`, the audio meanwhile unheard.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH
from voice_agent.wake.base import REPEAT_S, Detection, WakeError
from voice_agent.wake.words import normalize
from voice_agent.wyoming.client import EventLoop, ServerError, connected, describe, where

log = logging.getLogger(__name__)
ROLE = "wake word server"
CHUNK_BYTES = 1280 * SAMPLE_WIDTH  # 80 ms: the step openWakeWord scores in
MAX_SPEED = 5.0
SETTLE_S = 0.5
RETRY_S = 5.0
DESCRIBE_TIMEOUT_S = 5.0
_FORMAT = {"rate": SAMPLE_RATE, "width": SAMPLE_WIDTH, "channels": 1}


class WyomingWakeDetector:
    name = "wyoming"

    def __init__(
        self, uri: str, words: list[str], notify: Callable[[str], None] = lambda message: None
    ) -> None:
        self.uri = uri
        self.words = [normalize(word) for word in words]
        self.notify = notify
        self._loop = EventLoop(f"wyoming-wake {uri}")
        self._found: queue.SimpleQueue[Detection] = queue.SimpleQueue()
        self._pending = bytearray()
        self._sent_s = 0.0  # stream time of the audio sent
        self._started: float | None = None  # monotonic time at stream time 0, for pacing
        self._sent: deque[tuple[float, float]] = deque(maxlen=256)  # (stream time, when)
        self._last: dict[str, float] = {}  # word -> stream time it was last reported
        self._chunks: asyncio.Queue[bytes] | None = None
        try:
            info, _ = self._loop.run(describe(uri, ROLE, DESCRIBE_TIMEOUT_S))
        except ServerError as exc:
            self._loop.close()
            raise WakeError(f"wake.uri: {exc}") from None
        offered = {normalize(m.name) for program in info.wake for m in program.models}
        missing = [word for word in self.words if word not in offered]
        if missing:
            self._loop.close()
            raise WakeError(
                f"wake.words: {', '.join(missing)} not offered by the wake word server at "
                f"{where(uri)} (it offers: {', '.join(sorted(offered)) or 'no wake words'})"
            )
        self._session = self._loop.submit(self._stream())

    def feed(self, frame: bytes) -> list[Detection]:
        self._pending += frame
        if len(self._pending) >= CHUNK_BYTES:
            chunk = bytes(self._pending)
            self._pending.clear()
            now = time.monotonic()
            if self._started is None:
                self._started = now
            ahead = self._sent_s / MAX_SPEED - (now - self._started)
            if ahead > 0:
                time.sleep(ahead)
            self._sent_s += len(chunk) / SAMPLE_WIDTH / SAMPLE_RATE
            self._sent.append((self._sent_s, time.monotonic()))
            if self._chunks is not None:
                self._loop.call(self._chunks.put_nowait, (chunk, self._sent_s))
        return self._drain()

    def settle(self, until_s: float) -> list[Detection]:
        sent = next((when for end_s, when in self._sent if end_s >= until_s), None)
        if sent is None and self._sent:
            sent = self._sent[-1][1]
        if sent is not None:
            time.sleep(max(0.0, sent + SETTLE_S - time.monotonic()))
        return self._drain()

    def close(self) -> None:
        self._session.cancel()
        self._loop.close()

    def _drain(self) -> list[Detection]:
        found = []
        while not self._found.empty():
            detection = self._found.get_nowait()
            if detection.at_s - self._last.get(detection.word, float("-inf")) >= REPEAT_S:
                found.append(detection)
            self._last[detection.word] = detection.at_s
        return found

    async def _stream(self) -> None:
        """Stream to the server for as long as the detector lives, reconnecting if lost."""
        told = False
        while True:
            try:
                await self._session_once()
            except ServerError as exc:
                log.warning("%s", exc)
                if not told:
                    self.notify(
                        f"The wake word server at {where(self.uri)} stopped answering, so I "
                        "can't hear the wake word; I'll keep trying to reach it."
                    )
                told = True
            else:
                return
            self._chunks = None
            await asyncio.sleep(RETRY_S)

    async def _session_once(self) -> None:
        from wyoming.audio import AudioChunk, AudioStart
        from wyoming.wake import Detect
        from wyoming.wake import Detection as Heard

        async with connected(self.uri, ROLE, None) as connection:  # type: ignore[arg-type]
            at_ms = round(self._sent_s * 1000)
            await connection.send(Detect(names=self.words), AudioStart(**_FORMAT, timestamp=at_ms))
            self._chunks = chunks = asyncio.Queue()
            sender = asyncio.create_task(self._send(connection, chunks, AudioChunk))
            try:
                while True:
                    event = await connection.receive()
                    if Heard.is_type(event.type):
                        heard = Heard.from_event(event)
                        at_s = (
                            heard.timestamp / 1000 if heard.timestamp is not None else self._sent_s
                        )
                        self._found.put(Detection(normalize(heard.name or ""), at_s))
            finally:
                sender.cancel()
                with suppress(asyncio.CancelledError):
                    await sender

    async def _send(self, connection, chunks: asyncio.Queue, kind) -> None:
        while True:
            chunk, end_s = await chunks.get()
            await connection.send(kind(**_FORMAT, audio=chunk, timestamp=round(end_s * 1000)))
