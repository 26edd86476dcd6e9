"""Agent specs: one YAML file per agent in agents/, validated here."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voice_agent.config import describe_validation_error, read_yaml_mapping
from voice_agent.errors import ConfigError
from voice_agent.routing.patterns import RulePattern, check_pattern
from voice_agent.routing.recognizers import RECOGNIZERS

MIN_EXAMPLES = 20


class Rule(BaseModel):
    """What sends an utterance to this agent: a regular expression (case-insensitive), or a
    recognizer that asks a skill's own parser (routing/recognizers.py)."""

    model_config = ConfigDict(extra="forbid")

    pattern: str | None = None
    recognizer: str | None = Field(None, description="a skill's test, e.g. arithmetic")
    confidence: float = Field(0.9, gt=0, le=1, description="how sure a match makes the router")
    priority: int = Field(0, description="wins over lower priorities when agents compete")
    tag: str | None = Field(None, description="what the match means to the agent's skill")
    tools: bool = Field(
        True,
        description="false: what it matches is answered from knowledge, without the agent's "
        "tools (an explanation of rain, not today's rain)",
    )

    @field_validator("pattern")
    @classmethod
    def _safe(cls, value: str | None) -> str | None:
        if value is not None:
            check_pattern(value)
        return value

    @field_validator("recognizer")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in RECOGNIZERS:
            raise ValueError(f"one of: {', '.join(sorted(RECOGNIZERS))}")
        return value

    @model_validator(mode="after")
    def _one_test(self) -> Rule:
        if (self.pattern is None) == (self.recognizer is None):
            raise ValueError("either a 'pattern' or a 'recognizer'")
        return self

    @property
    def regex(self) -> RulePattern:
        assert self.pattern is not None, "a recognizer rule has no pattern"
        return RulePattern(self.pattern)

    @property
    def find(self) -> Callable[[str], str | None]:
        """What the rule matched in a text, or None."""
        if self.recognizer is not None:
            return RECOGNIZERS[self.recognizer]
        return self.regex.find


_FRAGMENT = re.compile(r"\{([a-z_]+)\}")  # never a regex count: those are digits


class AgentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1, description='a verb phrase that completes "I can ..."')
    kind: Literal["skill", "llm"]
    order: int = Field(50, description="where it comes when the agents are listed")
    skill: str | None = Field(None, description="the skill module it runs (kind: skill)")
    skill_config: dict[str, Any] = Field(
        default_factory=dict, description="settings for the skill, checked by its config model"
    )
    color: str | None = Field(None, description="a rich colour for the agent's label")
    llm_fallback: bool = Field(
        False,
        description="the LLM answers what the skill cannot read, even when a rule sent it here "
        "(without: only what likeness alone sent)",
    )
    pure: bool = Field(
        False,
        description="its skill only computes, never acts: the planner may try it on a piece",
    )
    fragments: dict[str, str] = Field(
        default_factory=dict,
        description="named pieces of regex that rules use as {name} (letters and _)",
    )
    rules: list[Rule] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    threshold: float | None = Field(None, ge=0, le=1, description="embedding score it needs")
    vocabulary: list[str] = Field(default_factory=list, description="words that prime the STT")
    system_prompt: str = ""
    tools: list[str] = Field(
        default_factory=list, description="skill agents an LLM agent may call for facts"
    )
    source: Path | None = Field(None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _expand_fragments(cls, data: Any) -> Any:
        """Write each rule's {name} out with its fragment, so many rules share one wording."""
        if not isinstance(data, dict) or not isinstance(data.get("fragments"), dict):
            return data
        fragments: dict[str, str] = {}

        def expand(match: re.Match[str]) -> str:
            if match[1] not in fragments:
                known = ", ".join(sorted(fragments)) or "none"
                raise ValueError(f"a known fragment for {{{match[1]}}} (known: {known})")
            return f"(?:{fragments[match[1]]})"

        for name, fragment in data["fragments"].items():  # a fragment may use earlier ones
            fragments[name] = _FRAGMENT.sub(expand, str(fragment))

        rules = [
            {**rule, "pattern": _FRAGMENT.sub(expand, rule["pattern"])}
            if isinstance(rule, dict) and isinstance(rule.get("pattern"), str)
            else rule
            for rule in data.get("rules") or []
        ]
        return {**data, "rules": rules}

    @model_validator(mode="after")
    def _consistent(self) -> AgentSpec:
        if self.kind == "skill" and not self.skill:
            raise ValueError("a 'skill' name when kind is skill")
        if self.kind == "llm" and not self.system_prompt.strip():
            raise ValueError("a 'system_prompt' when kind is llm")
        if len(self.examples) < MIN_EXAMPLES:
            raise ValueError(f"at least {MIN_EXAMPLES} 'examples' (has {len(self.examples)})")
        return self

    def without_tools(self, text: str) -> bool:
        """Whether a rule that keeps the tools out (`tools: false`) matches `text`."""
        return any(not rule.tools and rule.find(text) is not None for rule in self.rules)


def load_agent_spec(path: Path) -> AgentSpec:
    data = read_yaml_mapping(path)
    data.setdefault("name", path.stem)
    try:
        spec = AgentSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {key}: {describe_validation_error(err, AgentSpec)}") from None
    spec.source = path
    return spec
