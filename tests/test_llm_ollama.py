"""The Ollama backend and backend selection, against a fake Ollama server over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from fake_ollama import FakeOllama

from voice_agent.config import LlmConfig
from voice_agent.errors import ModelMissingError, UserError
from voice_agent.llm.base import LLMError, ask_json, complete
from voice_agent.llm.ollama_backend import OllamaLLM, resolve_host, with_tag
from voice_agent.llm.select import select_llm

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=["llama3.2:3b", "qwen2.5:latest"]) as server:
        yield server


@pytest.fixture
def dead_host() -> str:
    """An address where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def config(host: str | None, **changes) -> LlmConfig:
    return LlmConfig(ollama_host=host, **changes)


def test_streams_pieces_in_order_and_sends_the_profile_options(fake: FakeOllama) -> None:
    cfg = config(fake.host, temperature=0.7, top_p=0.8, num_ctx=4096, max_tokens=50)
    llm = OllamaLLM(cfg)

    pieces = list(llm.stream_chat(MESSAGES))

    assert pieces == ["Paris", " is", " the", " capital", " of", " France."]
    assert "".join(pieces) == fake.reply
    assert llm.name == "ollama:llama3.2:3b"
    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/api/chat")
    body = request.body
    assert body["model"] == "llama3.2:3b"
    assert body["messages"] == MESSAGES
    assert body["stream"] is True
    assert body["keep_alive"] == "30m"
    assert body["options"] == {"temperature": 0.7, "top_p": 0.8, "num_ctx": 4096, "num_predict": 50}


def test_per_call_max_tokens_and_temperature_override_the_profile(fake: FakeOllama) -> None:
    llm = OllamaLLM(config(fake.host, keep_alive="-1"))

    pieces = list(llm.stream_chat(MESSAGES, max_tokens=3, temperature=0.0))

    assert pieces == ["Paris", " is", " the"]  # the fake honours num_predict
    body = fake.chat_requests()[0]
    assert body["options"]["num_predict"] == 3
    assert body["options"]["temperature"] == 0.0
    assert body["keep_alive"] == "-1"


def test_ask_json_works_over_ollama(fake: FakeOllama) -> None:
    fake.reply = '{"city": "Tokyo"}'
    llm = OllamaLLM(config(fake.host))

    city = ask_json(llm, "Extract the city.", "weather in tokyo", lambda d: d.get("city"))

    assert city == "Tokyo"
    assert fake.chat_requests()[0]["options"]["temperature"] == 0.0


