"""An example skill plugin: rolls dice ("roll a die", "roll two dice", "roll a d20").

Copy this file to ~/.config/voice-agent/skills/ and dice.yaml to
~/.config/voice-agent/agents/: `voice-agent ask "roll a die"` then answers from it.
"""

from __future__ import annotations

import random
import re

from pydantic import BaseModel, ConfigDict, Field

from voice_agent.language.numbers import read_number
from voice_agent.language.phrasing import join_words, with_article
from voice_agent.skills.base import Request, Result, SkillContext
from voice_agent.skills.registry import skill

_SIDED = re.compile(r"\b(\S+?)[- ]sided\b")
_DN = re.compile(r"\b(\d*)\s*d(\d+)\b")
_COUNT = re.compile(r"(\S+)\s+(?:of\s+)?(?:\S+?[- ]sided\s+)?(?:dice|die|d\d+)\b")


class DiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_dice: int = Field(10, ge=1, le=100, description="the most dice one request may roll")
    sides: int = Field(6, ge=2, description="sides of a die when none are said")


class DiceSkill:
    def __init__(self, config: DiceConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.SystemRandom()

    def handle(self, request: Request) -> Result | None:
        text = request.text.lower()
        if not re.search(r"\b(dice|die|\d*d\d+)\b", text):
            return None
        count, sides = self._count(text), self._sides(text)
        if not count or not sides or sides < 2:
            return Result(f"{request.not_understood} Try: roll two dice.", status="ask")
        if count > self.config.max_dice:
            return Result(f"I can roll at most {self.config.max_dice} dice.", status="failed")
        rolls = [self._rng.randint(1, sides) for _ in range(count)]
        if count == 1:
            kind = "" if sides == 6 else f" on a {sides}-sided die"
            spoken = f"You rolled {with_article(str(rolls[0]))}{kind}."
        else:
            kind = "" if sides == 6 else f" on {sides}-sided dice"
            said = join_words([str(r) for r in rolls])
            spoken = f"You rolled {said}{kind}: {sum(rolls)} in total."
        return Result(spoken, value=sum(rolls), data={"rolls": rolls, "sides": sides})

    def _count(self, text: str) -> int | None:
        dn = _DN.search(text)
        if dn and dn.group(1):
            return int(dn.group(1))
        match = _COUNT.search(text)
        word = match.group(1) if match else ""
        if word in ("a", "an", "one"):
            return 1
        if word == "pair":
            return 2
        number = read_number(word) if word else None
        if number is not None:
            return number
        return 2 if re.search(r"\bdice\b", text) else 1  # "the dice", "some dice"

    def _sides(self, text: str) -> int | None:
        dn = _DN.search(text)
        if dn:
            return int(dn.group(2))
        sided = _SIDED.search(text)
        return read_number(sided.group(1)) if sided else self.config.sides


@skill("dice", config=DiceConfig)
def make(ctx: SkillContext, config: DiceConfig) -> DiceSkill:
    return DiceSkill(config)
