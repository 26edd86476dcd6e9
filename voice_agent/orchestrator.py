"""One turn's brain: route the words, let the agent answer, record the step, end the turn.

`answer()` never raises: whatever fails (routing, a skill, the LLM) becomes a
`TurnFailed` event, a one-sentence apology the user hears, and an error on the
turn record. `finish()` stores the turn, remembers it for the next one and
applies what the answer asked of the app (a profile switch), in that order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from voice_agent.dialogue.followups import fragment_of, rewrite
from voice_agent.dialogue.plan import (
    CONFIDENT,
    PLAN_INSTRUCTION,
    Piece,
    check_plan,
    clean,
    split,
    unclear,
)
from voice_agent.dialogue.references import asks_to_be_told, refers_back, resolve
from voice_agent.dialogue.state import DialogueState
from voice_agent.errors import PartFailure, UserError
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
from voice_agent.language.phrasing import join_words
from voice_agent.language.words import words
from voice_agent.llm.base import ChatMessage, LLMError, ask_json
from voice_agent.llm.claims import honest
from voice_agent.llm.tools import about_the_question, choose_calls, compare
from voice_agent.routing.decision import RouteDecision
from voice_agent.skills.base import KeepsWords, Request, Result, SwitchProfile
from voice_agent.turn import Step, Turn, TurnError

if TYPE_CHECKING:
    from voice_agent.app import App

log = logging.getLogger(__name__)

CONVERSATION_KEPT = 20  # turns of this session skills can look back on ("my last question")


@dataclass(frozen=True)
class Plan:
    """The steps worked out for `text` before its turn asked for them (speculatively, in the
    pause that may end the turn). Good only while what routing read is unchanged: the
    conversation (no turn answered since) and the profile (`stamp`). Routing that failed
    is the turn's failure (`error`), as it would be done again on the same words."""

    text: str
    pieces: list[Piece] | None
    stamp: tuple[int, int]
    error: Exception | None = None
    answers: bool = False  # skills compute every step from its words (Orchestrator._computed)
    # A skill that only computes would ask for the rest of these words, or cannot read them
    # ("convert 8": to what?): half a request, however finished it sounds
    asks: bool = False