def test_host_comes_from_ollama_host_env(fake: FakeOllama, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", fake.host.removeprefix("http://"))
    llm = OllamaLLM(config(None))

    assert llm.host == fake.host
    assert complete(llm, MESSAGES) == fake.reply


def test_configured_host_wins_over_env(fake: FakeOllama, dead_host: str, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", dead_host)

    assert OllamaLLM(config(fake.host)).host == fake.host


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        (":11500", "http://127.0.0.1:11500"),
        ("gpu-box:11434", "http://gpu-box:11434"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://ollama.example.com/", "https://ollama.example.com:443"),
        ("[::1]:11434", "http://[::1]:11434"),
    ],
)
def test_resolve_host_reads_hosts_like_ollama_does(given: str | None, expected: str) -> None:
    assert resolve_host(given) == expected


def test_tags_match_with_and_without_latest() -> None:
    assert with_tag("qwen2.5") == "qwen2.5:latest"
    assert with_tag("llama3.2:3b") == "llama3.2:3b"
    assert with_tag("registry.local:5000/me/model") == "registry.local:5000/me/model:latest"


def test_missing_model_says_to_pull_it(fake: FakeOllama) -> None:
    llm = OllamaLLM(config(fake.host, ollama_model="mistral:7b"))

    with pytest.raises(LLMError) as err:
        list(llm.stream_chat(MESSAGES))

    assert str(err.value) == (
        f"Ollama at {fake.host} has no model mistral:7b: run `ollama pull mistral:7b`"
    )


def test_server_down_says_to_start_it(dead_host: str) -> None:
    llm = OllamaLLM(config(dead_host))

    with pytest.raises(LLMError, match=r"no Ollama server at .*: start it with `ollama serve`"):
        list(llm.stream_chat(MESSAGES))
    with pytest.raises(LLMError, match="ollama serve"):
        llm.warmup()


def test_error_in_the_middle_of_a_stream_is_an_llm_error(fake: FakeOllama) -> None:
    fake.fail_after = 2
    llm = OllamaLLM(config(fake.host))
    pieces: list[str] = []

    with pytest.raises(LLMError, match="error was encountered while running the model"):
        for piece in llm.stream_chat(MESSAGES):
            pieces.append(piece)

    assert pieces == ["Paris", " is"]


def test_abandoning_a_stream_hangs_up_so_ollama_stops(fake: FakeOllama) -> None:
    fake.reply = " ".join(["word"] * 200)
    fake.chunk_delay = 0.01
    llm = OllamaLLM(config(fake.host))

    stream = llm.stream_chat(MESSAGES)
    first_two = [next(stream), next(stream)]
    stream.close()

    assert first_two == ["word", " word"]
    assert fake.client_hung_up.wait(timeout=2.0)
    assert fake.pieces_sent < 50
    assert complete(llm, MESSAGES, max_tokens=2) == "word word"  # the backend still works


def test_warmup_loads_the_model_with_the_same_options(fake: FakeOllama) -> None:
    llm = OllamaLLM(config(fake.host, keep_alive="1h", num_ctx=4096))

    llm.warmup()
    list(llm.stream_chat(MESSAGES))

    load, chat = fake.chat_requests()
    assert load["messages"] == []  # Ollama's "just load it" request
    assert load["keep_alive"] == "1h"
    # Same num_ctx as the real request: a different one would make Ollama reload.
    assert load["options"] == chat["options"]


def test_warmup_evaluates_each_system_prompt_with_one_token(fake: FakeOllama) -> None:
    llm = OllamaLLM(config(fake.host, num_ctx=4096))

    llm.warmup(["You are terse.", "Reply in JSON."])

    load, first, second = fake.chat_requests()
    assert load["messages"] == []
    assert [m["content"] for m in first["messages"]] == ["You are terse.", "Hi"]
    assert second["messages"][0] == {"role": "system", "content": "Reply in JSON."}
    assert first["options"]["num_predict"] == 1
    assert first["options"]["num_ctx"] == 4096

    llm.warmup("Be brief.")  # a lone string is one prompt, not one per character
    assert len(fake.chat_requests()) == 5


def test_available_reports_server_and_model(fake: FakeOllama, dead_host: str) -> None:
    assert OllamaLLM(config(fake.host)).available() == (
        True,
        f"Ollama at {fake.host} has llama3.2:3b",
    )
    # "qwen2.5" is listed as "qwen2.5:latest".
    assert OllamaLLM(config(fake.host, ollama_model="qwen2.5")).available()[0]
    assert OllamaLLM(config(fake.host, ollama_model="phi3")).available() == (
        False,
        f"Ollama at {fake.host} has no model phi3",
    )
    assert OllamaLLM(config(dead_host)).available() == (False, f"no Ollama server at {dead_host}")
    assert fake.requests[0].path == "/api/tags"


def test_available_gives_up_quickly_on_a_server_that_hangs(silent_host: str) -> None:
    start = time.perf_counter()
    ok, reason = OllamaLLM(config(silent_host)).available(timeout=0.3)
    elapsed = time.perf_counter() - start

    assert not ok
    assert reason == f"Ollama at {silent_host} did not answer within 0.3 s"
    assert elapsed < 1.0


def test_auto_picks_ollama_when_it_has_the_model(fake: FakeOllama) -> None:
    llm, note = select_llm(config(fake.host, backend="auto"))

    assert isinstance(llm, OllamaLLM)
    assert llm.name == "ollama:llama3.2:3b"
    assert note == f"Using Ollama (llama3.2:3b) at {fake.host}: it is running and has the model"


def _embedded_config(host: str, **changes) -> LlmConfig:
    """Auto-selection config whose embedded model is the tiny one (resolving it is instant)."""
    models = pytest.importorskip("voice_agent.models", reason="voice_agent/models.py not there yet")
    try:
        models.resolve("llm", "smollm2-135m")
    except ModelMissingError as exc:
        pytest.skip(f"SmolLM2 not installed: {exc}")
    return config(host, backend="auto", model="smollm2-135m", **changes)


def test_auto_falls_back_to_embedded_when_no_server(dead_host: str) -> None:
    cfg = _embedded_config(dead_host)

    start = time.perf_counter()
    llm, note = select_llm(cfg)
    elapsed = time.perf_counter() - start

    assert llm.name == "llamacpp:smollm2-135m"
    assert note == f"Using embedded llama.cpp (smollm2-135m): no Ollama server at {dead_host}"
    assert elapsed < 1.0  # the probe must not slow down start-up


def test_auto_falls_back_to_embedded_when_ollama_lacks_the_model(fake: FakeOllama) -> None:
    llm, note = select_llm(_embedded_config(fake.host, ollama_model="phi3"))

    assert llm.name == "llamacpp:smollm2-135m"
    assert note.endswith(f"Ollama at {fake.host} has no model phi3")


def test_auto_with_nothing_usable_says_both_problems(dead_host: str) -> None:
    pytest.importorskip("voice_agent.models", reason="voice_agent/models.py not there yet")
    cfg = config(dead_host, backend="auto", model="/nonexistent/model.gguf")

    with pytest.raises(ModelMissingError) as err:
        select_llm(cfg)

    assert f"no Ollama server at {dead_host}" in str(err.value)
    assert "\n" not in str(err.value)


def test_explicit_ollama_without_a_server_fails_at_start(dead_host: str) -> None:
    with pytest.raises(UserError) as err:
        select_llm(config(dead_host, backend="ollama"))

    assert str(err.value) == (
        f"llm.backend is ollama, but no Ollama server at {dead_host}: "
        "start it with `ollama serve`, or set llm.backend to llamacpp"
    )


def test_explicit_ollama_without_the_model_says_to_pull_it(fake: FakeOllama) -> None:
    with pytest.raises(UserError, match=r"run `ollama pull phi3`$"):
        select_llm(config(fake.host, backend="ollama", ollama_model="phi3"))


def test_explicit_ollama_with_the_model(fake: FakeOllama) -> None:
    llm, note = select_llm(config(fake.host, backend="ollama"))

    assert isinstance(llm, OllamaLLM)
    assert note == f"Using Ollama (llama3.2:3b) at {fake.host}: llm.backend is ollama"
