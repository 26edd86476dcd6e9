"""Agents at run time: a skill answers with a structured result, an LLM agent streams text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from voice_agent.agents.spec import AgentSpec
from voice_agent.llm.base import LLM, ChatMessage
from voice_agent.skills.base import Request, Result, Skill


class Agent(Protocol):
    spec: AgentSpec

    def respond(self, request: Request, history: list[ChatMessage]) -> Iterator[str | Result]:
        """Yield the answer: one Result from a skill, or text pieces (tokens) from an LLM."""
        ...


class LLMAgent:
    def __init__(self, spec: AgentSpec, llm: Callable[[], LLM]) -> None:
        self.spec = spec
        self._llm = llm

    def respond(self, request: Request, history: list[ChatMessage]) -> Iterator[str | Result]:
        messages: list[ChatMessage] = [
            {"role": "system", "content": self.spec.system_prompt.strip()},
            *history,
            {"role": "user", "content": request.text},
        ]
        yield from self._llm().stream_chat(messages)


class SkillAgent:
    def __init__(self, spec: AgentSpec, skill: Skill, fallback: LLMAgent | None = None) -> None:
        self.spec = spec
        self.skill = skill
        self._fallback = fallback

    def respond(self, request: Request, history: list[ChatMessage]) -> Iterator[str | Result]:
        result = self.skill.handle(request)
        if result is not None:
            yield result
        elif self._fallback is not None:
            yield from self._fallback.respond(request, history)
        else:
            yield Result(
                f"{request.not_understood} Here I can {self.spec.description}.", status="ask"
            )
