"""What the conversation is about: the last step and its result, and a question left open.

A follow-up ("and in Paris?", "divide that by 5", "cancel it") reuses the last step while
it is recent; the preference fades after `FADE_TURNS` turns or when a new request routes
confidently elsewhere (the orchestrator then replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voice_agent.skills.base import SAY_AGAIN, Result

FADE_TURNS = 2


@dataclass
class Topic:
    agent: str
    text: str  # the request as the agent answered it (references and slots filled in)
    result: Result | None
    age: int = 0  # turns since

    def with_answer(self, said: str) -> str:
        """The request with the answer to its question put in: in the blank the skill left
        (a number it did not catch: "what's 15% of ... dollars"), else after it ("set a timer"
        + "for ten minutes")."""
        said = said.strip().rstrip("?.!")
        blank = self.result.data.get("blank") if self.result is not None else None
        if isinstance(blank, list | tuple) and len(blank) == 2:
            return " ".join(part for part in (blank[0], said, blank[1]) if part)
        return f"{self.text} {said}"


class DialogueState:
    def __init__(self) -> None:
        self.last: Topic | None = None
        self.pending: Topic | None = None  # a skill asked for something ("Which city?")

    def new_turn(self) -> None:
        for topic in {id(t): t for t in (self.last, self.pending) if t is not None}.values():
            topic.age += 1

    def recent(self) -> Topic | None:
        return self.last if self.last is not None and self.last.age <= FADE_TURNS else None

    def open_question(self) -> Topic | None:
        # Only the very next utterance answers a question.
        return self.pending if self.pending is not None and self.pending.age <= 1 else None

    def answered(self, agent: str, text: str, result: Result | None) -> None:
        topic = Topic(agent, text, result)
        self.last = topic
        asks = result is not None and result.status == "ask" and not result.data.get(SAY_AGAIN)
        self.pending = topic if asks else None

    def restore(self, step: dict[str, Any]) -> None:
        """From a stored turn's last step, so `--session NAME` picks the thread up again."""
        result = step.get("result") or {}
        restored = Result(
            result.get("spoken", ""),
            value=result.get("value"),
            data=result.get("data") or {},
            status=result.get("status", "done"),
        )
        self.answered(step["agent"], step["text"], restored)
        self.new_turn()
