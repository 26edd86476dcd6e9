"""Spoken LLM answers: plain sentences, a few of them, never cut mid-word (llm/spoken.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_ollama import FakeOllama
from hypothesis import given
from hypothesis import strategies as st

from voice_agent import models
from voice_agent.agents.registry import load_agents
from voice_agent.agents.runtime import LLMAgent
from voice_agent.config import LlmConfig
from voice_agent.errors import ModelMissingError
from voice_agent.llm.ollama_backend import OllamaLLM
from voice_agent.llm.spoken import CODE_LEFT_OUT, TOKEN_CAP, sentence_limit, spoken
from voice_agent.skills.base import Request

MARKDOWN = (
    "## Boiling an egg\n"
    "Here is how:\n"
    "1. Bring **water** to a boil.\n"
    "2. Lower the egg in with a spoon.\n"
    "- Cook it for *ten* minutes.\n"
    "```python\n"
    "timer(minutes=10)\n"
    "```\n"
    "Then cool it in cold water."
)


def stream(pieces: list[str], returns: str | None = None, closed: list[bool] | None = None):
    try:
        yield from pieces
    finally:
        if closed is not None:
            closed.append(True)
    return returns


def said(pieces: list[str], limit: int | None = None, returns: str | None = None) -> str:
    return "".join(spoken(stream(pieces, returns), limit)).strip()


def pieces_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False)]


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_markdown_lists_and_code_become_plain_sentences_however_it_streams(cuts) -> None:
    answer = said(pieces_of(MARKDOWN, cuts))

    assert answer == (
        "Boiling an egg. Here is how: Bring water to a boil. Lower the egg in with a spoon. "
        f"Cook it for ten minutes. {CODE_LEFT_OUT} Then cool it in cold water."
    )
    assert not any(mark in answer for mark in ("#", "*", "`", "timer("))


def test_an_answer_stops_after_its_sentences_and_generation_is_stopped() -> None:
    closed: list[bool] = []
    text = "Paris is the capital. It is on the Seine. It has the Louvre. It is big. More."
    out = "".join(spoken(stream(re.findall(r"\S+\s*", text), closed=closed), 3))

    assert out.strip() == "Paris is the capital. It is on the Seine. It has the Louvre."
    assert closed == [True]


@pytest.mark.parametrize(
    "request_text",
    [
        "explain in detail how a jet engine works",
        "tell me a story about a fox",
        "give me step by step instructions to change a tyre",
        "what are the steps to bake bread",
    ],
)
def test_asking_for_more_lifts_the_sentence_limit(request_text: str) -> None:
    assert sentence_limit(request_text, 3) is None


@pytest.mark.parametrize("request_text", ["who wrote hamlet", "how far is the moon"])
def test_ordinary_questions_keep_the_limit(request_text: str) -> None:
    assert sentence_limit(request_text, 3) == 3


def test_the_token_cap_drops_an_unfinished_last_sentence() -> None:
    pieces = ["The Eiffel", " Tower was built", " in 1889. It", " stands in Par"]

    assert said(pieces, returns=TOKEN_CAP) == "The Eiffel Tower was built in 1889."


def test_a_lone_sentence_cut_by_the_cap_ends_on_a_whole_word() -> None:
    pieces = ["The Eiffel", " Tower was", " built in 18"]

    assert said(pieces, returns=TOKEN_CAP) == "The Eiffel Tower was built in…"


def test_a_short_answer_without_a_full_stop_is_kept_whole() -> None:
    assert said(["Par", "is"], returns="stop") == "Paris"
    assert said(["It ends in 1889. Then more"]) == "It ends in 1889. Then more"


@pytest.mark.parametrize(
    ("pieces", "answer"),
    [
        (["The next Tuesday ", "is on [insert ", "date]."], "I don't know that."),
        (["The current hour in Tokyo is [insert time]. It is", " dark."], "I don't know that."),
        (["Paris is in France. ", "It is <distance> from London."], "Paris is in France."),
        (["Dear {name}"], "I don't know that."),
        (["It was built in 1889 [1]."], "It was built in 1889 [1]."),  # no blank: a number
    ],
)
def test_a_blank_left_to_fill_in_is_no_answer(pieces, answer) -> None:
    """A small model writes a blank for a fact it does not have: the answer stops there."""
    assert said(pieces) == answer


@pytest.fixture
def general():
    return load_agents(None, "general")["general"]


def test_ollama_answers_cut_by_num_predict_end_on_a_whole_word(general) -> None:
    with FakeOllama(reply="Paris is the capital of France. It lies on the Seine.") as fake:
        llm = OllamaLLM(LlmConfig(ollama_host=fake.host, max_tokens=8))
        answer = "".join(LLMAgent(general, lambda: llm, 3).respond(Request("capital?"), []))
        llm.close()

    assert answer.strip() == "Paris is the capital of France."


@pytest.mark.slow
def test_llama_cpp_reports_the_cap_and_the_answer_ends_cleanly(general) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from voice_agent.llm.llamacpp_backend import LlamaCppLLM

    try:
        path = Path(models.resolve("llm", "smollm2-135m"))
    except ModelMissingError as exc:
        pytest.skip(f"smollm2-135m is not available: {exc}")
    llm = LlamaCppLLM(LlmConfig(model="smollm2-135m", temperature=0.0, max_tokens=12), path)
    messages = [{"role": "user", "content": "Tell me a long story about a dragon."}]
    raw: Iterator[str] = llm.stream_chat(messages)
    while True:
        try:
            next(raw)
        except StopIteration as stop:
            assert stop.value == TOKEN_CAP
            break

    request = Request("Describe the sea for me, please.")
    answer = "".join(LLMAgent(general, lambda: llm, 2).respond(request, [])).strip()

    assert answer and answer[-1] in ".!?…"
    assert "\n" not in answer
