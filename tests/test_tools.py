"""The general agent calls the skills as tools: each call a step, the answer from their facts."""

from __future__ import annotations

import json

import pytest
from fake_ollama import FakeOllama
from stages import ScriptedLLM

from benchmarks.open_meteo import OpenMeteoServer
from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.llm.tools import ToolCall, about_the_question, fan_out


@pytest.fixture(scope="module")
def open_meteo():
    with OpenMeteoServer() as server:
        yield server


def make_app(tmp_path, open_meteo, *sets):
    settings = [f"store.path={tmp_path / 'db'}", "llm.warmup=false", *open_meteo.settings, *sets]
    return build(load_settings("speed", settings))


def system_prompt(messages) -> str:
    return next(m["content"] for m in messages if m["role"] == "system")


def question(messages) -> str:
    return messages[-1]["content"]


def test_a_comparison_asks_the_tool_once_per_alternative(tmp_path, open_meteo):
    app = make_app(tmp_path, open_meteo)
    app._llm = llm = ScriptedLLM(reply="Paris is warmer today, 15 degrees against 12 in London.")
    turn = app.ask("Is it warmer in London or in Paris today?")
    app.close()
    assert [(s.agent, s.text) for s in turn.steps] == [
        ("weather", "Is it warmer in London today?"),
        ("weather", "Is it warmer in Paris today?"),
        ("general", "Is it warmer in London or in Paris today?"),
    ]
    assert turn.steps[0].result.value["temperature"] != turn.steps[1].result.value["temperature"]
    prompt = question(llm.seen[-1])
    assert "London, England it's 12 degrees" in prompt and "Paris, France it's 15" in prompt
    assert "temperature: London 12, Paris 15; highest Paris, lowest London" in prompt
    assert turn.answer == llm.reply, "tool results are facts for the answer, not spoken"


def test_the_embedded_model_chooses_calls_by_json_and_bad_calls_are_dropped(tmp_path, open_meteo):
    app = make_app(tmp_path, open_meteo)
    calls = {
        "calls": [
            {"tool": "weather", "request": "weather in Paris today"},
            {"tool": "weather", "request": "set a timer for 5 minutes"},  # not a weather request
            {"tool": "email", "request": "send it to Bob"},  # no such tool
        ]
    }
    app._llm = llm = ScriptedLLM(replies=[json.dumps(calls)], reply="Yes, Paris is warmer.")
    turn = app.ask("is it warmer in Paris than in London today?")
    app.close()
    assert [s.agent for s in turn.steps] == ["weather", "general"]
    assert "Reply with one JSON object only" in system_prompt(llm.seen[0])
    assert "Paris, France it's 15 degrees" in question(llm.seen[1])


def test_ollama_chooses_calls_through_its_tools_api(tmp_path, open_meteo, monkeypatch):
    with FakeOllama(
        models=["llama3.2:1b"],
        tool_calls={"weather": "what's the weather in Berlin"},
        reply="Berlin is colder than London today.",
    ) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        app = make_app(tmp_path, open_meteo, "llm.backend=ollama")
        turn = app.ask("is it colder in Berlin than in London today?")
        app.close()
    offered = next(r.body for r in fake.requests if r.body and r.body.get("tools"))
    function = offered["tools"][0]["function"]
    assert function["name"] == "weather" and function["parameters"]["required"] == ["request"]
    assert [s.agent for s in turn.steps] == ["weather", "general"]
    answer_request = fake.chat_requests()[-1]
    assert "Berlin, Germany it's 11 degrees" in answer_request["messages"][-1]["content"]
    assert turn.answer == "Berlin is colder than London today."


def test_no_tool_hint_means_no_extra_llm_call(tmp_path, open_meteo):
    app = make_app(tmp_path, open_meteo)
    app._llm = llm = ScriptedLLM()
    app.ask("what is the capital of France")
    app.close()
    assert llm.calls == 1, "a plain question costs one LLM call"


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("is it sunnier in New York, or in Los Angeles?", ["New York", "Los Angeles"]),
        ("is it later in Tokyo or Sydney right now", ["Tokyo", "Sydney"]),
        ("what is the capital of France", []),
    ],
)
def test_fan_out_asks_once_per_alternative(question, asked):
    found = fan_out(question)
    assert [about for about, _ in found] == asked
    for place, one in found:
        assert place in one and " or " not in one


def test_an_explanation_is_answered_from_knowledge_without_choosing_tools(tmp_path, open_meteo):
    app = make_app(tmp_path, open_meteo)
    app._llm = llm = ScriptedLLM(reply="Rain forms when water vapour condenses into drops.")
    turn = app.ask("explain how rain forms over the mountains")
    app.close()
    assert turn.steps[0].decision.scores["weather"] > 0, "the weather words were heard"
    assert [s.agent for s in turn.steps] == ["general"]
    assert llm.calls == 1, "no LLM call to choose a tool the answer does not need"


def test_a_comparison_the_weather_service_cannot_answer_is_not_guessed(tmp_path, open_meteo):
    app = make_app(tmp_path, open_meteo)
    app._llm = llm = ScriptedLLM(reply="It is warmer in Paris today.")
    open_meteo.refuse()
    try:
        turn = app.ask("is it warmer in Paris or in Rome today")
    finally:
        open_meteo.recover()
        app.close()
    assert turn.steps[0].agent == "weather" and turn.steps[0].result.status == "failed"
    assert llm.calls == 0, "the model is not asked to compare what nobody found"
    assert turn.answer.startswith("I can't reach the weather service")
    assert "Paris" in turn.answer and "warmer" not in turn.answer
    assert turn.timings["first_token_ms"] is not None


@pytest.mark.parametrize(
    ("question", "request_", "kept"),
    [
        ("is it easter time", "What time is it in New York City?", False),  # a made-up place
        ("should I take a coat to Oslo tomorrow", "Weather in Oslo, Norway tomorrow", True),
        ("should I take a coat to Oslo tomorrow", "weather in oslo tomorrow", True),
        ("is it later in Lima than here", "what time is it in lima", True),
        ("what's a good jazz album", "set a timer for 5 minutes", False),  # nothing in common
    ],
)
def test_a_tool_call_is_kept_only_when_it_is_about_the_question(question, request_, kept):
    assert about_the_question(ToolCall("weather", request_), question) is kept
