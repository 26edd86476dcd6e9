"""The whole text pipeline: `ask` gives the right agent and a correct answer on every profile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from voice_agent.app import build
from voice_agent.config import PROFILE_NAMES, load_settings
from voice_agent.events import Routed, Token, TurnFinished


def tokyo_hour_now() -> set[str]:
    """The hour in Tokyo as the clock says it, allowing for a turn that crosses the hour."""
    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    hours = {now.hour, (now.hour + 1) % 24}
    return {f"{(h % 12) or 12}:" for h in hours}


def check_notes_listing(answer: str) -> bool:
    return "groceries" in answer and "ideas" in answer


CASES = [
    ("what is 25 times 7", "utility", lambda a: "175" in a),
    ("calculate a 15% tip on $45.50", "utility", lambda a: "$6.83" in a and "$52.33" in a),
    ("convert 5 miles to kilometers", "utility", lambda a: "8.05" in a and "kilomet" in a),
    (
        "what time is it in Tokyo",
        "time",
        lambda a: "Tokyo" in a and any(h in a for h in tokyo_hour_now()),
    ),
    ("set a timer for 10 minutes", "time", lambda a: "10 minute" in a),
    ("what's the weather in London", "weather", lambda a: "London" in a),
    ("list the files in my notes folder", "files", check_notes_listing),
    ("what can you do", "system", lambda a: "weather" in a and "timers" in a and "files" in a),
    ("who wrote Romeo and Juliet", "general", lambda a: "Shakespeare" in a),
]


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def assistant(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    notes = root / "files" / "notes"
    notes.mkdir(parents=True)
    (notes / "groceries.txt").write_text("milk\neggs\n")
    (notes / "ideas.md").write_text("a podcast about birds\n")
    settings = load_settings(
        request.param,
        [
            f"agents.files_root={root / 'files'}",
            f"store.path={root / 'va.db'}",
            "llm.temperature=0",
        ],
    )
    assistant = build(settings)
    yield assistant
    assistant.close()


@pytest.mark.slow
@pytest.mark.parametrize(("text", "agent", "correct"), CASES, ids=[c[0] for c in CASES])
def test_ask_routes_and_answers_correctly_on_every_profile(assistant, text, agent, correct):
    record = assistant.ask(text)
    assert record.agent == agent, record.first_step.decision.reason
    assert correct(record.answer), record.answer
    assert record.error is None
    assert record.profile == assistant.settings.name


@pytest.mark.slow
def test_general_uses_the_conversation_as_context(assistant):
    assistant.ask("my name is Ada and my cat is called Pixel")
    follow_up = assistant.ask("what is my cat called?")
    assert follow_up.agent == "general"
    assert "Pixel" in follow_up.answer, follow_up.answer
    assert follow_up.llm and follow_up.llm.startswith("llamacpp:")


def test_turn_streams_routed_tokens_finished_and_stores_the_record(tmp_path):
    settings = load_settings("speed", [f"store.path={tmp_path / 'db.sqlite'}"])
    assistant = build(settings)
    events = list(assistant.turn("what is 12 divided by 4"))
    assert isinstance(events[0], Routed) and events[0].decision.agent == "utility"
    assert any(isinstance(e, Token) for e in events) and isinstance(events[-1], TurnFinished)
    record = events[-1].turn
    assert "3" in record.answer and record.llm is None, "a skill answers without the LLM"
    assert {"route_ms", "first_token_ms", "agent_ms", "total_ms"} <= set(record.timings)
    assert record.steps[0].result.value == 3, "the calculator's number, for later steps"
    assert assistant.store.recent_turns(1)[0]["answer"] == record.answer
    assert assistant.ask("repeat that").answer == record.answer
    assistant.close()


def test_which_question_was_asked_first_last_or_before_that(tmp_path):
    settings = load_settings("speed", [f"store.path={tmp_path / 'db.sqlite'}", "llm.warmup=false"])
    assistant = build(settings)
    for question in ("what is 2 plus 2", "what time is it in Lima", "what is 3 times 3"):
        assistant.ask(question)
    assert assistant.ask("what did I ask you first").answer == 'You asked: "what is 2 plus 2"'
    assert assistant.ask("what was my last question").answer == (
        'You asked: "what did I ask you first"'
    )
    assert assistant.ask("what was my third question").answer == 'You asked: "what is 3 times 3"'
    assistant.close()


def test_the_clock_counts_to_a_date_the_user_told_memory(tmp_path):
    settings = load_settings("speed", [f"store.path={tmp_path / 'db.sqlite'}", "llm.warmup=false"])
    assistant = build(settings)
    assert assistant.ask("remember that my sister's birthday is on June 3rd").agent == "memory"
    turn = assistant.ask("how many days until my sister's birthday")
    assistant.close()
    assert turn.agent == "time" and "days until your sister's birthday" in turn.answer


def test_a_relative_date_told_to_memory_is_of_the_day_it_was_said(tmp_path):
    """Told "in 3 days" yesterday: 2 days left today (its fact is dated a day back here)."""
    settings = load_settings("speed", [f"store.path={tmp_path / 'db.sqlite'}", "llm.warmup=false"])
    assistant = build(settings)
    assistant.ask("remember that my dentist appointment is in 3 days")
    assert (
        "3 days until your dentist appointment"
        in assistant.ask("how many days until my dentist appointment").answer
    )
    assistant.store.execute("UPDATE memory_facts SET created_at = created_at - 86400")
    assert (
        "2 days until your dentist appointment"
        in assistant.ask("how many days until my dentist appointment").answer
    )
    assistant.ask("remember that my dentist appointment is in 3 days")  # said again today
    turn = assistant.ask("how many days until my dentist appointment")
    assistant.close()
    assert "3 days until your dentist appointment" in turn.answer


def test_switching_profile_by_voice(tmp_path):
    settings = load_settings("balanced", [f"store.path={tmp_path / 'db.sqlite'}"])
    assistant = build(settings)
    record = assistant.ask("switch to the speed profile")
    assert record.agent == "system" and "speed" in record.answer
    assert assistant.settings.name == "speed" and assistant.router.strategy == "rules_only"
    assert "already" in assistant.ask("use the speed profile").answer
    assistant.close()


@pytest.mark.slow
def test_ask_json_prints_the_full_turn_record(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "voice_agent",
            "ask",
            "calculate a 15% tip on $45.50",
            "--profile",
            "speed",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    record = json.loads(out.stdout)
    assert {"text", "agent", "confidence", "strategy", "answer", "timings"} <= set(record)
    assert record["agent"] == "utility" and "$52.33" in record["answer"]
    assert re.fullmatch(r"\d+(\.\d+)?", str(record["timings"]["total_ms"]))