class Orchestrator:
    def __init__(self, app: App) -> None:
        self.app = app
        self.dialogue = DialogueState()
        self.session: str | None = None
        self.conversation: list[dict] = []  # this session's finished turns, as stored
        self._history: list[ChatMessage] = []
        self._epoch = 0  # changes whenever the dialogue may: plans made before are stale

    def reset(self, session: str | None = None) -> None:
        """A new conversation; with a name, continue that one."""
        self._epoch += 1
        self.dialogue = DialogueState()
        self.session, self.conversation, self._history = None, [], []
        if session:
            self.resume(session)

    def resume(self, session: str) -> None:
        """Continue a named conversation: its history, its topic, its open question."""
        self.session = session
        records = self.app.store.session_turns(session, CONVERSATION_KEPT)
        self.conversation = records
        for record in records:
            if record.get("answer") and not record.get("error"):
                self._remember(record["text"], record["answer"])
        steps = records[-1].get("steps") if records else None
        if steps:
            self.dialogue.restore(steps[-1])
        self.app.prefill_conversation(self._history)

    def asked(self) -> str | None:
        """The last question the last answer asked ("How long should the timer be?"), which
        the next utterance may answer: the speech recogniser takes it as context."""
        answer = self.conversation[-1].get("answer") or "" if self.conversation else ""
        questions = re.findall(r"[^.!?]*\?", answer)
        return questions[-1].strip() if questions else None

    def plan_ahead(self, text: str) -> Plan | None:
        """Route `text` now, for a turn that may end with these words: side-effect free (no
        step runs, the dialogue is not touched). None when only the LLM could plan it (not
        cheap: that waits for the turn)."""
        stamp = self._stamp()
        try:
            pieces = self._plan(text, _next_turn(self.dialogue), llm=False)
        except Exception as exc:  # noqa: BLE001 - the turn's, if it ends with these words
            return Plan(text, None, stamp, exc)
        if pieces is None:
            return None
        tried = [self._tried(p.text, p.decision) for p in pieces]  # each skill asked once
        answers = all(status == "done" for status in tried)
        asks = any(status in ("ask", "") for status in tried)
        return Plan(text, pieces, stamp, answers=answers, asks=asks)

    def _stamp(self) -> tuple[int, int]:
        return self._epoch, self.app.version

    def answer(self, turn: Turn, ahead: Plan | None = None) -> Iterator[Event]:
        """Plan `turn.text` into steps and stream each agent's answer into `turn`.

        `ahead`: the steps planned in the pause before the turn ended (`plan_ahead`), used
        when they are for these words and still fresh. A step that fails or asks something
        stops the plan there, and the answer says what was not done; a declined step ("turn
        on the lights") stops only steps that build on it. Closing the generator early (the
        user talked over the answer) stops the agent at once and marks the turn interrupted.
        """
        self.app.hold_prefill()
        fresh = ahead is not None and ahead.text == turn.text and ahead.stamp == self._stamp()
        self._epoch += 1
        try:
            yield from self._answer(turn, ahead if fresh else None)
        finally:
            self._epoch += 1  # a plan made while this turn was answered read a changing dialogue

    def _answer(self, turn: Turn, ahead: Plan | None) -> Iterator[Event]:
        if not turn.text.strip():  # a blank transcript or an empty line: nothing to route
            turn.answer = _NOTHING_SAID[turn.source]
            yield Token(turn.id, turn.answer)
            return
        self.dialogue.new_turn()
        try:
            if ahead is not None and ahead.error is not None:
                raise ahead.error
            plan = ahead.pieces if ahead is not None and ahead.pieces else None
            if plan is None:
                plan = self._plan(turn.text, self.dialogue)
        except Exception as exc:  # noqa: BLE001 - a failing stage ends its turn, not the app
            yield from self.fail(turn, None, "route", exc)
            return
        recent = self.dialogue.recent()
        previous = recent.result if recent else None
        for number, piece in enumerate(plan):
            if asks_to_be_told(piece.text):
                said = _told_when(previous, in_this_turn=number > 0)
                if said:
                    turn.mark("first_token")
                    said = f" {said}" if turn.answer else said
                    turn.answer += said
                    yield Token(turn.id, said)
                continue
            piece = self._resolved(piece, previous)
            facts = yield from self._use_tools(turn, piece)
            if isinstance(facts, Result):
                # The answer needs what a tool could not find ("is it warmer in Paris or in
                # Rome" offline): the tool's own words, never the model's guess.
                turn.mark("first_token")
                said = f" {facts.spoken}" if turn.answer else facts.spoken
                turn.answer += said
                yield Token(turn.id, said)
                return
            step = yield from self._step(turn, piece, previous, facts)
            if step is None or step.error is not None:
                return
            self.dialogue.answered(step.agent, step.text, step.result)
            previous = step.result
            rest = plan[number + 1 :]
            if rest and previous is not None and _stops(previous, rest):
                undone = join_words([f'"{p.text}"' for p in rest])
                note = f" So I haven't done the rest yet: {undone}."
                turn.answer += note
                yield Token(turn.id, note)
                return

    # -- planning ---------------------------------------------------------------------------
    def _plan(self, text: str, dialogue: DialogueState, llm: bool = True) -> list[Piece] | None:
        """The steps of a request: an answer to an open question, a follow-up of the last
        step, a compound request cut into its tasks, or the request as it is. Without `llm`,
        None where the LLM would be asked for the plan."""
        route = self.app.router.route
        decision = route(text)
        elsewhere = not decision.fallback and decision.confidence >= CONFIDENT
        # A question or request of its own ("who was president in 1976") does not answer
        # the one asked.
        question = None if _ASKS.match(text) else dialogue.open_question()
        for topic, make in (
            (question, lambda t: t.with_answer(text)),
            (dialogue.recent(), self._follow_up(text)),
        ):
            if topic is None or make is None or (elsewhere and decision.agent != topic.agent):
                continue
            candidate = make(topic)
            if candidate is None:
                continue
            again = route(candidate)
            if again.agent == topic.agent:
                return [Piece(candidate, again)]
        pieces = split(text, self._route_piece)
        if (
            pieces is None
            and self.app.settings.routing.plan_with_llm
            and (stray := unclear(text, self._route_piece))
            and not self._computed(text, decision)
            and not self._keeps(text, decision, stray)
            and not self._for_the_llm(decision)
        ):
            if not llm:
                return None
            pieces = self._llm_plan(text)
        if pieces:
            return pieces
        said = clean(text)
        return (
            [Piece(said, route(said) if said != text else decision)]
            if said
            else [Piece(text, decision)]
        )

    def _computed(self, text: str, decision: RouteDecision) -> bool:
        """Whether `decision` sends `text` to a skill that only computes (`pure`), and that
        skill answers it: tried on the words, as nothing is done by trying."""
        return self._tried(text, decision) == "done"

    def _tried(self, text: str, decision: RouteDecision) -> str | None:
        """The status of the answer a skill that only computes gives `text`, tried on the
        words ("" when it cannot read them); None when `decision` sends it elsewhere."""
        spec = self.app.specs.get(decision.agent)
        if decision.fallback or spec is None or not spec.pure:
            return None
        try:
            result = self.app.agents[decision.agent].skill.handle(Request(text))
        except Exception:  # noqa: BLE001 - the step runs it again, and reports it as its own
            return None
        return "" if result is None else result.status

    def _for_the_llm(self, decision: RouteDecision) -> bool:
        """Whether the whole request is confidently one for an LLM agent ("why do we put salt
        and pepper on food"): its stray pieces would go to the same model, and a plan from it
        cost 13 s on balanced."""
        confident = not decision.fallback and decision.confidence >= CONFIDENT
        return confident and self.app.specs[decision.agent].kind == "llm"

    def _keeps(self, text: str, decision: RouteDecision, stray: list[str]) -> bool:
        """Whether the pieces of `text` that route nowhere are words its command keeps as
        said ("make a note called packing, saying, bring the passport"): one request."""
        if decision.fallback or decision.confidence < CONFIDENT:
            return False
        skill = getattr(self.app.agents[decision.agent], "skill", None)  # the LLM's keeps none
        kept = skill.kept_words(text) if isinstance(skill, KeepsWords) else None
        said = set(words(kept or ""))
        return kept is not None and all(set(words(piece)) <= said for piece in stray)

    def _route_piece(self, text: str) -> RouteDecision:
        """Routing for a piece of a request: a piece a pure skill cannot answer by itself
        ("Convert 8" of "Convert 8, ounces to grams") is no confident task of its own."""
        decision = self.app.router.route(text)
        spec = self.app.specs.get(decision.agent)
        # "multiply the result by 10" is answered once the earlier step's result is in it
        if spec is not None and spec.pure and not refers_back(text):
            if not self._computed(text, decision):
                return replace(decision, confidence=0.0)
        return decision

    @staticmethod
    def _follow_up(text: str):
        fragment = fragment_of(text)
        return None if fragment is None else (lambda topic: rewrite(topic.text, fragment))

    def _llm_plan(self, text: str) -> list[Piece] | None:
        agents = {n: s.description for n, s in self.app.specs.items() if n != "system"}
        listed = "\n".join(f"- {name}: {what}" for name, what in agents.items())
        try:
            return ask_json(
                self.app.llm(),
                PLAN_INSTRUCTION.format(agents=listed),
                text,
                lambda obj: check_plan(obj, text, agents, self.app.router.route),
                max_tokens=160,
            )
        except Exception:  # noqa: BLE001 - no plan is a plan: the request is answered whole
            log.warning("the LLM could not plan %r", text, exc_info=True)
            return None

    def _resolved(self, piece: Piece, previous: Result | None) -> Piece:
        """`piece` with "that many", "it", "the result" filled in from `previous`."""
        filled = resolve(piece.text, previous)
        if filled is None:
            return piece
        decision = self.app.router.route(filled)
        if decision.fallback and not piece.decision.fallback:
            decision = piece.decision
        return Piece(filled, decision)

    # -- tools ------------------------------------------------------------------------------
    def _use_tools(self, turn: Turn, piece: Piece):
        """Skills the piece's LLM agent calls for facts first ("is it warmer in Athens or in
        Cairo?": two weather calls); each call is a step of its own, not spoken. Returns
        what they found, for the LLM to answer from, or the result of a call that failed."""
        spec = self.app.specs[piece.decision.agent]
        routing = self.app.settings.routing
        hinted = {
            name: self.app.specs[name].description
            for name in spec.tools
            # As sure as routing must be to send a request to that agent by itself.
            if piece.decision.scores.get(name, 0.0)
            >= (self.app.specs[name].threshold or routing.threshold) + routing.threshold_boost
        }
        if spec.kind != "llm" or not hinted or spec.without_tools(piece.text):
            return []
        route = self.app.router.route
        try:
            calls = choose_calls(
                self.app.llm(),
                piece.text,
                hinted,
                lambda call: (
                    route(call.request).agent == call.tool and about_the_question(call, piece.text)
                ),
                list(self._history),
            )
        except Exception:  # noqa: BLE001 - without tools the model still answers
            log.warning("choosing tools for %r failed", piece.text, exc_info=True)
            return []
        facts, compared = [], []
        for call in calls:
            called = Piece(call.request, route(call.request))
            step = yield from self._step(turn, called, None, speak=False)
            if step is None or step.error is not None:
                break
            result = step.result
            if result is not None and result.status == "failed":
                return result
            if result is not None and result.status == "done":
                facts.append(f"Asked {call.request!r}, the {call.tool} tool said: {result.spoken}")
                if call.about and isinstance(result.value, Mapping):
                    compared.append((call.about, result.value))
        return compare(compared) + facts

    # -- one step ---------------------------------------------------------------------------
    def _step(
        self,
        turn: Turn,
        piece: Piece,
        previous: Result | None,
        facts: list[str] | None = None,
        speak: bool = True,
    ):
        """Run one agent on one piece; returns the step (None if the turn was ended).
        A step that does not `speak` (a tool call) adds nothing to the answer."""
        app = self.app
        decision, claimed = piece.decision, None
        spoken, likeness = turn.source == "spoken", decision.method == "embeddings"
        request = Request(piece.text, spoken=spoken, previous=previous, by_likeness=likeness)
        # What the user told us answers a question no agent takes, and one about to be
        # declined ("when is my next appointment?" after "remember my next appointment...").
        if decision.fallback or app.specs[decision.agent].skill == "limits":
            decision, claimed = self._claimed(request, decision)
        step = Step(decision.agent, piece.text, decision, marks={"started": turn.now()})
        turn.steps.append(step)
        turn.mark("routed")
        yield Routed(turn.id, len(turn.steps) - 1, decision)
        agent = app.agents[decision.agent]
        part = "llm" if agent.spec.kind == "llm" else f"skill:{agent.spec.name}"
        app.llm_used = False
        pieces: list[str] = []
        failure: Exception | None = None
        blocked: list[str] = []  # a sentence of the LLM's that claimed an action
        stream = (
            iter([claimed])
            if claimed
            else honest(agent.respond(request, list(self._history), facts or ()), blocked)
        )
        try:
            app.health.check(part)
            for item in stream:
                text = item.spoken if isinstance(item, Result) else item
                if isinstance(item, Result):
                    step.result = item
                    if _said_before(turn, step, item.spoken):
                        continue  # two parts of one wish declined alike: said once
                if not speak:
                    pieces.append(text)
                    continue
                if not pieces:
                    turn.mark("first_token")
                    step.marks["first_token"] = turn.now()
                    text = f" {text}" if turn.answer else text
                pieces.append(text)
                yield Token(turn.id, text)
        except (GeneratorExit, KeyboardInterrupt):  # talked over, or Ctrl+C in the chat
            turn.interrupted = True
            raise
        except Exception as exc:  # noqa: BLE001 - see answer()
            failure = exc
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            self._close_step(turn, step, "".join(pieces).strip(), speak)
            if blocked and step.result is not None:
                step.result = replace(step.result, data={"blocked_claim": blocked[0]})
        if failure is not None:
            yield from self.fail(
                turn, step, "llm" if isinstance(failure, LLMError) else part, failure
            )
            return step
        app.health.ok(part)
        if app.llm_used:
            app.health.ok("llm")
        return step

    def _claimed(self, request: Request, decision: RouteDecision):
        """A skill that answers what routing left to the fallback or limits agent (memory
        recalls)."""
        for name, agent in self.app.agents.items():
            claim = getattr(getattr(agent, "skill", None), "claim", None)
            result = claim(request) if claim is not None else None
            if result is not None:
                left = "no rule or example fits" if decision.fallback else decision.agent
                reason = f"{left}; the {name} skill claimed it"
                claimed = replace(decision, agent=name, fallback=False, reason=reason)
                return claimed, result
        return decision, None

    def _close_step(self, turn: Turn, step: Step, answer: str, speak: bool) -> None:
        step.marks["finished"] = turn.now()
        step.llm = self.app.llm_name if self.app.llm_used else None
        if step.result is None and answer:
            step.result = Result(answer, value=answer)
        if speak:
            turn.answer = " ".join(p for p in (turn.answer, answer) if p)

    def fail(self, turn: Turn, step: Step | None, part: str, exc: Exception) -> Iterator[Event]:
        """End `turn` with `exc`: the error on the record, TurnFailed, then the apology."""
        stage = part.split(":")[0]
        if isinstance(exc, Unavailable):
            code, message = "unavailable", str(exc)
            apology = f"Sorry, {part_name(exc.part)} isn't working right now."
        elif isinstance(exc, UserError):
            code, message = "needs_fix", str(exc)
            # Read aloud, a path and a command help nobody: the record and `doctor` keep them.
            fix = "voice-agent doctor says how to fix it." if turn.source == "spoken" else message
            apology = f"Sorry, {part_name(part)} can't run: {fix}"
        else:
            code, message = type(exc).__name__, str(exc) or type(exc).__name__
            apology = (
                exc.apology
                if isinstance(exc, PartFailure)
                else _APOLOGIES.get(stage, f"Sorry, {part_name(part)} failed.")
            )
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
            record = turn.to_dict()
            self.app.save(record)
            self.conversation = [*self.conversation[-CONVERSATION_KEPT + 1 :], record]
        if turn.answer and turn.error is None and turn.text.strip():
            self._remember(turn.text, turn.answer)
        self.app.prefill_conversation(self._history)
        yield TurnFinished(turn)
        for step in turn.steps:
            for action in step.result.actions if step.result else ():
                yield from self._apply(action)

    def redoable(self, turn: Turn) -> bool:
        """Whether answering `turn` again does nothing twice: each step declined, asked,
        failed, was computed by a skill that only computes, or was the LLM's (its tools only
        look things up)."""
        for step in turn.steps:
            spec = self.app.specs.get(step.agent)
            done = step.result is not None and step.result.status == "done"
            if done and (spec is None or not (spec.pure or spec.kind == "llm")):
                return False
        return True

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


