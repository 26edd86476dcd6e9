"""Skills: deterministic code behind the specialist agents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from voice_agent.config import Settings
    from voice_agent.llm.base import LLM
    from voice_agent.store import Store


class Skill(Protocol):
    def handle(self, text: str) -> str | None:
        """Answer `text` in one or a few spoken sentences, or None when it is not for this skill."""
        ...


@dataclass
class SkillContext:
    settings: Settings
    store: Store
    llm: Callable[[], LLM]  # loads the model on first call; skills use it only when they must
    announce: Callable[[str], None]  # speak/print something between turns (fired timers)
