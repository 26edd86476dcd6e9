"""The `utility` agent's skill: arithmetic first, then unit conversion."""

from __future__ import annotations

from voice_agent.skills.base import Request, Result, SkillContext
from voice_agent.skills.calculator import calculate, misheard_number
from voice_agent.skills.registry import NoConfig, skill
from voice_agent.skills.units import convert, registry


class UtilitySkill:
    """Answers "25 times 7", "a 15% tip on $45.50", "convert 5 miles to km" without an LLM."""

    def handle(self, request: Request) -> Result | None:
        # The calculator declines anything with non-arithmetic words ("miles"), so trying it
        # first never hides a conversion; a number misheard as a word is asked for last.
        return calculate(request) or convert(request) or misheard_number(request)

    def warmup(self) -> None:
        registry()


@skill("utility")
def make(ctx: SkillContext, config: NoConfig) -> UtilitySkill:
    return UtilitySkill()
