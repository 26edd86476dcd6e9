"""Reminders: what and when read from the words, kept with the timers, said when due."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from stages import ScriptedLLM
from test_clock import NOW, Announcements, open_store, pending, say, skill_at

from voice_agent.agents.registry import load_agents
from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.routing.rules import RuleRouter
from voice_agent.skills.clock import ClockSkill, TimerStore
from voice_agent.skills.clock.reminders import read_reminder, reminder_message
from voice_agent.skills.clock.timers import MIGRATIONS, TIMERS_SCHEMA
from voice_agent.skills.clock.words import normalize
from voice_agent.store import Store

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def store(tmp_path: Path):
    with open_store(tmp_path / "va.db") as s:
        yield s


LOCAL = NOW.astimezone(LONDON)  # Saturday, November 21, 2026, 9:05 AM


def due(text: str) -> tuple[str, str | None]:
    reminder = read_reminder(normalize(text), LOCAL)
    return reminder.task, reminder.due and reminder.due.strftime("%a %d %H:%M")


@pytest.mark.parametrize(
    ("text", "task", "when"),
    [
        ("Remind me to feed the cat at 6 pm.", "to feed the cat", "Sat 21 18:00"),
        ("remind me at half past two to move the car", "to move the car", "Sat 21 14:30"),
        ("Remind me in forty five minutes to take the bread out", "to take the bread out",
         "Sat 21 09:50"),
        ("can you remind me to ring the garage in an hour and a half", "to ring the garage",
         "Sat 21 10:35"),
        ("remind me tomorrow evening about the bins", "about the bins", "Sun 22 18:00"),
        ("remind me on Monday to renew my passport", "to renew my passport", "Mon 23 09:00"),
        ("remind me next Thursday at 4 that the boiler man is coming",
         "that the boiler man is coming", "Thu 26 16:00"),
        ("set a reminder for December 3rd at 10 am to send the invoice", "to send the invoice",
         "Thu 03 10:00"),
        ("remind me of the school play tonight", "about the school play", "Sat 21 20:00"),
        ("don't let me forget to water the tomatoes at noon", "to water the tomatoes",
         "Sat 21 12:00"),
        # a number in the task is not a time, and a bare "at 7" is in the day
        ("remind me to buy 3 lemons at 7", "to buy 3 lemons", "Sat 21 19:00"),
        ("remind me to check the oven", "to check the oven", None),
    ],
)  # fmt: skip
def test_what_and_when_are_read_from_the_words(text, task, when):
    assert due(text) == (task, when)


def test_a_time_already_past_today_and_a_repeating_one_are_flagged():
    assert read_reminder(normalize("remind me today at 8 am to stretch"), LOCAL).passed
    assert read_reminder(normalize("remind me every morning at 8 to stretch"), LOCAL).repeating


def test_a_reminder_is_set_listed_asked_about_and_cancelled(store: Store):
    clock = skill_at(store)
    assert say(clock, "remind me to call my brother at 5 pm") == (
        "Okay, I'll remind you to call your brother at 5:00 PM today."
    )
    assert say(clock, "remind me in 20 minutes to check the laundry") == (
        "Okay, I'll remind you to check the laundry in 20 minutes, at 9:25 AM."
    )
    assert say(clock, "what reminders do I have") == (
        "You have 2 reminders: a reminder to check the laundry at 9:25 AM today and a "
        "reminder to call your brother at 5:00 PM today."
    )
    assert say(clock, "when is my reminder to call my brother") == (
        "Your reminder to call your brother is set for 5:00 PM today."
    )
    assert say(clock, "cancel the laundry reminder") == (
        "Cancelled your reminder to check the laundry at 9:25 AM today."
    )
    [left] = pending(store)
    assert (left.kind, left.label) == ("reminder", "to call my brother")


@pytest.mark.parametrize(
    ("said", "answer", "kept"),
    [
        (
            "Remind me to text Jake at 5 pm.",
            "Okay, I'll remind you to text Jake at 5:00 PM today.",
            "to text Jake",
        ),
        (
            "Remind me at 6 pm to call Dr. Patel when I'm home.",
            "Okay, I'll remind you to call Dr Patel when you're home at 6:00 PM today.",
            "to call Dr Patel when I'm home",
        ),
        (
            "Set a reminder for 6 pm to ring Aunt Rose.",
            "Okay, I'll remind you to ring Aunt Rose at 6:00 PM today.",
            "to ring Aunt Rose",
        ),
        (
            "Remind me at 5 pm. Take the pills.",  # a sentence's first word is no name
            "Okay, I'll remind you to take the pills at 5:00 PM today.",
            "to take the pills",
        ),
    ],
)
def test_a_reminder_keeps_the_names_as_they_were_written(store: Store, said, answer, kept):
    clock = skill_at(store)
    assert say(clock, said) == answer
    [reminder] = pending(store)
    assert reminder.label == kept
    name = kept.split()[-1].lower()  # heard again in lower case: still found
    assert say(clock, f"cancel the {name} reminder").startswith("Cancelled your reminder")
    assert pending(store) == []


def test_a_task_with_command_words_is_still_a_reminder(store: Store):
    clock = skill_at(store)
    say(clock, "set a timer for 10 minutes")
    assert say(clock, "remind me to cancel the gym membership on friday") == (
        "Okay, I'll remind you to cancel the gym membership at 9:00 AM on Friday, November 27."
    )
    assert {t.kind for t in pending(store)} == {"timer", "reminder"}


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("remind me every day at 9 to take my vitamins", "I can only set one-time reminders"),
        ("remind me today at 7 am to walk the dog", "7:00 AM today has already passed."),
        ("remind me at 3", "What should I remind you about?"),
        ("remind me to pay the window cleaner", "When should I remind you?"),
    ],
)
def test_what_cannot_be_set_is_said_and_nothing_is_kept(store: Store, text, answer):
    assert say(skill_at(store), text).startswith(answer)
    assert pending(store) == []


def test_the_time_asked_for_completes_the_reminder(tmp_path: Path):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    asked = app.ask("remind me to put the bins out")
    answered = app.ask("in two hours")
    app.close()
    assert asked.answer.startswith("When should I remind you?")
    assert [s.agent for s in answered.steps] == ["time"] and answered.llm is None
    assert answered.answer.startswith("Okay, I'll remind you to put the bins out in 2 hours")


def test_a_reminder_asked_for_after_a_question_is_not_its_answer(tmp_path: Path):
    """Asked "When should I remind you?", a user who asks for another reminder gets it set,
    not glued to the first as its time."""
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    assert app.ask("remind me to buy bread").steps[0].result.status == "ask"
    turn = app.ask("Remind me tomorrow morning to call the dentist.")
    app.close()
    assert turn.answer == "Okay, I'll remind you to call the dentist at 9:00 AM tomorrow."


def test_a_reminder_named_without_a_verb_is_told_not_set_again(store: Store):
    """ "Can solve the reminder about the oven" (Whisper's "cancel"): no verb it knows, so
    the reminder is described, and nothing new is asked for or set."""
    clock = skill_at(store)
    say(clock, "remind me in ten minutes to check the oven")
    assert say(clock, "Can solve the reminder about the oven.") == (
        "You have a reminder to check the oven at 9:15 AM today."
    )
    assert len(pending(store)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "remind me to pick up the dry cleaning and the parcel at 4 pm",
        "remind me to email Jo, and ask about the keys, tomorrow at nine",
        "set a timer for 5 minutes and another for 10 minutes",
        "set a timer for a minute and a half",
    ],
)
def test_a_reminder_or_timers_with_and_in_them_are_one_step_and_no_plan(tmp_path: Path, text):
    app = build(load_settings("balanced", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM()
    turn = app.ask(text)
    app.close()
    assert [s.agent for s in turn.steps] == ["time"] and llm.calls == 0
    assert turn.answer.startswith(("Okay, I'll remind you to ", "2 timers set", "Timer set"))


def test_a_due_reminder_is_said(store: Store):
    heard = Announcements()
    clock = ClockSkill(store, "UTC", announce=heard)
    (service,) = clock.services()
    service.start()
    try:
        due_at = datetime.now(timezone.utc) + timedelta(seconds=0.2)
        TimerStore(store).add("reminder", "to call my mom", due_at, None)
        service.wake()
        started = time.monotonic()
        assert heard.wait_for(1) == ["Reminder: call your mom."]
        assert time.monotonic() - started < 3
    finally:
        service.stop()
    assert reminder_message("about the dentist") == "Reminder about the dentist."


def test_timers_kept_before_reminders_existed_are_kept(tmp_path: Path):
    path = tmp_path / "va.db"
    with Store(path) as store:
        store.migrate("clock", (TIMERS_SCHEMA,))  # a database from before reminders
        old = TimerStore(store).add("alarm", "gym", NOW + timedelta(hours=1), None)
    with open_store(path) as store:
        clock = skill_at(store)
        say(clock, "remind me to pack my kit at 6 pm")
        kinds = [(t.kind, t.label) for t in pending(store)]
    assert kinds == [("alarm", "gym"), ("reminder", "to pack my kit")]
    assert old.id == pending(open_store(path))[0].id
    assert MIGRATIONS[-1] != TIMERS_SCHEMA


@pytest.fixture(scope="module")
def route():
    return RuleRouter(load_agents()).route


@pytest.mark.parametrize(
    ("text", "reminder"),
    [
        ("remind me to phone the bank at ten", True),
        ("could you set up a reminder for the vet on tuesday", True),
        ("delete all my reminders", True),
        ("do I have any reminders tomorrow", True),
        ("remind me what my wifi password is", False),
        ("remind me why the sky is blue", False),
    ],
)
def test_reminders_go_to_the_clock_and_questions_do_not(route, text, reminder):
    assert (route(text).agent == "time") == reminder
