"""One turn: text -> route -> agent (streaming) -> a turn record. Wires stages from the profile."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from voice_agent.agents.registry import load_agents
from voice_agent.agents.runtime import Agent, LLMAgent, SkillAgent
from voice_agent.config import Settings, load_settings
from voice_agent.errors import UserError
from voice_agent.llm.base import LLM, ChatMessage, LLMError
from voice_agent.routing.decision import RouteDecision
from voice_agent.routing.factory import build_router
from voice_agent.skills.base import Skill, SkillContext
from voice_agent.store import Store


@dataclass
class TurnRecord:
    """Everything about one turn: the UI, `ask --json`, the store and the benchmarks read it."""

    text: str
    profile: str
    agent: str
    confidence: float
    strategy: str
    fallback: bool
    scores: dict[str, float]
    route_reason: str
    answer: str
    llm: str | None = None  # the backend, when this turn used the LLM
    error: str | None = None
    interrupted: bool = False  # the user talked over the answer
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds
    ts: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["confidence"] = round(self.confidence, 3)
        data["scores"] = {k: round(v, 3) for k, v in self.scores.items()}
        data["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
        return data


@dataclass
class Routed:
    decision: RouteDecision


@dataclass
class Token:
    text: str


@dataclass
class Done:
    record: TurnRecord


TurnEvent = Routed | Token | Done


class Assistant:
    """The text pipeline. Heavy parts (embeddings, the LLM) load on first use or at warm-up."""

    def __init__(
        self,
        settings: Settings,
        *,
        overrides: tuple[str, ...] = (),
        strategy: str | None = None,
        announce: Callable[[str], None] | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self._overrides = overrides
        self._strategy = strategy
        self.announce = announce or (lambda message: None)
        self.store = store or Store(settings.store.path)
        self._llm: LLM | None = None
        self._llm_lock = threading.Lock()
        self._llm_used = False
        self.llm_note = ""
        self._history: list[ChatMessage] = []
        self._timers = None
        self._build()

    # -- wiring -----------------------------------------------------------------------------
    def _build(self) -> None:
        cfg = self.settings
        self.specs = load_agents(cfg.agents.enabled, cfg.routing.fallback_agent)
        self.router = build_router(cfg.routing, self.specs, self._strategy)
        general = LLMAgent(self.specs[cfg.routing.fallback_agent], self.llm)
        self.agents: dict[str, Agent] = {}
        for name, spec in self.specs.items():
            if spec.kind == "llm":
                self.agents[name] = LLMAgent(spec, self.llm)
            else:
                fallback = general if spec.llm_fallback else None
                self.agents[name] = SkillAgent(spec, self._make_skill(spec.skill), fallback)

    def _make_skill(self, name: str | None) -> Skill:
        cfg = self.settings.agents
        ctx = SkillContext(self.settings, self.store, self.llm, self._announce)
        if name == "utility":
            from voice_agent.skills.utility import UtilitySkill

            return UtilitySkill()
        if name == "clock":
            from voice_agent.skills.clock import ClockSkill

            return ClockSkill(ctx.store, cfg.timezone, on_change=self._wake_timers)
        if name == "weather":
            from voice_agent.skills.weather import WeatherSkill

            return WeatherSkill(
                timeout_s=cfg.weather_timeout_s, unit=cfg.temperature_unit, llm=ctx.llm
            )
        if name == "files":
            from voice_agent.skills.files import FilesSkill

            return FilesSkill(cfg.files_root)
        if name == "system":
            from voice_agent.skills.system import SystemSkill

            return SystemSkill(
                self.specs, self.store.last_answer, lambda: self.settings.name, self.switch_profile
            )
        raise UserError(f"unknown skill '{name}' (expected utility, clock, weather, files, system)")

    def llm(self) -> LLM:
        """The language model, selected and loaded on first use."""
        self._llm_used = True
        with self._llm_lock:
            if self._llm is None:
                from voice_agent.llm.select import select_llm

                self._llm, self.llm_note = select_llm(self.settings.llm)
        return self._llm

    def warmup(self, llm: bool = True) -> None:
        """Load what the profile needs now, so the first real turn is not cold."""
        warm = getattr(self.router, "warmup", None)
        if warm is not None:
            warm()
        if llm and self.settings.llm.warmup:
            # The prompts exactly as the LLM agents send them, so their prefix is cached.
            prompts = [s.system_prompt.strip() for s in self.specs.values() if s.kind == "llm"]
            self.llm().warmup(prompts)

    def switch_profile(self, name: str) -> None:
        settings = load_settings(name, self._overrides)
        llm_changed = settings.llm != self.settings.llm
        self.settings = settings
        self._strategy = None
        if llm_changed:
            with self._llm_lock:
                self._llm = None
        self._build()

    # -- timers -----------------------------------------------------------------------------
    def start_timers(self) -> None:
        """Run the timer service (long-running sessions only): fired timers are announced."""
        if "time" not in self.specs or self._timers is not None:
            return
        from voice_agent.skills.clock import TimerService

        self._timers = TimerService(
            self.store, self._announce, timezone=self.settings.agents.timezone
        )
        self._timers.start()

    def _announce(self, message: str) -> None:
        # Looked up at call time: the voice loop replaces `announce` to speak it.
        self.announce(message)

    def _wake_timers(self) -> None:
        if self._timers is not None:
            self._timers.wake()

    def close(self) -> None:
        if self._timers is not None:
            self._timers.stop()
            self._timers = None
        self.store.close()

    # -- turns ------------------------------------------------------------------------------
    def turn(self, text: str) -> Iterator[TurnEvent]:
        """Route `text`, stream the agent's answer, then record the turn.

        Closing the generator early (the user talked over the answer) stops the
        agent at once; the turn is still recorded, marked interrupted.
        """
        start = time.perf_counter()
        self._llm_used = False
        decision = self.router.route(text)
        pieces: list[str] = []
        timings = {"route_ms": decision.elapsed_ms}
        error: str | None = None
        failure: UserError | None = None
        interrupted = False
        answer_stream = self.agents[decision.agent].respond(text, self._recent_history())
        try:
            yield Routed(decision)
            for piece in answer_stream:
                if not pieces:
                    timings["first_token_ms"] = (time.perf_counter() - start) * 1000
                pieces.append(piece)
                yield Token(piece)
        except LLMError as exc:
            error = str(exc)
            pieces.append(f" Sorry, my language model failed: {exc}")
        except UserError as exc:
            error, failure = str(exc), exc
        except GeneratorExit:
            interrupted = True
        finally:
            answer_stream.close()
        timings["agent_ms"] = (time.perf_counter() - start) * 1000 - decision.elapsed_ms
        timings["total_ms"] = (time.perf_counter() - start) * 1000
        answer = "".join(pieces).strip()
        record = TurnRecord(
            text=text,
            profile=self.settings.name,
            agent=decision.agent,
            confidence=decision.confidence,
            strategy=decision.strategy,
            fallback=decision.fallback,
            scores=decision.scores,
            route_reason=decision.reason,
            answer=answer,
            llm=self._llm.name if self._llm_used and self._llm is not None else None,
            error=error,
            interrupted=interrupted,
            timings=timings,
        )
        # What the user said is kept even when the turn failed or was cut short.
        self.store.add_turn(record.to_dict())
        if failure is not None:
            raise failure
        self._remember(text, answer)
        if not interrupted:
            yield Done(record)

    def ask(self, text: str) -> TurnRecord:
        for event in self.turn(text):
            if isinstance(event, Done):
                return event.record
        raise AssertionError("a turn always ends with Done")

    def _recent_history(self) -> list[ChatMessage]:
        return list(self._history)

    def _remember(self, text: str, answer: str) -> None:
        self._history += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer},
        ]
        turns = self.settings.agents.history_turns
        if len(self._history) > 2 * turns:
            # Drop half the window at once rather than one turn per turn: the LLM then
            # reuses the evaluated prefix of the conversation instead of re-reading it all.
            keep = max(turns // 2, 1) if turns else 0
            self._history = self._history[-2 * keep :] if keep else []
