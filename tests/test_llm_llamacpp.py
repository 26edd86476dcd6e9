"""The embedded llama.cpp backend with real models (SmolLM2-135M for speed, Qwen2.5-Coder-0.5B)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice_agent import models
from voice_agent.config import LlmConfig
from voice_agent.errors import ModelMissingError
from voice_agent.llm.base import ChatMessage, LLMError, ask_json, complete
from voice_agent.llm.llamacpp_backend import LlamaCppLLM

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

STORY: list[ChatMessage] = [
    {"role": "system", "content": "You are a storyteller."},
    {"role": "user", "content": "Tell me a long story about a dragon and a knight."},
]


def model_path(name: str) -> Path:
    try:
        return Path(models.resolve("llm", name))
    except ModelMissingError as exc:
        pytest.skip(f"{name} is not available: {exc}")


@pytest.fixture(scope="module")
def smollm() -> Iterator[LlamaCppLLM]:
    model_path("smollm2-135m")
    yield LlamaCppLLM(LlmConfig(model="smollm2-135m", temperature=0.0, timeout_s=5))


@pytest.fixture(scope="module")
def qwen() -> Iterator[LlamaCppLLM]:
    model_path("qwen2.5-coder-0.5b")
    llm = LlamaCppLLM(LlmConfig(model="qwen2.5-coder-0.5b", temperature=0.0))
    llm.warmup()
    yield llm


def test_missing_file_is_a_model_missing_error(tmp_path: Path) -> None:
    llm = LlamaCppLLM(LlmConfig(), model_path=tmp_path / "gone.gguf")

    with pytest.raises(ModelMissingError, match="gone.gguf is missing"):
        list(llm.stream_chat(STORY))


def test_damaged_file_is_a_model_missing_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 4096)
    llm = LlamaCppLLM(LlmConfig(), model_path=bad)

    with pytest.raises(ModelMissingError, match="the file is damaged or cut short"):
        llm.warmup()
    assert llm.name == "llamacpp:bad"


@pytest.mark.slow
def test_streams_several_pieces(smollm: LlamaCppLLM) -> None:
    pieces = list(smollm.stream_chat(STORY, max_tokens=30))

    assert smollm.name == "llamacpp:smollm2-135m"
    assert smollm.load_seconds is not None and 0 < smollm.load_seconds < 10
    assert len(pieces) >= 10
    assert all(isinstance(p, str) and p for p in pieces)
    assert len("".join(pieces).split()) >= 5


@pytest.mark.slow
def test_max_tokens_caps_the_answer(smollm: LlamaCppLLM) -> None:
    short = list(smollm.stream_chat(STORY, max_tokens=5))
    longer = list(smollm.stream_chat(STORY, max_tokens=40))

    assert 1 <= len(short) <= 5
    assert len(longer) > 5
    # Temperature 0: the short answer is the start of the longer one.
    assert "".join(longer).startswith("".join(short))


@pytest.mark.slow
def test_warmup_loads_and_leaves_the_prompt_evaluated(smollm: LlamaCppLLM) -> None:
    """The warmed system prompt stays in the context, so the first turn reuses that prefix."""
    prompt = "You are a pirate. Speak like one."
    smollm.warmup([prompt])
    llama = smollm._llama
    assert smollm.load_seconds is not None
    evaluated = llama.detokenize(list(llama.input_ids[: llama.n_tokens])).decode(errors="ignore")
    assert prompt in evaluated


@pytest.mark.slow
def test_abandoned_stream_releases_the_model(smollm: LlamaCppLLM) -> None:
    stream = smollm.stream_chat(STORY, max_tokens=200)
    first = next(stream)
    stream.close()

    assert first
    assert len(complete(smollm, STORY, max_tokens=5)) > 0


@pytest.mark.slow
def test_dropped_stream_releases_the_model_for_another_thread(smollm: LlamaCppLLM) -> None:
    def start_and_drop() -> None:
        stream = smollm.stream_chat(STORY, max_tokens=200)
        next(stream)  # the stream is dropped when this function returns

    start_and_drop()
    answers: list[str] = []
    worker = threading.Thread(target=lambda: answers.append(complete(smollm, STORY, max_tokens=5)))
    worker.start()
    worker.join(timeout=10)

    assert not worker.is_alive()
    assert answers and answers[0]


@pytest.mark.slow
def test_concurrent_calls_take_turns(smollm: LlamaCppLLM) -> None:
    expected = complete(smollm, STORY, max_tokens=12)
    answers: list[str] = []
    workers = [
        threading.Thread(target=lambda: answers.append(complete(smollm, STORY, max_tokens=12)))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert answers == [expected] * 3


@pytest.mark.slow
def test_a_stream_left_open_makes_others_fail_instead_of_hang(smollm: LlamaCppLLM) -> None:
    held = smollm.stream_chat(STORY, max_tokens=200)
    next(held)
    smollm.config = smollm.config.model_copy(update={"timeout_s": 0.3})
    try:
        with pytest.raises(LLMError, match="still busy"):
            complete(smollm, STORY, max_tokens=5)
    finally:
        smollm.config = smollm.config.model_copy(update={"timeout_s": 5})
        held.close()


@pytest.mark.slow
def test_a_prompt_longer_than_the_context_is_an_llm_error(smollm: LlamaCppLLM) -> None:
    too_long: list[ChatMessage] = [{"role": "user", "content": "word " * 3000}]

    with pytest.raises(LLMError, match="raise llm.num_ctx"):
        complete(smollm, too_long)
    assert complete(smollm, STORY, max_tokens=3)  # the model still answers afterwards


@pytest.mark.slow
def test_qwen_knows_the_capital_of_france(qwen: LlamaCppLLM) -> None:
    answer = complete(
        qwen,
        [{"role": "user", "content": "What is the capital of France? Answer in one word."}],
        max_tokens=10,
    )

    assert qwen.name == "llamacpp:qwen2.5-coder-0.5b"
    assert "Paris" in answer


@pytest.mark.slow
def test_qwen_extracts_a_tool_call_as_json(qwen: LlamaCppLLM) -> None:
    def city_call(obj: dict) -> dict | None:
        city = obj.get("city")
        return {"city": city} if isinstance(city, str) and city else None

    result = ask_json(
        qwen,
        'Extract the city the user asks about, as {"city": "<name>"}.',
        "how's the weather looking over in tokyo",
        city_call,
    )

    assert result == {"city": "Tokyo"}


@pytest.mark.slow
def test_memory_does_not_grow_by_an_answer_state_per_turn(qwen: LlamaCppLLM) -> None:
    """A long conversation must not keep a copy of every answer's state (~90 MB each)."""
    import psutil

    process = psutil.Process()

    def answer(i: int) -> None:
        messages: list[ChatMessage] = [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": f"Name fruit number {i}."},
        ]
        complete(qwen, messages, max_tokens=8, temperature=0.0)

    answer(0)
    before = process.memory_info().rss
    for i in range(1, 7):
        answer(i)
    grown_mb = (process.memory_info().rss - before) / 2**20
    # llama-cpp-python 0.3.36 itself keeps ~2 MB per generation; a state cache would be ~500.
    assert grown_mb < 40, f"RSS grew {grown_mb:.0f} MB over 6 answers"
