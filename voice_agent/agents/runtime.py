"""Agents at run time: a skill answers with a structured result, an LLM agent streams text."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from voice_agent.agents.spec import AgentSpec
from voice_agent.llm.base import LLM, ChatMessage
from voice_agent.llm.spoken import sentence_limit, spoken
from voice_agent.skills.base import Request, Result, Skill


class Agent(Protocol):
    spec: AgentSpec

    def respond(
        self, request: Request, history: list[ChatMessage], facts: Sequence[str] = ()
    ) -> Iterator[str | Result]:
        """Yield the answer: one Result from a skill, or text pieces (tokens) from an LLM.
        `facts` are what tools found for this request, for an LLM to answer from."""
        ...


class LLMAgent:
    """Answers with the language model, as speakable sentences (`llm/spoken.py`)."""

    def __init__(
        self,
        spec: AgentSpec,
        llm: Callable[[], LLM],
        max_sentences: int,
        unsure_below: float = 0.0,
    ) -> None:
        self.spec = spec
        self._llm = llm
        self._max_sentences = max_sentences
        self._unsure_below = unsure_below

    def respond(
        self, request: Request, history: list[ChatMessage], facts: Sequence[str] = ()
    ) -> Iterator[str | Result]:
        question = request.text
        if facts:
            # With the question rather than in the system prompt: small models answer from
            # them there, and the system prompt's cached prefix stays the same.
            found = "\n".join(f"- {fact}" for fact in facts)
            question += f"\n\nFacts from your tools, found just now (answer from these):\n{found}"
        messages: list[ChatMessage] = [
            {"role": "system", "content": self.spec.system_prompt.strip()},
            *history,
            {"role": "user", "content": question},
        ]
        limit = sentence_limit(request.text, self._max_sentences)
        # A long answer (a story, a recipe) is not a claim of fact; nor is one from tool facts.
        unsure_below = self._unsure_below if limit is not None and not facts else 0.0
        yield from spoken(self._llm().stream_chat(messages), limit, unsure_below)


class SkillAgent:
    """A skill; what it cannot read goes to `fallback` (the general LLM agent) when the spec
    says so, or when only likeness brought it here ("how far is it from London to Paris"
    sounds like the clock's "what time is it in Paris"), else the user is asked again."""

    def __init__(self, spec: AgentSpec, skill: Skill, fallback: LLMAgent | None = None) -> None:
        self.spec = spec
        self.skill = skill
        self._fallback = fallback

    def respond(
        self, request: Request, history: list[ChatMessage], facts: Sequence[str] = ()
    ) -> Iterator[str | Result]:
        result = self.skill.handle(request)
        if result is not None:
            yield result
        elif self._fallback is not None and (self.spec.llm_fallback or request.by_likeness):
            yield from self._fallback.respond(request, history, facts)
        else:
            yield request.say_again(f"Here I can {self.spec.description}.")
