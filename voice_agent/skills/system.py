"""The `system` agent: what I can do, profile switching, repeat, stop."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from voice_agent.agents.spec import AgentSpec
from voice_agent.config import load_settings
from voice_agent.errors import UserError
from voice_agent.language.phrasing import count
from voice_agent.skills.base import Request, Result, SkillContext, SwitchProfile
from voice_agent.skills.registry import skill

_STOP = re.compile(
    r"\b(stop|never ?mind|cancel|be quiet|quiet|shut up|forget|enough|silence|hush)\b", re.I
)
_REPEAT = re.compile(
    r"\b(repeat|again|what did you|come again|pardon|what was that|missed)\b", re.I
)
_LAST_QUESTION = re.compile(
    r"\bwhat (?:was|were) (?:my|the) (?:last|previous|first|second|third) (?:question|request)s?\b"
    r"|\bwhat did i (?:just |first )?(?:say|ask)(?: you)?\b|\bwhat was i (?:just )?asking\b",
    re.I,
)
# Which of the questions: the last unless one is named ("what did I ask you first").
_QUESTION_INDEX = {"first": 0, "second": 1, "third": 2, "before that": -2, "before": -2}
_WHICH_QUESTION = re.compile(r"\b(first|second|third|before that|before)\b", re.I)
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
        specs: Mapping[str, AgentSpec],
        conversation: Callable[[], Sequence[Mapping[str, Any]]],
        current_profile: str,
        overrides: tuple[str, ...] = (),
    ) -> None:
        self._specs = specs
        self._conversation = conversation
        self._current_profile = current_profile
        self._overrides = overrides

    def handle(self, request: Request) -> Result | None:
        text = request.text
        if re.search(r"\b(profile|mode)\b", text, re.I):
            return self._profile(text)
        if _LAST_QUESTION.search(text):
            asked = [t["text"] for t in self._conversation() if t.get("text")]
            if not asked:
                return Result("You haven't asked me anything yet.", status="failed")
            which = _WHICH_QUESTION.search(text)
            index = _QUESTION_INDEX[which[1].lower()] if which else -1
            if not -len(asked) <= index < len(asked):
                return Result(
                    f"You've asked me only {count(len(asked), 'question')}.", status="failed"
                )
            said = asked[index]
            return Result(f'You asked: "{said}"', value=said, data={"command": "last"})
        if _STOP.search(text):
            return Result("Okay.", data={"command": "stop"})
        if _REPEAT.search(text):
            said = [t["answer"] for t in self._conversation() if t.get("answer")]
            if not said:
                return Result("I haven't said anything yet.", status="failed")
            return Result(said[-1], value=said[-1], data={"command": "repeat"})
        if _CAPABILITIES.search(text):
            return Result(self.capabilities(), data={"command": "capabilities"})
        return None

    def capabilities(self) -> str:
        skills = "; ".join(
            spec.description for name, spec in self._specs.items() if name != "system"
        )
        return f"I can {skills}. You can also ask me to repeat, stop, or switch profiles."

    def _profile(self, text: str) -> Result:
        wanted = _PROFILE_WORDS.search(text)
        current = self._current_profile
        if wanted is None or (_WHICH_PROFILE.search(text) and "switch" not in text.lower()):
            return Result(f"I'm using the {current} profile.", value=current)
        name = _PROFILE_ALIASES[wanted.group(1).lower()]
        if name == current:
            return Result(f"I'm already using the {name} profile.", value=name)
        try:
            load_settings(name, self._overrides)  # a broken profile is said now, not after
        except UserError as exc:
            return Result(f"I couldn't switch to the {name} profile: {exc}", status="failed")
        # The app rebuilds its stages once this turn is over.
        return Result(
            f"Switching to the {name} profile.", value=name, actions=(SwitchProfile(name),)
        )


@skill("system")
def make(ctx: SkillContext, config: object) -> SystemSkill:
    return SystemSkill(ctx.agents, ctx.conversation, ctx.settings.name, ctx.overrides)