def _next_turn(dialogue: DialogueState) -> DialogueState:
    """A copy of `dialogue` as the next turn sees it (its topics a turn older)."""
    ahead = DialogueState()
    copies = {id(t): replace(t) for t in (dialogue.last, dialogue.pending) if t is not None}
    ahead.last = copies.get(id(dialogue.last))
    ahead.pending = copies.get(id(dialogue.pending))
    ahead.new_turn()
    return ahead


def _told_when(previous: Result | None, in_this_turn: bool) -> str:
    """The answer to "tell me when it's done" after `previous`: the promise of a skill that
    speaks up by itself (a timer going off), or that nothing here watches for it; nothing
    more after a step of this turn that was not done, whose answer said so."""
    if in_this_turn and previous is not None and previous.status != "done":
        return ""
    promise = previous.data.get("tells_when") if previous is not None else None
    return promise or _CANNOT_TELL


def _stops(result: Result, rest: list[Piece]) -> bool:
    """Whether the steps in `rest` must wait after a step that ended with `result`: it asked
    a question, or did not do what the next step builds on. A step of its own goes on
    ("what's the weather in Oslo and what time is it there" offline: Oslo is still known)."""
    if result.status == "ask":
        return True
    if result.status in ("declined", "failed"):
        return refers_back(rest[0].text) and resolve(rest[0].text, result) is None
    return False


