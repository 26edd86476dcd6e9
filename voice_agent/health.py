"""Which parts keep failing: a part that fails `limit` times in a row is given a rest.

While it rests, turns that need it fail at once with one sentence instead of waiting
on it again; after `rest_s` one turn tries it again. The user is told once per outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

FAILURES_BEFORE_REST = 3
REST_S = 60.0

# What the user hears about a part that is given a rest, and about a turn that needed it.
PARTS = {
    "llm": "my language model",
    "stt": "my speech recognition",
    "tts": "my voice",
    "playback": "the speaker",
}


def part_name(part: str) -> str:
    return PARTS.get(part, f"the {part.removeprefix('skill:')} skill")


class Unavailable(Exception):
    """A part is resting after repeated failures."""

    def __init__(self, part: str) -> None:
        super().__init__(f"{part_name(part)} is not working right now")
        self.part = part


@dataclass
class _State:
    failures: int = 0
    resting_until: float = 0.0
    told: bool = False


class Health:
    def __init__(
        self,
        limit: int = FAILURES_BEFORE_REST,
        rest_s: float = REST_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.rest_s = rest_s
        self._clock = clock
        self._parts: dict[str, _State] = {}

    def check(self, part: str) -> None:
        """Raise Unavailable while `part` is resting."""
        state = self._parts.get(part)
        if state is not None and self._clock() < state.resting_until:
            raise Unavailable(part)

    def usable(self, part: str) -> bool:
        try:
            self.check(part)
        except Unavailable:
            return False
        return True

    def ok(self, part: str) -> None:
        self._parts.pop(part, None)

    def failed(self, part: str) -> str | None:
        """Count a failure; the one sentence to tell the user when `part` starts resting."""
        state = self._parts.setdefault(part, _State())
        state.failures += 1
        if state.failures < self.limit:
            return None
        state.resting_until = self._clock() + self.rest_s
        if state.told:
            return None
        state.told = True
        return (
            f"{part_name(part).capitalize()} failed {state.failures} times in a row, so I'll "
            f"leave it alone for {self.rest_s:.0f} seconds and then try again."
        )
