"""An answer the model was unsure of is said as a guess (llm/confidence.py, llm/spoken.py).

Unit tests stream pieces carrying token probabilities as llama.cpp's backend does (one token
behind the text); the last test runs the real Qwen2.5-Coder-0.5B.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from voice_agent import models
from voice_agent.agents.registry import load_agents
from voice_agent.agents.runtime import LLMAgent
from voice_agent.config import LlmConfig
from voice_agent.errors import ModelMissingError
from voice_agent.llm.base import Piece
from voice_agent.llm.confidence import HEDGE, least_sure
from voice_agent.llm.spoken import spoken
from voice_agent.skills.base import Request


def streamed(tokens: list[tuple[str, float]]) -> list[Piece]:
    """One piece per token, each telling the probability of the token before it, and an
    empty last piece telling the last token's (as the end token's step does)."""
    told = [[(text, math.log(p))] for text, p in tokens]
    return [Piece(text, told[i - 1] if i else []) for i, (text, _) in enumerate(tokens)] + [
        Piece("", told[-1])
    ]


def tokens_of(text: str, unsure: dict[str, float]) -> list[tuple[str, float]]:
    return [(t, unsure.get(t.strip(), 0.98)) for t in re.findall(r"\s*[^\s]+", text)]


def say(text: str, unsure: dict[str, float], below: float = 0.3, limit: int | None = 3) -> str:
    pieces = streamed(tokens_of(text, unsure))
    return "".join(spoken(iter(pieces), limit, below)).strip()


def test_a_name_the_model_was_unsure_of_makes_the_answer_a_guess():
    text = "The Magic Flute was composed by Johann Sebastian Bach. He wrote it in 1791."
    assert say(text, {"Johann": 0.1}) == (
        f"{HEDGE} the Magic Flute was composed by Johann Sebastian Bach. He wrote it in 1791."
    )
    assert say(text, {"1791.": 0.1}) == text  # only the first sentence is weighed


def test_a_sure_answer_and_unsure_phrasing_are_said_as_they_are():
    text = "Pride and Prejudice was written by Jane Austen."
    assert say(text, {}) == text
    # The first word and lower-case words are phrasing: many ways to say the same thing.
    assert say(text, {"Pride": 0.2, "written": 0.1}) == text


def test_a_number_counts_like_a_name_and_a_leading_name_keeps_its_capital():
    assert say("Humans have 23 pairs.", {"23": 0.2}) == f"{HEDGE} Humans have 23 pairs."
    assert say("Johann Bach wrote it.", {"Bach": 0.2}) == f"{HEDGE} Johann Bach wrote it."


def test_no_probabilities_no_threshold_or_its_own_doubt_mean_no_hedge():
    text = "The Alps separate France and Spain."
    assert "".join(spoken(iter(re.findall(r"\S+\s*", text)), 3, 0.3)) == text  # plain str
    assert say(text, {"Alps": 0.2}, below=0.0) == text
    doubt = "I'm not sure, but Alps might separate France and Spain."
    assert say(doubt, {"Alps": 0.2}) == doubt


def test_a_one_sentence_answer_ending_the_stream_is_weighed_too():
    assert say("Canberra", {}, limit=None) == "Canberra"
    assert least_sure([("Can", math.log(0.9)), ("berra", math.log(0.2))], "Canberra") == 1.0
    assert say("It is Canberra", {"Canberra": 0.2}) == f"{HEDGE} it is Canberra"


def test_stories_and_answers_from_tool_facts_are_not_hedged():
    class Stub:
        name = "stub"

        def stream_chat(self, messages, **_):
            yield from streamed(tokens_of("Once upon a time Zorblax lived.", {"Zorblax": 0.01}))

    general = load_agents(None, "general")["general"]
    agent = LLMAgent(general, Stub, 3, 0.3)
    assert "".join(agent.respond(Request("who lives in the castle"), [])).startswith(HEDGE)
    assert not "".join(agent.respond(Request("tell me a story"), [])).startswith(HEDGE)
    found = ["Zorblax lives in the castle."]
    assert not "".join(agent.respond(Request("who lives there"), [], found)).startswith(HEDGE)


@pytest.mark.slow
def test_the_embedded_model_guesses_aloud_only_when_it_is_guessing():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from voice_agent.llm.llamacpp_backend import LlamaCppLLM

    try:
        path = Path(models.resolve("llm", "qwen2.5-coder-0.5b"))
    except ModelMissingError as exc:
        pytest.skip(f"qwen2.5-coder-0.5b is not available: {exc}")
    llm = LlamaCppLLM(LlmConfig(model="qwen2.5-coder-0.5b", temperature=0.0), path)
    question = [{"role": "user", "content": "Who was the first mayor of the town of Vellmar?"}]
    pieces = list(llm.stream_chat(question))
    told = [token for piece in pieces for token in piece.tokens]
    text = "".join(pieces)
    # Every token is told, in order, with a probability.
    assert "".join(t for t, _ in told) == text
    assert all(logprob <= 0 for _, logprob in told)

    agent = LLMAgent(load_agents(None, "general")["general"], lambda: llm, 3, 0.3)
    answer = "".join(agent.respond(Request("what is the capital of france"), [])).strip()
    assert "Paris" in answer and not answer.startswith(HEDGE)
    invented = "".join(agent.respond(Request(question[0]["content"]), [])).strip()
    assert invented.startswith(HEDGE), invented  # a made-up mayor, said as a guess