# A question or a request of its own: the questions skills ask want a city, a duration, a
# number or a timer's name, never a sentence that asks or tells ("give me three tips").
_ASKS = re.compile(
    r"\s*(?:(?:please\s+)?(?:give|tell|show|teach|help|remind|wake)\s+(?:me|us)\b|(?:please\s+)?(?:explain|"
    r"describe|define|recommend|suggest|translate)\b|who|whom|whose|what(?! about)|when|where|why"
    r"|which|how(?! about)|is|are|was|were|am|can|could|would|will|should|shall|do|does|did)\b",
    re.IGNORECASE,
)
_CANNOT_TELL = (
    "I can't tell when that happens: I only speak up by myself when a timer, an alarm or a "
    "reminder goes off."
)
_NOTHING_SAID = {"spoken": "Sorry, I didn't hear anything.", "typed": "You didn't type anything."}
_APOLOGIES = {
    "route": "Sorry, something went wrong while working out who should answer that.",
    "llm": "Sorry, my language model stopped answering.",
    "stt": "Sorry, my speech recognition failed, so I didn't get that.",
}


def _said_before(turn: Turn, step: Step, spoken: str) -> bool:
    """Whether an earlier step of `turn` already gave this answer, word for word."""
    return any(
        s.result is not None and s.result.spoken == spoken for s in turn.steps if s is not step
    )
