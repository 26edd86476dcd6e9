"""Agents at run time: a skill answers deterministically, an LLM agent streams."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from voice_agent.agents.spec import AgentSpec
from voice_agent.llm.base import LLM, ChatMessage
from voice_agent.skills.base import Skill


class Agent(Protocol):
    spec: AgentSpec

    def respond(self, text: str, history: list[ChatMessage]) -> Iterator[str]:
        """Yield the answer in pieces (one piece for a skill, tokens for an LLM)."""
        ...


class LLMAgent:
    def __init__(self, spec: AgentSpec, llm: Callable[[], LLM]) -> None:
        self.spec = spec
        self._llm = llm

    def respond(self, text: str, history: list[ChatMessage]) -> Iterator[str]:
        messages: list[ChatMessage] = [
            {"role": "system", "content": self.spec.system_prompt.strip()},
            *history,
            {"role": "user", "content": text},
        ]
        yield from self._llm().stream_chat(messages)


class SkillAgent:
    def __init__(self, spec: AgentSpec, skill: Skill, fallback: LLMAgent | None = None) -> None:
        self.spec = spec
        self.skill = skill
        self._fallback = fallback

    def respond(self, text: str, history: list[ChatMessage]) -> Iterator[str]:
        answer = self.skill.handle(text)
        if answer is not None:
            yield answer
        elif self._fallback is not None:
            yield from self._fallback.respond(text, history)
        else:
            yield f"Sorry, I didn't catch that. Here I can {self.spec.description}."
