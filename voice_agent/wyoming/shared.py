"""The assistant shared by every Wyoming client: its ears, voice and brain, each in a lane.

One `App` (built from the profile by the usual wiring) serves all clients: Whisper, the
voice and the language model are loaded once. Each client's conversation keeps its own
topic and history (an Orchestrator per conversation, as a named session in the store),
and each request it makes to the brain is a normal turn, stored with its timings and
tagged with the client.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voice_agent.events import Announcement, TurnFinished
from voice_agent.orchestrator import Orchestrator
from voice_agent.wyoming.lanes import Lane

if TYPE_CHECKING:
    from voice_agent.app import App
    from voice_agent.stt import Transcript
    from voice_agent.tts.base import Speech
    from voice_agent.turn import Turn

CONVERSATIONS_KEPT = 64  # clients' conversations held in memory; older ones resume from the store


@dataclass
class Answer:
    """What the brain made of one request: the stored turn, what to say, and its outcome."""

    turn: Turn
    text: str
    handled: bool  # False: it failed, or nothing asked could be done (the text says why)
    timers: list[int] = field(default_factory=list)  # ids of timers this request set


class SharedAssistant:
    def __init__(self, app: App, waiting: int) -> None:
        self.app = app
        self.stt_lane = Lane("speech recognition", waiting)
        self.tts_lane = Lane("the voice", waiting)
        self.brain_lane = Lane("the assistant", waiting)
        self._conversations: OrderedDict[str, Orchestrator] = OrderedDict()

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return (self.stt_lane, self.tts_lane, self.brain_lane)

    async def transcribe(self, pcm: bytes) -> Transcript:
        """16 kHz mono int16 PCM -> what was said."""
        return await self.stt_lane.run(lambda: self.app.stt.transcribe(pcm))

    async def synthesize(self, sentence: str) -> Speech:
        return await self.tts_lane.run(lambda: self.app.tts.synthesize(sentence))

    async def answer(self, text: str, client: str, conversation: str) -> Answer | None:
        """One request to the brain, as a turn of `conversation`; None if the client left."""
        arrived = time.perf_counter()  # the turn's clock starts when the request came in
        stop = threading.Event()
        return await self.brain_lane.run(
            lambda: self._answer(text, client, conversation, arrived, stop), stop
        )

    def _answer(
        self, text: str, client: str, conversation: str, arrived: float, stop: threading.Event
    ) -> Answer | None:
        # The brain lane runs one request at a time, so the app's conversation can be swapped.
        self.app.orchestrator = self._conversation(conversation)
        events = self.app.turn(text, client=client, origin=arrived)
        told: list[str] = []
        finished: Turn | None = None
        try:
            for event in events:
                if stop.is_set():
                    return None  # closing the turn below stores it, marked cut short
                if isinstance(event, Announcement):
                    told.append(event.text)
                elif isinstance(event, TurnFinished):
                    finished = event.turn
        finally:
            events.close()
        if finished is None:
            return None
        return Answer(
            finished,
            " ".join([finished.answer, *told]).strip(),
            handled=_handled(finished),
            timers=_timers_set(finished),
        )

    def _conversation(self, name: str) -> Orchestrator:
        found = self._conversations.pop(name, None)
        if found is None:
            found = Orchestrator(self.app)
            found.resume(f"wyoming:{name}")  # a client back after a restart goes on where it was
        self._conversations[name] = found
        while len(self._conversations) > CONVERSATIONS_KEPT:
            self._conversations.popitem(last=False)
        return found

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()


def _handled(turn: Turn) -> bool:
    """A turn that failed, or whose every step declined or failed, was not handled."""
    if turn.error is not None or not turn.answer:
        return False
    outcomes = [s.result.status for s in turn.steps if s.result is not None]
    return not outcomes or any(status not in ("failed", "declined") for status in outcomes)


def _timers_set(turn: Turn) -> list[int]:
    return [
        step.result.value["timer_id"]
        for step in turn.steps
        if step.result is not None
        and step.result.data.get("action") == "set"
        and isinstance(step.result.value, dict)
        and "timer_id" in step.result.value
    ]
