"""The embedded llama.cpp backend with real models (SmolLM2-135M for speed, Qwen2.5-Coder-0.5B)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice_agent import models
from voice_agent.app import build
from voice_agent.config import LlmConfig, load_settings
from voice_agent.errors import ModelMissingError
from voice_agent.llm.base import ChatMessage, LLMError, ask_json, complete
from voice_agent.llm.llamacpp_backend import PREFILL_CHUNK, LlamaCppLLM

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


SYSTEM: ChatMessage = {"role": "system", "content": "You are a helpful voice assistant."}
# Turns skills answered: none of them passed through the model.
CONVERSATION: list[ChatMessage] = [
    SYSTEM,
    *(
        message
        for said, answer in [
            ("set a timer for ten minutes", "Timer set for 10 minutes."),
            ("what is twenty five times seven", "25 times 7 is 175."),
            ("read my groceries note", "groceries.txt says: milk, eggs and flour."),
            ("what time is it in Tokyo", "It's 10:05 AM in Tokyo, 9 hours ahead of you."),
        ]
        for message in (
            ChatMessage(role="user", content=said),
            ChatMessage(role="assistant", content=answer),
        )
    ),
]
QUESTION: ChatMessage = {"role": "user", "content": "Who wrote Romeo and Juliet?"}


def tokens_read(llm: LlamaCppLLM, messages: list[ChatMessage]) -> int:
    """How many prompt tokens the model evaluates to start answering `messages`."""
    llama = llm._llama
    read: list[int] = []
    evaluate = llama.eval
    llama.eval = lambda tokens: (read.append(len(tokens)), evaluate(tokens))[1]
    try:
        complete(llm, messages, max_tokens=1)
    finally:
        del llama.eval
    return sum(read)


@pytest.mark.slow
def test_prefill_reads_the_conversation_before_the_question(smollm: LlamaCppLLM) -> None:
    smollm.warmup([SYSTEM["content"]])
    cold = tokens_read(smollm, [*CONVERSATION, QUESTION])
    smollm.warmup([SYSTEM["content"]])

    smollm.prefill(CONVERSATION)
    smollm.wait_prefilled()
    warm = tokens_read(smollm, [*CONVERSATION, QUESTION])

    assert cold > 60
    assert warm < 20  # the question and the assistant's header, not the conversation


@pytest.mark.slow
def test_speech_stops_the_prefill_within_a_chunk_of_a_long_exchange(smollm: LlamaCppLLM) -> None:
    """A long answer (the capability list) is hundreds of tokens: speech beginning while it
    is read must not wait for its end, or the cores and the model stay busy for seconds."""
    smollm.warmup([SYSTEM["content"]])
    long_exchange: list[ChatMessage] = [
        SYSTEM,
        {"role": "user", "content": "what can you do"},
        {"role": "assistant", "content": " ".join(m["content"] for m in STORY) * 6},
    ]
    llama = smollm._llama
    chunks: list[int] = []
    evaluate = llama.eval

    def read_then_hear_speech(tokens):
        chunks.append(len(tokens))
        evaluate(tokens)
        smollm.hold_prefill()

    llama.eval = read_then_hear_speech
    try:
        smollm.prefill(long_exchange)
        smollm.wait_prefilled()
    finally:
        del llama.eval

    assert chunks == [PREFILL_CHUNK]


@pytest.mark.slow
def test_closing_does_not_wait_to_read_the_conversation(smollm: LlamaCppLLM) -> None:
    """`voice-agent ask` closes the model right after its one turn."""
    smollm.warmup([SYSTEM["content"]])
    read = smollm._llama.n_tokens

    smollm.prefill(CONVERSATION)
    smollm.close()

    assert smollm._llama.n_tokens == read


@pytest.mark.slow
def test_the_assistant_reads_skill_turns_ahead_of_the_next_question(tmp_path: Path) -> None:
    model_path("smollm2-135m")
    settings = load_settings(
        "speed", ["llm.backend=llamacpp", "llm.model=smollm2-135m", f"store.path={tmp_path / 'db'}"]
    )
    app = build(settings)
    try:
        app.warmup()
        for said in ("set a timer for ten minutes", "what is twenty five times seven"):
            app.ask(said)
        app.settle()
        llama = app.llm()._llama
        cached = llama.detokenize(list(llama.input_ids[: llama.n_tokens])).decode()
        assert "what is twenty five times seven" in cached and "175" in cached

        read: list[int] = []
        evaluate = llama.eval
        llama.eval = lambda tokens: (read.append(len(tokens)), evaluate(tokens))[1]
        turn = app.ask("who wrote the novel Frankenstein")
        assert turn.steps[0].agent == "general" and turn.answer
        assert read[0] < 30  # the question, not the two turns before it
    finally:
        app.close()


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
