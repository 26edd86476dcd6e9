"""What a skill is: deterministic code that answers a request with a structured result.

A skill is one module plus one agent YAML (`kind: skill`, `skill: NAME`). The
module registers a factory with `@skill(NAME, ...)` (see `skills/registry.py`);
the factory receives a `SkillContext` and the skill's own config, validated
from the `skill_config:` block of its agent YAML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from voice_agent.agents.spec import AgentSpec
    from voice_agent.config import Settings
    from voice_agent.llm.base import LLM
    from voice_agent.routing.embeddings import Encoder
    from voice_agent.store import Store


SAY_AGAIN = "say_again"  # in a Result's data: it asks for the request again, not for more


@dataclass(frozen=True)
class Request:
    """What the user asked, and how: heard words are phrased back differently from typed ones.

    `previous` is the result this request may refer to ("save it", "add bread to it"): the
    earlier step of the same request, or the last answer of the conversation. `by_likeness`:
    it came to its agent only for sounding like the agent's examples, no rule matched.
    """

    text: str
    spoken: bool = False
    previous: Result | None = None
    by_likeness: bool = False

    @property
    def not_understood(self) -> str:
        return "Sorry, I didn't catch that." if self.spoken else "Sorry, I didn't understand that."

    def say_again(self, more: str = "") -> Result:
        """ "Sorry, I didn't catch that." (and `more`): the user is asked to say it again, so
        what they say next is a request of its own, not an answer to fill in (`SAY_AGAIN`)."""
        spoken = f"{self.not_understood} {more}".strip()
        return Result(spoken, data={SAY_AGAIN: True}, status="ask")


@dataclass(frozen=True)
class SwitchProfile:
    """Asks the app to rebuild its stages from another profile once the turn is over."""

    profile: str


Action = SwitchProfile


@dataclass(frozen=True)
class Result:
    """A skill's answer: what to say, plus the structure a later step can build on.

    `value` is the one thing the answer is about (the number a calculation gave, the
    timer that was set, the forecast); `data` holds JSON-able details, and
    `data["refer_as"]`, when given, names the thing for a later "it" ("the groceries
    note", "the pasta timer"). `status` is "done", "ask" (the skill needs more from the
    user), "failed" (it could not do it) or "declined" (nothing here does what was asked,
    and the answer says so: the other tasks of the request still go ahead).
    """

    spoken: str
    value: Any = None
    data: Mapping[str, Any] = field(default_factory=dict)
    status: Literal["done", "ask", "failed", "declined"] = "done"
    actions: tuple[Action, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"spoken": self.spoken, "status": self.status}
        if self.value is not None:
            out["value"] = self.value
        if self.data:
            out["data"] = dict(self.data)
        return out


class Skill(Protocol):
    def handle(self, request: Request) -> Result | None:
        """Answer the request, or None when it is not for this skill."""


@runtime_checkable
class KeepsWords(Protocol):
    """A skill some of whose commands keep words as they are said (a note's name and body,
    a line added to a list)."""

    def kept_words(self, text: str) -> str | None:
        """The words the command in `text` would keep, found without doing anything; None
        when it is no such command."""
        ...


class Claims(Protocol):
    """Optional: a skill that may answer what no agent's routing claimed (memory recalls
    "when is the plumber coming?" from what it was told) before the fallback agent does."""

    def claim(self, request: Request) -> Result | None: ...


class Warms(Protocol):
    """Optional: a skill whose tables are built on first use (pint's units: half a second)
    builds them in `warmup()`, which the app calls at start, so no request waits for them."""

    def warmup(self) -> None: ...


class Service(Protocol):
    """A background task a skill runs in long sessions (the timer service is one)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Told:
    """A fact the user told memory, in their words, and when (UTC): "my appointment is
    tomorrow" means the day after `said_at`."""

    text: str
    said_at: datetime


@dataclass
class SkillContext:
    """What the app lends a skill when it builds it."""

    settings: Settings
    store: Store
    llm: Callable[[], LLM]  # loads the model on first call; skills use it only when they must
    announce: Callable[[str], None]  # say something between turns (a fired timer)
    agents: Mapping[str, AgentSpec]  # every loaded agent, for skills that describe the others
    spec: AgentSpec  # the agent this skill answers for
    overrides: tuple[str, ...] = ()  # the --set overrides, for skills that load other profiles
    encoder: Encoder | None = None  # sentence embeddings, when the profile loads them
    # This conversation's finished turns as stored, oldest first ("what was my last question").
    conversation: Callable[[], Sequence[Mapping[str, Any]]] = lambda: ()
    # What the user told the memory agent about a phrase, best first.
    recall: Callable[[str], list[Told]] = lambda phrase: []
