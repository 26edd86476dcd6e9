"""One turn's brain: route the words, let the agent answer, record the step, end the turn.

`answer()` never raises: whatever fails (routing, a skill, the LLM) becomes a
`TurnFailed` event, a one-sentence apology the user hears, and an error on the
turn record. `finish()` stores the turn, remembers it for the next one and
applies what the answer asked of the app (a profile switch), in that order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from voice_agent.errors import UserError
from voice_agent.events import (
    Announcement,
    Event,
    Routed,
    StateChanged,
    Token,
    TurnFailed,
    TurnFinished,
)
from voice_agent.health import Unavailable, part_name
from voice_agent.llm.base import ChatMessage, LLMError
from voice_agent.skills.base import Request, Result, SwitchProfile
from voice_agent.turn import Step, Turn, TurnError

if TYPE_CHECKING:
    from voice_agent.app import App

log = logging.getLogger(__name__)


class Orchestrator:
    def __init__(self, app: App) -> None:
        self.app = app
        self._history: list[ChatMessage] = []

    def answer(self, turn: Turn) -> Iterator[Event]:
        """Route `turn.text` and stream the agent's answer into `turn`.

        Closing the generator early (the user talked over the answer) stops the agent
        at once and marks the turn interrupted.
        """
        app = self.app
        try:
            decision = app.router.route(turn.text)
        except Exception as exc:  # noqa: BLE001 - a failing stage ends its turn, not the app
            yield from self.fail(turn, None, "route", exc)
            return
        step = Step(decision.agent, turn.text, decision, marks={"started": turn.now()})
        turn.steps.append(step)
        turn.mark("routed")
        yield Routed(turn.id, len(turn.steps) - 1, decision)
        request = Request(turn.text, spoken=turn.source == "spoken")
        agent = app.agents[decision.agent]
        part = "llm" if agent.spec.kind == "llm" else f"skill:{agent.spec.name}"
        app.llm_used = False
        pieces: list[str] = []
        failure: Exception | None = None
        stream = agent.respond(request, list(self._history))
        try:
            app.health.check(part)
            for item in stream:
                text = item.spoken if isinstance(item, Result) else item
                if isinstance(item, Result):
                    step.result = item
                if not pieces:
                    turn.mark("first_token")
                    step.marks["first_token"] = turn.now()
                pieces.append(text)
                yield Token(turn.id, text)
        except (GeneratorExit, KeyboardInterrupt):  # talked over, or Ctrl+C in the chat
            turn.interrupted = True
            raise
        except Exception as exc:  # noqa: BLE001 - see above
            failure = exc
        finally:
            stream.close()
            self._close_step(turn, step, "".join(pieces).strip())
        if failure is not None:
            yield from self.fail(
                turn, step, "llm" if isinstance(failure, LLMError) else part, failure
            )
            return
        app.health.ok(part)
        if app.llm_used:
            app.health.ok("llm")

    def _close_step(self, turn: Turn, step: Step, answer: str) -> None:
        step.marks["finished"] = turn.now()
        step.llm = self.app.llm_name if self.app.llm_used else None
        if step.result is None and answer:
            step.result = Result(answer, value=answer)
        turn.answer = " ".join(p for p in (turn.answer, answer) if p)

    def fail(self, turn: Turn, step: Step | None, part: str, exc: Exception) -> Iterator[Event]:
        """End `turn` with `exc`: the error on the record, TurnFailed, then the apology."""
        stage = part.split(":")[0]
        if isinstance(exc, Unavailable):
            code, message = "unavailable", str(exc)
            apology = f"Sorry, {part_name(exc.part)} isn't working right now."
        elif isinstance(exc, UserError):
            code, message = "needs_fix", str(exc)
            apology = f"Sorry, {part_name(part)} can't run: {message}"
        else:
            code, message = type(exc).__name__, str(exc) or type(exc).__name__
            apology = _APOLOGIES.get(stage, f"Sorry, {part_name(part)} failed.")
            log.error("%s failed on %r", part, turn.text, exc_info=exc)
        error = TurnError(stage, code, message)
        turn.error = turn.error or error
        if step is not None:
            step.error = error
        yield TurnFailed(turn.id, stage, code, message)
        if not isinstance(exc, Unavailable):
            told = self.app.health.failed(part)
            if told:
                yield Announcement(told)
        # A sentence the failure cut off is shown as cut off, not run into the apology.
        cut = "…" if turn.answer and turn.answer[-1] not in ".!?…" else ""
        spoken = f"{cut} {apology}" if turn.answer else apology
        turn.answer += spoken
        yield Token(turn.id, spoken)

    def finish(self, turn: Turn) -> Iterator[Event]:
        """Store and remember the turn, announce its end, then apply the actions it asked for."""
        turn.mark("answered")
        turn.mark("finished")
        if turn.text or turn.error:
            self.app.save(turn)
        if turn.answer and turn.error is None:
            self._remember(turn.text, turn.answer)
        yield TurnFinished(turn)
        for step in turn.steps:
            for action in step.result.actions if step.result else ():
                yield from self._apply(action)

    def _apply(self, action: SwitchProfile) -> Iterator[Event]:
        try:
            self.app.switch_profile(action.profile)
        except UserError as exc:
            yield Announcement(f"I couldn't switch to the {action.profile} profile: {exc}")
            return
        yield StateChanged("switched profile", profile=self.app.settings.name)

    def _remember(self, text: str, answer: str) -> None:
        self._history += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer},
        ]
        turns = self.app.settings.agents.history_turns
        if len(self._history) > 2 * turns:
            # Drop half the window at once rather than one turn per turn: the LLM then
            # reuses the evaluated prefix of the conversation instead of re-reading it all.
            keep = max(turns // 2, 1) if turns else 0
            self._history = self._history[-2 * keep :] if keep else []


_APOLOGIES = {
    "route": "Sorry, something went wrong while working out who should answer that.",
    "llm": "Sorry, my language model stopped answering.",
    "stt": "Sorry, my speech recognition failed, so I didn't get that.",
}
