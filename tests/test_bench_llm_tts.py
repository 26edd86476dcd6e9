"""The LLM and TTS benchmarks' scoring and timing, on hand-made answers (no model loads)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fake_ollama import FakeOllama

from benchmarks import llm_bench, tts_bench
from benchmarks.llm_bench import (
    StreamTiming,
    answer_is_right,
    is_correct,
    load_jsonl,
    score_tool_call,
    time_stream,
    well_formed,
)
from voice_agent.models import ModelStatus
from voice_agent.tts.base import Speech

TOKYO = {"text": "weather in tokyo", "tool": "get_weather", "arguments": {"city": "Tokyo"}}
TIMER = {"text": "timer for 10 minutes", "tool": "set_timer", "arguments": {"minutes": 10}}
NEW_YORK = {
    "text": "time in new york",
    "tool": "get_time",
    "arguments": {"city": ["New York", "New York City", "NYC"]},
}


class FakeLLM:
    """Answers every request with the same text, in a few pieces."""

    name = "fake"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict] = []

    def stream_chat(self, messages, **options) -> Iterator[str]:
        self.requests.append({"messages": messages, **options})
        for start in range(0, len(self.reply), 7):
            yield self.reply[start : start + 7]

    def warmup(self, system_prompts=()) -> None:
        pass


def score(reply: str, item: dict) -> tuple[bool, bool]:
    result = score_tool_call(FakeLLM(reply), item)
    assert result["raw"] == reply
    return result["valid"], result["correct"]


# --- tool-call JSON: valid (parses, right shape) vs correct (right tool and arguments) ------


@pytest.mark.parametrize(
    "reply",
    [
        '{"tool": "get_weather", "arguments": {"city": "Tokyo"}}',
        '```json\n{"tool": "get_weather", "arguments": {"city": "Tokyo"}}\n```',
        'Sure! Here is the call: {"tool": "get_weather", "arguments": {"city": "tokyo"}} Enjoy.',
        '{"tool":"get_weather","arguments":{"city":" Tokyo "}}',
    ],
)
def test_a_right_call_counts_wrapped_in_fences_or_prose_and_in_any_case(reply):
    assert score(reply, TOKYO) == (True, True)


@pytest.mark.parametrize(
    "reply",
    [
        "It is sunny in Tokyo.",  # no JSON at all
        '{"tool": "get_weather", "arguments": {"city": "Tokyo"}',  # unclosed
        "{'tool': 'get_weather', 'arguments': {'city': 'Tokyo'}}",  # not JSON quotes
        '{"tool": "get_weather"}',  # arguments missing
        '{"tool": "get_weather", "arguments": {}}',  # the city missing
        '{"tool": "get_weather", "arguments": {"city": "Tokyo", "days": 1}}',  # unknown argument
        '{"tool": "get_weather", "arguments": {"city": ["Tokyo"]}}',  # a list, not a string
        '{"tool": "get_weather", "arguments": "Tokyo"}',  # arguments not an object
        '{"tool": "weather", "arguments": {"city": "Tokyo"}}',  # no such tool
        '{"name": "get_weather", "arguments": {"city": "Tokyo"}}',  # "name", not "tool"
        '{"tool": "get_weather", "arguments": {"city": "Tokyo"}, "reason": "asked"}',
        '[{"tool": "get_weather", "arguments": {"city": "Tokyo"}}] {"x": 1}',  # two objects
    ],
)
def test_malformed_calls_are_neither_valid_nor_correct(reply):
    assert score(reply, TOKYO) == (False, False)


def test_a_well_formed_call_with_the_wrong_city_or_tool_is_valid_but_not_correct():
    assert score('{"tool": "get_weather", "arguments": {"city": "Kyoto"}}', TOKYO) == (True, False)
    assert score('{"tool": "get_time", "arguments": {"city": "Tokyo"}}', TOKYO) == (True, False)


def test_numbers_must_be_json_numbers_and_compare_by_value():
    assert score('{"tool": "set_timer", "arguments": {"minutes": 10.0}}', TIMER) == (True, True)
    assert score('{"tool": "set_timer", "arguments": {"minutes": 600}}', TIMER) == (True, False)
    assert score('{"tool": "set_timer", "arguments": {"minutes": "10"}}', TIMER) == (False, False)
    assert score('{"tool": "set_timer", "arguments": {"minutes": true}}', TIMER) == (False, False)


def test_any_accepted_spelling_is_correct():
    for city in ("New York", "nyc", "New York City"):
        call = {"tool": "get_time", "arguments": {"city": city}}
        assert is_correct(call, NEW_YORK)
    assert not is_correct({"tool": "get_time", "arguments": {"city": "York"}}, NEW_YORK)


def test_the_call_is_asked_as_the_app_asks_json_prompt_only_and_greedy():
    llm = FakeLLM('{"tool": "get_weather", "arguments": {"city": "Tokyo"}}')
    score_tool_call(llm, TOKYO)

    (request,) = llm.requests
    system, user = request["messages"]
    assert user == {"role": "user", "content": "weather in tokyo"}
    assert all(f"- {tool}: {{" in system["content"] for tool in llm_bench.TOOLS)
    assert request["temperature"] == 0.0
    assert "response_format" not in request and "grammar" not in request


# --- timing -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def timed_stream(clock: FakeClock, delays: list[float]) -> Iterator[str]:
    """One piece after each delay (seconds); the first delay is the time to first token."""
    for delay in delays:
        clock.now += delay
        yield "x"


def test_ttft_and_tokens_per_second_from_a_timed_stream():
    clock = FakeClock()
    timing = time_stream(timed_stream(clock, [0.25, 0.02, 0.02, 0.04, 0.02]), clock)

    assert timing.ttft_s == pytest.approx(0.25)
    assert timing.pieces == 5
    assert timing.decode_s == pytest.approx(0.10)
    assert timing.tokens_per_s == pytest.approx(40.0)  # 4 pieces after the first in 0.1 s
    assert timing.text == "xxxxx"


def test_streams_too_short_to_have_a_rate():
    clock = FakeClock()
    empty = time_stream(timed_stream(clock, []), clock)
    single = time_stream(timed_stream(clock, [0.3]), clock)

    assert empty == StreamTiming("", 0, None, 0.0)
    assert single.ttft_s == pytest.approx(0.3) and single.tokens_per_s is None


def test_summary_takes_medians_and_counts_only_graded_answers():
    def answer(text: str, ttft: float, rate: float) -> StreamTiming:
        return StreamTiming(text, 11, ttft, 10 / rate)

    prompts = [{"text": "a", "expect": "Canberra"}, {"text": "b"}, {"text": "c", "expect": "8"}]
    answers = [answer("Canberra.", 0.1, 40), answer("Sleep.", 0.3, 50), answer("Six.", 0.2, 30)]
    calls = [
        {"valid": True, "correct": True, "ms": 500.0, "raw": "{}"},
        {"valid": True, "correct": False, "ms": 700.0, "raw": "{}"},
        {"valid": False, "correct": False, "ms": 900.0, "raw": "no"},
        {"valid": True, "correct": True, "ms": 600.0, "raw": "{}"},
    ]
    items = [TOKYO, TIMER, TOKYO, TIMER]
    result = llm_bench.summarize(answer("Hi", 0.9, 45), prompts, answers, items, calls)

    assert result["ttft_cold_ms"] == pytest.approx(900)
    assert result["ttft_p50_ms"] == pytest.approx(200)
    assert result["ttft_p95_ms"] == pytest.approx(290)
    assert result["tokens_per_s"] == pytest.approx(40)
    assert result["answers_correct"] == "1/2"
    assert result["answer_failures"] == [{"text": "c", "answer": "Six."}]
    assert result["tool_json_valid"] == pytest.approx(0.75)
    assert result["tool_json_correct"] == pytest.approx(0.5)
    assert result["tool_call_p50_ms"] == pytest.approx(650)
    assert [f["valid"] for f in result["tool_failures"]] == [True, False]
    json.dumps(result)  # the runner writes it as JSON


def test_expected_answers_match_whole_words_in_any_case():
    assert answer_is_right("It was William Shakespeare.", "shakespeare")
    assert answer_is_right("A spider has 8 legs.", ["eight", "8"])
    assert not answer_is_right("Gold is shiny because...", "Au")  # not inside "because"
    assert answer_is_right("Its symbol is Au.", "Au")
    assert answer_is_right("anything", None) is None


# --- the run, without a real model ------------------------------------------------------


def test_a_run_measures_ollama_when_it_answers_and_skips_absent_embedded_models(monkeypatch):
    monkeypatch.setattr(
        llm_bench.models,
        "status",
        lambda kind, name: ModelStatus(kind, name, False, None, f"{name} is not assembled yet"),
    )
    reply = '{"tool": "get_weather", "arguments": {"city": "Tokyo"}}'
    with FakeOllama(models=["llama3.2:3b"], reply=reply) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        result = llm_bench.run(quick=True)
        chats = [r.body for r in fake.requests if r.path == "/api/chat"]

    assert result["skipped"] == [
        {
            "backend": "llamacpp",
            "model": "qwen2.5-coder-1.5b",
            "reason": "qwen2.5-coder-1.5b is not assembled yet",
        }
    ]
    (measured,) = result["models"]
    assert (measured["backend"], measured["model"], measured["profile"]) == (
        "ollama",
        "llama3.2:3b",
        "balanced",
    )
    assert measured["ttft_cold_ms"] > 0 and measured["tokens_per_s"] > 0
    assert measured["tool_json_valid"] == 1.0
    assert measured["tool_json_correct"] == pytest.approx(1 / 5)  # only the Tokyo item
    # load, cold request, warm-up (load + the system prompt), 3 prompts, 5 tool calls
    assert len(chats) == 1 + 1 + 2 + 3 + 5
    assert (
        chats[0]["messages"] == []
        and chats[1]["messages"][1]["content"] == "hello, can you hear me?"
    )
    json.dumps(result)


def test_an_unreachable_ollama_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setattr(llm_bench, "embedded_models", lambda settings, quick: [])
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # discard port: refused at once

    result = llm_bench.run(quick=True)

    assert result["models"] == []
    assert result["skipped"] == [
        {
            "backend": "ollama",
            "model": "llama3.2:3b",
            "reason": "no Ollama server at http://127.0.0.1:9",
        }
    ]


# --- which models and engines -----------------------------------------------------------


def test_quick_runs_the_default_model_and_full_runs_every_known_one():
    settings = llm_bench.llm_settings()
    quick = llm_bench.embedded_models(settings, quick=True)
    full = llm_bench.embedded_models(settings, quick=False)

    assert [(p, c.model) for p, c in quick] == [("balanced", "qwen2.5-coder-1.5b")]
    assert {c.model for _, c in full} == set(llm_bench.models.known("llm"))
    assert dict((c.model, p) for p, c in full)["qwen2.5-coder-1.5b"] == "balanced"
    assert len(llm_bench.ollama_models(settings, quick=True)) == 1


def test_tts_engines_are_one_per_distinct_profile_setting():
    configs = tts_bench.engine_configs()
    assert [(p, c.engine) for p, c in configs] == [
        ("speed", "pyttsx3"),
        ("balanced", "pyttsx3"),
        ("quality", "piper"),
    ]
    # benchmarks.report finds each profile's engine by this label
    assert [tts_bench.describe(c) for _, c in configs] == [
        "pyttsx3 rate 220",
        "pyttsx3 rate 185",
        "piper en_US-joe-medium length_scale 1.0",
    ]


def test_tts_real_time_factor_is_total_synthesis_over_total_audio():
    one_second = Speech(b"\0\0" * 22050, 22050)
    assert tts_bench.seconds_of(one_second) == pytest.approx(1.0)
    result = tts_bench.summarize([0.1, 0.3, 0.2], [2.0, 3.0, 5.0])
    assert result["first_audio_p50_ms"] == pytest.approx(200)
    assert result["first_audio_p95_ms"] == pytest.approx(290)
    assert result["rtf"] == pytest.approx(0.06)


# --- data files -------------------------------------------------------------------------


def test_prompts_are_well_formed():
    prompts = load_jsonl(llm_bench.PROMPTS)
    assert 6 <= len(prompts) <= 12
    for prompt in prompts:
        assert set(prompt) <= {"text", "expect"} and prompt["text"].strip()
        expect = prompt.get("expect", [])
        assert all(
            isinstance(e, str) and e for e in ([expect] if isinstance(expect, str) else expect)
        )
    assert sum("expect" in p for p in prompts[: llm_bench.QUICK_PROMPTS]) >= 2


def test_tool_calls_are_well_formed_and_the_quick_set_covers_every_tool():
    items = load_jsonl(llm_bench.TOOL_CALLS)
    assert len(items) >= 12
    assert len({i["text"].lower() for i in items}) == len(items)
    for item in items:
        assert set(item) == {"text", "tool", "arguments"}
        # Every accepted answer (first spelling of each argument) must be well formed.
        first = {k: v[0] if isinstance(v, list) else v for k, v in item["arguments"].items()}
        call = {"tool": item["tool"], "arguments": first}
        assert well_formed(call) and is_correct(call, item), item
    quick = items[: llm_bench.QUICK_TOOL_CALLS]
    assert {i["tool"] for i in quick} == set(llm_bench.TOOLS)
