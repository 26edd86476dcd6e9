"""The LLM stage: a chat model that streams text pieces."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Sequence
from typing import Protocol, TypedDict, TypeVar


class ChatMessage(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


Token = tuple[str, float]  # a token's text and its log-probability under the model


class Piece(str):
    """Streamed answer text that may carry the tokens whose probabilities became known
    since the last piece. A token's probability is known once the next token is sampled,
    so a piece's tokens lag its text by one; backends that do not tell them give plain str.
    """

    tokens: tuple[Token, ...] = ()

    def __new__(cls, text: str, tokens: Sequence[Token] = ()) -> Piece:
        piece = super().__new__(cls, text)
        piece.tokens = tuple(tokens)
        return piece


class LLMError(Exception):
    """The backend failed at run time (server gone, model crashed). The message is for the user."""


class LLM(Protocol):
    name: str  # e.g. "llamacpp:qwen2.5-coder-0.5b" or "ollama:llama3.2:3b"

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Generator[str, None, str | None]:
        """Yield the answer in pieces as they are generated; return "length" when the token
        cap ended it (the last sentence is then unfinished), anything else otherwise."""
        ...

    def warmup(self, system_prompts: Sequence[str] = ()) -> None:
        """Load the model and prime these system prompts so the first real turn is not cold."""
        ...


T = TypeVar("T")

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def complete(llm: LLM, messages: list[ChatMessage], **options) -> str:
    return "".join(llm.stream_chat(messages, **options)).strip()


def ask_json(
    llm: LLM, instruction: str, text: str, check: Callable[[dict], T | None], max_tokens: int = 80
) -> T | None:
    """Ask for one JSON object and return `check(obj)`, or None if the model gave nothing usable.

    A prompt plus json.loads is about twice as fast as grammar-constrained
    decoding on small models, so the model's output is parsed and checked here.
    """
    messages: list[ChatMessage] = [
        {"role": "system", "content": instruction + "\nReply with one JSON object only."},
        {"role": "user", "content": text},
    ]
    raw = complete(llm, messages, max_tokens=max_tokens, temperature=0.0)
    match = _JSON_OBJECT.search(raw)
    if not match:
        return None
    try:
        obj = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return check(obj) if isinstance(obj, dict) else None
