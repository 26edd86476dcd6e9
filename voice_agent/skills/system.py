"""The `system` agent: what I can do, profile switching, repeat, stop."""

from __future__ import annotations

import re
from collections.abc import Callable

from voice_agent.agents.spec import AgentSpec
from voice_agent.errors import UserError

_STOP = re.compile(
    r"\b(stop|never ?mind|cancel|be quiet|quiet|shut up|forget|enough|silence|hush)\b", re.I
)
_REPEAT = re.compile(
    r"\b(repeat|again|what did you|come again|pardon|what was that|missed)\b", re.I
)
_CAPABILITIES = re.compile(r"\b(what|how|help|skills|abilities|capabilities|features)\b", re.I)
_PROFILE_ALIASES = {
    "speed": "speed",
    "speedy": "speed",
    "fast": "speed",
    "faster": "speed",
    "quick": "speed",
    "balanced": "balanced",
    "normal": "balanced",
    "default": "balanced",
    "quality": "quality",
    "best": "quality",
    "accurate": "quality",
    "high quality": "quality",
}
_PROFILE_WORDS = re.compile(
    r"\b(" + "|".join(sorted(_PROFILE_ALIASES, key=len, reverse=True)) + r")\b", re.I
)
_WHICH_PROFILE = re.compile(r"\b(which|what|current)\b.*\b(profile|mode)\b", re.I)


class SystemSkill:
    def __init__(
        self,
        specs: dict[str, AgentSpec],
        last_answer: Callable[[], str | None],
        current_profile: Callable[[], str],
        switch_profile: Callable[[str], None],
    ) -> None:
        self._specs = specs
        self._last_answer = last_answer
        self._current_profile = current_profile
        self._switch_profile = switch_profile

    def handle(self, text: str) -> str | None:
        if re.search(r"\b(profile|mode)\b", text, re.I):
            return self._profile(text)
        if _STOP.search(text):
            return "Okay."
        if _REPEAT.search(text):
            last = self._last_answer()
            return last if last else "I haven't said anything yet."
        if _CAPABILITIES.search(text):
            return self.capabilities()
        return None

    def capabilities(self) -> str:
        skills = "; ".join(
            spec.description for name, spec in self._specs.items() if name != "system"
        )
        return f"I can {skills}. You can also ask me to repeat, stop, or switch profiles."

    def _profile(self, text: str) -> str:
        wanted = _PROFILE_WORDS.search(text)
        if wanted is None or (_WHICH_PROFILE.search(text) and "switch" not in text.lower()):
            return f"I'm using the {self._current_profile()} profile."
        name = _PROFILE_ALIASES[wanted.group(1).lower()]
        if name == self._current_profile():
            return f"I'm already using the {name} profile."
        try:
            self._switch_profile(name)
        except UserError as exc:
            return f"I couldn't switch to the {name} profile: {exc}"
        return f"Switched to the {name} profile."
