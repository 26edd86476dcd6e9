"""The `limits` skill: a request for something no agent does gets an honest answer.

"Turn on the kitchen lights" is not left to the LLM (which would happily say "Kitchen
lights turned on."): the `limits` agent's rules recognise the request forms of each kind
of action voice-agent cannot take, and this skill answers the matched kind with what it
cannot do and, where one fits, what it can instead. Both are data in agents/limits.yaml:
each rule is tagged with its kind, and `skill_config.kinds` holds the sentences.
Questions about the same things ("how do smart lights work") match no rule.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from voice_agent.agents.spec import AgentSpec
from voice_agent.skills.base import Request, Result, SkillContext
from voice_agent.skills.registry import skill


class Kind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    say: str = Field(description='the honest sentence: "I can\'t control lights."')
    instead: str = Field("", description='what it can do instead: "I can set a timer."')


class LimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: dict[str, Kind] = Field(default_factory=dict)


class LimitsSkill:
    def __init__(self, spec: AgentSpec, config: LimitsConfig) -> None:
        self._rules = [(rule.regex, rule.tag) for rule in spec.rules if rule.tag]
        self._kinds = config.kinds
        missing = {tag for _, tag in self._rules} - set(self._kinds)
        if missing:
            raise ValueError(f"rule tags without a kind in skill_config: {sorted(missing)}")

    def kind(self, text: str) -> str | None:
        """Which kind of action `text` asks for that no agent takes, or None."""
        said = text.strip().rstrip("?.!")
        return next((tag for regex, tag in self._rules if regex.search(said)), None)

    def handle(self, request: Request) -> Result | None:
        tag = self.kind(request.text)
        if tag is None:
            return None  # routed here by resemblance only: the LLM answers (and is checked)
        kind = self._kinds[tag]
        spoken = f"{kind.say} {kind.instead}".strip()
        return Result(spoken, data={"kind": tag}, status="declined")


@skill("limits", config=LimitsConfig)
def make(ctx: SkillContext, config: LimitsConfig) -> LimitsSkill:
    return LimitsSkill(ctx.spec, config)
