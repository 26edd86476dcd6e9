"""The clock skill and the timer service: fixed clocks for answers, real threads for timers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from voice_agent.errors import ConfigError
from voice_agent.skills.base import Request, Told
from voice_agent.skills.clock import (
    MIGRATIONS,
    ClockSkill,
    Timer,
    TimerService,
    TimerStore,
    normalize,
    parse_duration,
    parse_durations,
    spoken_time,
)
from voice_agent.skills.registry import NoConfig, find_skill
from voice_agent.store import Store

# Saturday, November 21, 2026, 09:05 UTC; London is on UTC in November.
NOW = datetime(2026, 11, 21, 9, 5, tzinfo=timezone.utc)


def open_store(path: Path) -> Store:
    """A store with the clock plugin's tables, as the app sets it up."""
    store = Store(path)
    store.migrate("clock", MIGRATIONS)
    return store


@pytest.fixture
def store(tmp_path: Path):
    with open_store(tmp_path / "va.db") as s:
        yield s


def pending(store: Store) -> list[Timer]:
    return TimerStore(store).pending()


TELL_ME = (
    "I don't know the date of your birthday. Tell me, for example: remember that my birthday "
    "is on June 3rd."
)


def say(clock: ClockSkill, text: str) -> str | None:
    """What the skill says to a typed request, or None when it is not for the clock."""
    result = clock.handle(Request(text))
    return None if result is None else result.spoken


def skill_at(
    store: Store, now: datetime = NOW, zone: str = "Europe/London", **kwargs
) -> ClockSkill:
    return ClockSkill(store, zone, now=lambda: now, **kwargs)


@pytest.fixture
def clock(store: Store) -> ClockSkill:
    return skill_at(store)


@pytest.fixture(scope="module")
def asker(tmp_path_factory: pytest.TempPathFactory):
    """One skill for the questions that store nothing (opening a store costs a few fsyncs)."""
    with open_store(tmp_path_factory.mktemp("clock") / "va.db") as shared:
        yield skill_at(shared)


class Announcements:
    """Collects announcements from the service thread; lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, message: str) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.messages) >= count, timeout), (
                f"expected {count} announcements, got {self.messages}"
            )
            return list(self.messages)


# -- the time here and elsewhere ------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What time is it?", "It's 9:05 AM."),
        ("what's the time", "It's 9:05 AM."),
        ("Tell me the time, please.", "It's 9:05 AM."),
        ("What's the date today?", "Today is Saturday, November 21, 2026."),
        ("what day is it", "Today is Saturday, November 21, 2026."),
        ("what's the time and date", "It's 9:05 AM on Saturday, November 21."),
        ("what year is it", "It's 2026."),
        ("what hour is it", "It's 9:05 AM."),
        ("is it lunch time", "It's 9:05 AM."),
    ],
)
def test_time_and_date_here(asker: ClockSkill, question: str, answer: str) -> None:
    assert say(asker, question) == answer


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What time is it in Tokyo?", "It's 6:05 PM in Tokyo, 9 hours ahead of you."),
        ("time in new york", "It's 4:05 AM in New York, 5 hours behind you."),
        ("what's the time in Sydney", "It's 8:05 PM in Sydney, 11 hours ahead of you."),
        (
            "what time is it in Kathmandu",
            "It's 2:50 PM in Kathmandu, 5 hours and 45 minutes ahead of you.",
        ),
        (
            "What time is it in Mumbai right now?",
            "It's 2:35 PM in Mumbai, 5 and a half hours ahead of you.",
        ),
        ("time in San Francisco", "It's 1:05 AM in San Francisco, 8 hours behind you."),
        ("what time is it in Munich", "It's 10:05 AM in Munich, 1 hour ahead of you."),
        ("What time is it in São Paulo?", "It's 6:05 AM in Sao Paulo, 3 hours behind you."),
        ("what time is it in Paris, France?", "It's 10:05 AM in Paris, 1 hour ahead of you."),
        ("What time is it in the UK?", "It's 9:05 AM in the UK."),
        ("what time is it in Dubai", "It's 1:05 PM in Dubai, 4 hours ahead of you."),
        ("what's the date in Sydney", "In Sydney it's Saturday, November 21."),
        # the hour, and the place before "time"; never the time here for a place named
        ("what's the hour in Tokyo", "It's 6:05 PM in Tokyo, 9 hours ahead of you."),
        ("what hour is it in Dubai", "It's 1:05 PM in Dubai, 4 hours ahead of you."),
        ("Tokyo time", "It's 6:05 PM in Tokyo, 9 hours ahead of you."),
        ("what's the New York time", "It's 4:05 AM in New York, 5 hours behind you."),
        ("is it late in Sydney", "It's 8:05 PM in Sydney, 11 hours ahead of you."),
    ],
)
def test_time_in_cities(asker: ClockSkill, question: str, answer: str) -> None:
    assert say(asker, question) == answer


def test_another_day_is_named(store: Store) -> None:
    evening = datetime(2026, 11, 21, 16, 14, tzinfo=timezone.utc)
    clock = skill_at(store, evening)
    assert say(clock, "what time is it in Tokyo") == (
        "It's 1:14 AM on Sunday in Tokyo, 9 hours ahead of you."
    )
    assert say(clock, "what's the date in Sydney") == "In Sydney it's Sunday, November 22."


def test_offsets_are_relative_to_the_configured_zone(store: Store) -> None:
    clock = skill_at(store, zone="America/New_York")
    assert say(clock, "what time is it") == "It's 4:05 AM."
    assert say(clock, "what time is it in Tokyo") == (
        "It's 6:05 PM in Tokyo, 14 hours ahead of you."
    )
    assert say(clock, "what time is it in Boston") == "It's 4:05 AM in Boston."


def test_unknown_and_ambiguous_places(asker: ClockSkill) -> None:
    assert say(asker, "what time is it in Atlantis") == "I don't know the time zone for Atlantis."
    assert say(asker, "what time is it in the US") == (
        "The US spans several time zones; ask me about a city, like New York or Los Angeles."
    )


def test_time_after_a_duration(asker: ClockSkill) -> None:
    assert say(asker, "what time will it be in 3 hours") == "In 3 hours it will be 12:05 PM."
    assert say(asker, "what time is it in twenty minutes") == ("In 20 minutes it will be 9:25 AM.")


def test_not_for_this_skill(asker: ClockSkill) -> None:
    assert say(asker, "what's the weather in Tokyo") is None
    assert say(asker, "how long to cook rice") is None


def test_bad_timezone_setting_is_a_config_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="agents.timezone: unknown time zone 'Mars/Olympus'"):
        ClockSkill(store, "Mars/Olympus")


# -- days until -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("how many days until Christmas", "There are 34 days until Christmas."),
        ("How long until new year?", "There are 41 days until New Year's Day."),
        ("how many days until christmas eve", "There are 33 days until Christmas Eve."),
        ("days until March 3rd", "There are 102 days until Wednesday, March 3, 2027."),
        (
            "how many days until the fifteenth of march",
            "There are 114 days until Monday, March 15, 2027.",
        ),
        ("how many days until 2027-01-15", "There are 55 days until Friday, January 15, 2027."),
        ("how many days until november 22", "Sunday, November 22 is tomorrow."),
        ("how many days until November 21st", "That's today."),
        ("how many days until Saturday", "That's today."),
        ("how many days until friday", "There are 6 days until Friday, November 27."),
        ("how many days until thanksgiving", "There are 5 days until Thanksgiving."),
        ("how many days until easter", "There are 127 days until Easter."),
        ("how many days until february 29", "There are 465 days until Tuesday, February 29, 2028."),
        ("how many days until 2026-01-01", "Thursday, January 1 was 324 days ago."),
        ("how many days until february 30", "There is no such date."),
        (
            "how many days until my birthday",
            TELL_ME,
        ),
    ],
)
def test_days_until(asker: ClockSkill, question: str, answer: str) -> None:
    assert say(asker, question) == answer


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("how many weeks until Christmas", "There are 4 weeks and 6 days until Christmas."),
        ("how many weeks until friday", "There are 6 days until Friday, November 27."),
        ("how many months until new year", "There is 1 month and 11 days until New Year's Day."),
        (
            "how many months are left until christmas",
            "There is 1 month and 4 days until Christmas.",
        ),
        (
            "how many years until 2030-01-01",
            "There are 3 years, 1 month and 11 days until Tuesday, January 1, 2030.",
        ),
        ("how many hours until christmas", "There are about 807 hours until Christmas."),
        ("how many hours until midnight", "It's 14 hours and 55 minutes until midnight."),
        ("how many minutes until noon", "It's 175 minutes until noon."),
        ("how long until 5 pm", "It's 7 hours and 55 minutes until 5:00 PM."),
        ("how long until six thirty", "It's 9 hours and 25 minutes until 6:30 PM."),
        ("how long until 7 am", "It's 21 hours and 55 minutes until 7:00 AM tomorrow."),
    ],
)
def test_how_long_until_in_the_unit_asked(asker: ClockSkill, question: str, answer: str) -> None:
    """It is 9:05 on Saturday, November 21: weeks and months are calendar spans of days,
    hours count to the day's start, and a time of day is its next occurrence."""
    assert say(asker, question) == answer


@pytest.mark.parametrize(
    "question", ["how many minutes until the pasta is done", "how many hours until my flight"]
)
def test_how_long_until_something_it_cannot_date_is_left_to_others(asker, question) -> None:
    assert say(asker, question) is None


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (
            "what day of the week was July 4th 1976",
            "Independence Day 1976 was on Sunday, July 4, 1976.",
        ),
        ("what's the date next Friday", "It's Friday, November 27."),
        ("what date is ninety days from today", "It's Friday, February 19, 2027."),
        ("what was the date 100 days ago", "It was Thursday, August 13."),
        ("what day was yesterday", "It was Friday, November 20."),
        ("what date was last monday", "It was Monday, November 16."),
        ("what day is christmas", "Christmas is on Friday, December 25."),
        (
            "how many days between march 1 and april 15",
            "There are 45 days between March 1, 2027 and April 15, 2027.",
        ),
        (
            "how many weeks are there between christmas and easter",
            "There are 13 weeks and 2 days between Christmas and Easter.",
        ),
        (
            "how many weeks between december 1 and december 5",
            "There are 4 days between December 1 and December 5.",
        ),
        ("when is christmas", "Christmas is on Friday, December 25."),
        ("when does easter fall next year", "Easter 2027 is on Sunday, March 28, 2027."),
        ("what's next tuesday", "It's Tuesday, November 24."),
        ("when is the first monday in march", "It's Monday, March 1, 2027."),
        ("what date is the last friday of november", "It's Friday, November 27."),
        ("what day is the second sunday in may 2027", "It's Sunday, May 9, 2027."),
        ("what day is the fifth monday in february", "There is no such date."),
        ("is 2028 a leap year", "Yes, 2028 is a leap year."),
        ("is 2100 a leap year", "No, 2100 is not a leap year."),
        ("when is the next leap year", "The next leap year is 2028."),
        (
            "what day of the week is my birthday",
            TELL_ME,
        ),
        ("what's the date", "Today is Saturday, November 21, 2026."),
        (
            "what's 3 hours and 20 minutes from now",
            "In 3 hours and 20 minutes it will be 12:25 PM.",
        ),
        ("what time will it be 45 minutes from now", "In 45 minutes it will be 9:50 AM."),
        (
            "what's the time difference between London and New York",
            "New York is 5 hours behind London.",
        ),
        ("time difference between london and lisbon", "London and Lisbon keep the same time."),
    ],
)
def test_calendar_questions(asker: ClockSkill, question: str, answer: str) -> None:
    """Saturday, November 21, 2026, 9:05 UTC."""
    assert say(asker, question) == answer


def test_the_users_own_dates_come_from_what_they_told_memory(store: Store) -> None:
    """A date the user told memory answers the clock: one said relative to its day
    ("tomorrow", "next Tuesday") is of the day it was said, in the user's time zone; a
    birthday is the next one from today."""
    told = {
        "my sister's birthday": [
            Told("my sister's birthday is on June third", NOW - timedelta(days=300))
        ],
        # Wednesday the 18th: the Tuesday after it
        "my dentist appointment": [
            Told("my dentist appointment is next Tuesday", NOW - timedelta(days=3))
        ],
        "my flu jab": [Told("my flu jab is tomorrow", NOW - timedelta(days=10))],
        "my haircut": [Told("my haircut is in 2 weeks", NOW)],
    }
    clock = skill_at(store, recall=lambda phrase: told.get(phrase, []))
    assert say(clock, "how many days until my sister's birthday") == (
        "There are 194 days until your sister's birthday."
    )
    assert say(clock, "what day of the week is my sister's birthday") == (
        "Your sister's birthday is on Thursday, June 3, 2027."
    )
    assert say(clock, "how many days until my dentist appointment") == (
        "There are 3 days until your dentist appointment."
    )
    assert say(clock, "how many days until my flu jab") == "Your flu jab was 9 days ago."
    assert say(clock, "how many days until my haircut") == "There are 14 days until your haircut."
    assert say(clock, "how many days until my passport renewal").startswith(
        "I don't know the date of your passport renewal."
    )


def test_a_relative_date_is_of_the_day_it_was_said_where_the_user_lives(store: Store) -> None:
    """Said at 16:00 UTC on Friday the 20th: already Saturday the 21st in Tokyo."""
    said = Told(
        "my dentist appointment is tomorrow", datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)
    )
    for zone, days in (("Asia/Tokyo", 1), ("Europe/London", 0)):
        clock = skill_at(store, zone=zone, recall=lambda phrase: [said])
        answer = say(clock, "how many days until my dentist appointment")
        assert answer == ("Your dentist appointment is tomorrow." if days else "That's today.")


def test_days_until_wraps_the_year(store: Store) -> None:
    new_years_eve = skill_at(store, datetime(2026, 12, 31, 12, 0, tzinfo=timezone.utc))
    assert say(new_years_eve, "how long until new year") == "New Year's Day is tomorrow."
    boxing_day = skill_at(store, datetime(2026, 12, 26, 12, 0, tzinfo=timezone.utc))
    assert say(boxing_day, "how many days until christmas") == (
        "There are 364 days until Christmas."
    )
    christmas = skill_at(store, datetime(2026, 12, 25, 8, 0, tzinfo=timezone.utc))
    assert say(christmas, "how many days until christmas") == "That's today."


# -- parsing --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Set a timer for twenty-five minutes.", "set a timer for 25 minutes"),
        ("wake me at six thirty", "wake me at 6 30"),
        ("Alarm at 7 a.m.", "alarm at 7 am"),
        ("the fifteenth of March", "the 15th of march"),
        ("one hundred and twenty seconds", "120 seconds"),
        ("twenty first of june", "21st of june"),
        ("a 90s timer", "a 90 s timer"),
    ],
)
def test_normalize(text: str, normalized: str) -> None:
    assert normalize(text) == normalized


@pytest.mark.parametrize(
    ("phrase", "seconds"),
    [
        ("10 minutes", 600),
        ("ten minutes", 600),
        ("90 seconds", 90),
        ("1 hour 30 minutes", 5400),
        ("1 hour and 30 minutes", 5400),
        ("an hour", 3600),
        ("a minute and a half", 90),
        ("an hour and a half", 5400),
        ("one and a half hours", 5400),
        ("half an hour", 1800),
        ("a quarter of an hour", 900),
        ("a couple of minutes", 120),
        ("2 days", 172800),
        ("10m", 600),
        ("a 10 min", 600),
        ("0.2 seconds", 0.2),
    ],
)
def test_parse_duration(phrase: str, seconds: float) -> None:
    duration = parse_duration(normalize(phrase).split())
    assert duration is not None
    assert duration.seconds == pytest.approx(seconds)


def test_no_duration() -> None:
    assert parse_duration(normalize("set a timer please").split()) is None


def test_durations_said_apart_are_not_added_up() -> None:
    """ "5 minutes and another for 10 minutes" set one 15 minute timer."""
    said = normalize("a timer for five minutes and another one for ten minutes").split()
    assert [d.seconds for d in parse_durations(said)] == [300, 600]
    assert parse_duration(said).seconds == 300
    # a smaller unit goes on: Whisper wrote the "and" of a pause as "in"
    assert parse_duration(normalize("5 minutes, in 20 seconds").split()).seconds == 320


def test_several_timers_in_one_command(store: Store, clock: ClockSkill) -> None:
    assert say(clock, "set one timer for 4 minutes and a second one for 12 minutes") == (
        "2 timers set: for 4 minutes and 12 minutes."
    )
    assert sorted(t.duration_s for t in pending(store)) == [240, 720]


@pytest.mark.parametrize(
    "command",
    [
        "set a timer for 20 minutes for the cake and another for 5 minutes for the tea",
        "set a cake timer for 20 minutes and a tea timer for 5 minutes",
    ],
)
def test_several_timers_keep_their_names(store: Store, clock: ClockSkill, command: str) -> None:
    assert say(clock, command) == "2 timers set: cake for 20 minutes and tea for 5 minutes."
    assert sorted((t.label, t.duration_s) for t in pending(store)) == [("cake", 1200), ("tea", 300)]
    assert say(clock, "Cancelled the cake timer.") == "Cancelled your cake timer."


def test_snooze_sets_what_went_off_again_in_nine_minutes(store: Store) -> None:
    clock = ClockSkill(store, "UTC")  # the real clock: the store records when it went off
    timers = TimerStore(store)
    assert say(clock, "snooze").startswith("Nothing has gone off in the last half hour")
    tea = timers.add("timer", "tea", datetime.now(timezone.utc), 300.0)
    timers.mark_fired(tea.id)
    assert say(clock, "snooze it") == "Snoozed: your tea timer goes off again in 9 minutes."
    [again] = pending(store)
    assert again.label == "tea"
    assert timedelta(minutes=8) < again.due_at - datetime.now(timezone.utc) <= timedelta(minutes=9)


# -- setting timers and alarms --------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "answer", "label", "seconds"),
    [
        ("set a timer for 10 minutes", "Timer set for 10 minutes.", "", 600),
        ("Set a timer for ten minutes.", "Timer set for 10 minutes.", "", 600),
        ("timer 90 seconds", "Timer set for 90 seconds.", "", 90),
        ("set a 1 hour 30 minute timer", "Timer set for 1 hour and 30 minutes.", "", 5400),
        ("set a pasta timer for 8 minutes", "Pasta timer set for 8 minutes.", "pasta", 480),
        ("set a timer for 8 minutes for the pasta", "Pasta timer set for 8 minutes.", "pasta", 480),
        ("start a five minute timer for the eggs", "Eggs timer set for 5 minutes.", "eggs", 300),
        ("set a timer for a minute and a half", "Timer set for 90 seconds.", "", 90),
        ("set a timer for an hour", "Timer set for 1 hour.", "", 3600),
        (
            "set a timer for 20 minutes called laundry",
            "Laundry timer set for 20 minutes.",
            "laundry",
            1200,
        ),  # fmt: skip
        ("countdown from two minutes", "Timer set for 2 minutes.", "", 120),
    ],
)
def test_set_timer(
    store: Store, clock: ClockSkill, command: str, answer: str, label: str, seconds: float
) -> None:
    assert say(clock, command) == answer
    (timer,) = pending(store)
    assert (timer.kind, timer.label, timer.duration_s) == ("timer", label, seconds)
    assert timer.due_at == NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("command", "answer", "due_local"),
    [
        ("set an alarm for 7 am", "Alarm set for 7:00 AM tomorrow.", (22, 7, 0)),
        ("wake me up at 6:30", "Alarm set for 6:30 AM tomorrow.", (22, 6, 30)),
        ("wake me up at seven", "Alarm set for 7:00 AM tomorrow.", (22, 7, 0)),
        ("alarm at 18:45", "Alarm set for 6:45 PM today.", (21, 18, 45)),
        ("set an alarm for 7", "Alarm set for 7:00 PM today.", (21, 19, 0)),
        ("set an alarm for 9:30 tomorrow", "Alarm set for 9:30 AM tomorrow.", (22, 9, 30)),
        (
            "set an alarm for six thirty tomorrow morning",
            "Alarm set for 6:30 AM tomorrow.",
            (22, 6, 30),
        ),  # fmt: skip
        ("set an alarm for quarter to 7 pm", "Alarm set for 6:45 PM today.", (21, 18, 45)),
        ("set an alarm for noon", "Alarm set for 12:00 PM today.", (21, 12, 0)),
        ("set a gym alarm for 6 am", "Gym alarm set for 6:00 AM tomorrow.", (22, 6, 0)),
        ("wake me up in 20 minutes", "Alarm set for 9:25 AM today.", (21, 9, 25)),
        # Whisper's "seven thirty" and "eleven fifteen" at times
        ("Set alarm for 730 tomorrow morning.", "Alarm set for 7:30 AM tomorrow.", (22, 7, 30)),
        ("Set in alarm for 7.30 tomorrow morning.", "Alarm set for 7:30 AM tomorrow.", (22, 7, 30)),
        ("set an alarm for 1115 pm", "Alarm set for 11:15 PM today.", (21, 23, 15)),
    ],
)
def test_set_alarm(
    store: Store, clock: ClockSkill, command: str, answer: str, due_local: tuple[int, int, int]
) -> None:
    assert say(clock, command) == answer
    (alarm,) = pending(store)
    day, hour, minute = due_local
    assert alarm.kind == "alarm" and alarm.duration_s is None
    assert alarm.due_at == datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo("Europe/London"))


def test_alarm_keeps_its_wall_time_across_a_dst_change(store: Store) -> None:
    # Berlin leaves summer time at 03:00 on October 25, 2026.
    evening = datetime(2026, 10, 24, 20, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    clock = skill_at(store, evening, zone="Europe/Berlin")
    assert say(clock, "set an alarm for 7 am") == "Alarm set for 7:00 AM tomorrow."
    assert pending(store)[0].due_at == datetime(2026, 10, 25, 6, 0, tzinfo=timezone.utc)


ASK_LENGTH = "How long should the timer be? Say, for example, set a timer for 10 minutes."
ASK_TIME = "What time should the alarm be for? Say, for example, set an alarm for 7 AM."


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("set a timer for 0 minutes", "I can only set a timer for a length above zero."),
        ("set a timer for minus 5 minutes", "I can only set a timer for a length above zero."),
        ("set a timer for 8 days", "I can only set timers for up to a week."),
        ("set a timer for 200 hours", "I can only set timers for up to a week."),
        ("set a timer", ASK_LENGTH),
        ("set an alarm", ASK_TIME),
    ],
)
def test_refusals_set_nothing(store: Store, clock: ClockSkill, command: str, answer: str) -> None:
    assert say(clock, command) == answer
    assert pending(store) == []


def test_a_week_is_allowed(store: Store, clock: ClockSkill) -> None:
    assert say(clock, "set a timer for 1 week") == "Timer set for 7 days."


# -- listing, time left, cancelling ---------------------------------------------------------
def test_list_and_time_left(store: Store) -> None:
    clock = skill_at(store)
    assert say(clock, "what timers do I have") == "You have no timers."
    say(clock, "set a pasta timer for 8 minutes")
    assert say(clock, "list my timers") == "You have a pasta timer with 8 minutes left."
    assert say(clock, "how much time is left on my timer") == (
        "Your pasta timer has 8 minutes left."
    )
    say(clock, "set a timer for 25 minutes")
    say(clock, "set an alarm for 7 am")
    later = skill_at(store, NOW + timedelta(minutes=3, seconds=20))
    assert say(later, "how much time is left on my pasta timer") == (
        "Your pasta timer has 4 minutes and 40 seconds left."
    )
    assert say(later, "what timers do I have") == (
        "You have 2 timers: a pasta timer with 4 minutes and 40 seconds left "
        "and a 25 minute timer with 22 minutes left."
    )
    assert say(later, "is my pasta timer running") == (
        "You have a pasta timer with 4 minutes and 40 seconds left."
    )
    assert say(later, "what alarms do I have") == "You have an alarm for 7:00 AM tomorrow."
    assert say(later, "when does my alarm go off") == "Your alarm is set for 7:00 AM tomorrow."


def test_time_left_asked_without_saying_timer(store: Store) -> None:
    """Asked "how much time is left" while a timer runs, the clock tells the timer's time
    (the LLM answered from the conversation: "5 minutes left", whatever was left)."""
    clock = skill_at(store)
    assert say(clock, "how much time is left") == "You have no timers, alarms or reminders."
    say(clock, "set a pasta timer for 8 minutes")
    later = skill_at(store, NOW + timedelta(minutes=3, seconds=20))
    expected = "Your pasta timer has 4 minutes and 40 seconds left."
    for question in (
        "how much time is left",
        "how long is left",
        "how much longer",
        "How much time do I have?",
    ):
        assert say(later, question) == expected
    assert say(later, "how much time is left until Christmas") == (
        "There are 34 days until Christmas."
    )
    assert say(later, "how much time until my wedding") is None  # not the time now
    assert say(later, "how much time do I have before the meeting") is None


def test_cancel_one_by_label_by_length_then_all(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes: list[int] = []  # each set or cancel wakes the timer service
    monkeypatch.setattr(TimerService, "wake", lambda service: changes.append(1))
    clock = skill_at(store)
    say(clock, "set a pasta timer for 8 minutes")
    say(clock, "set a timer for 10 minutes")
    say(clock, "set a timer for 90 seconds")
    say(clock, "set an alarm for 7 am")
    assert len(changes) == 4

    assert say(clock, "cancel the timer") == (
        "You have 3 timers: a 90 second timer with 90 seconds left, a pasta timer with "
        "8 minutes left and a 10 minute timer with 10 minutes left. "
        "Which one should I cancel, or all of them?"
    )
    assert say(clock, "cancel my pasta timer") == "Cancelled your pasta timer."
    assert say(clock, "cancel my soup timer") == (
        "You don't have a soup timer. You have 2 timers: a 90 second timer with 90 seconds "
        "left and a 10 minute timer with 10 minutes left."
    )  # the name may have been misheard: what there is, and nothing cancelled
    assert say(clock, "cancel the 10 minute timer") == "Cancelled your 10 minute timer."
    assert len(changes) == 6
    assert [t.duration_s for t in pending(store)] == [90, None]

    assert say(clock, "cancel all timers") == "Cancelled your 90 second timer."
    assert say(clock, "cancel all timers") == "You have no timers."
    assert say(clock, "cancel the alarm") == "Cancelled your alarm for 7:00 AM tomorrow."
    assert pending(store) == []


def test_cancel_all_and_alarms_by_time(store: Store, clock: ClockSkill) -> None:
    for command in ("timer 1 minute", "timer 2 minutes", "set an alarm for 7 am",
                    "set an alarm for 8 am"):  # fmt: skip
        say(clock, command)
    assert say(clock, "cancel the 8 am alarm") == "Cancelled your alarm for 8:00 AM tomorrow."
    assert say(clock, "stop all my timers") == "Cancelled 2 timers."
    assert [t.kind for t in pending(store)] == ["alarm"]


# -- structured results ---------------------------------------------------------------------
def test_time_results_carry_the_moment_and_the_zone(asker: ClockSkill) -> None:
    here = asker.handle(Request("what time is it"))
    assert (here.status, here.value) == ("done", "2026-11-21T09:05:00+00:00")
    assert here.data == {"zone": "Europe/London"}
    assert asker.handle(Request("what's the date")).value == "2026-11-21"
    tokyo = asker.handle(Request("what time is it in Tokyo"))
    assert tokyo.value == "2026-11-21T18:05:00+09:00"
    assert tokyo.data == {"place": "Tokyo", "zone": "Asia/Tokyo"}
    assert asker.handle(Request("what year is it")).value == 2026


@pytest.mark.parametrize(
    ("question", "status"),
    [
        ("what time is it in Atlantis", "failed"),
        ("what time is it in the US", "ask"),
        ("how many days until my birthday", "failed"),
        ("how many days until february 30", "failed"),
        ("set a timer", "ask"),
        ("set an alarm", "ask"),
        ("set a timer for 8 days", "failed"),
        ("cancel my soup timer", "failed"),
    ],
)
def test_results_say_when_more_is_needed_or_it_failed(
    asker: ClockSkill, question: str, status: str
) -> None:
    assert asker.handle(Request(question)).status == status


def test_days_until_results_carry_the_count_and_the_date(asker: ClockSkill) -> None:
    result = asker.handle(Request("how many days until Christmas"))
    assert result.value == 34
    assert result.data == {"date": "2026-12-25", "label": "Christmas"}


def test_timer_results_carry_the_timer(store: Store, clock: ClockSkill) -> None:
    result = clock.handle(Request("set a pasta timer for 8 minutes"))
    (timer,) = pending(store)
    assert result.value == {
        "timer_id": timer.id,
        "kind": "timer",
        "label": "pasta",
        "duration_s": 480,
        "due_at": "2026-11-21T09:13:00+00:00",
    }
    assert result.data == {
        "action": "set",
        "kind": "timer",
        "refer_as": "the pasta timer",
        "tells_when": "I'll tell you when it goes off.",
    }
    assert clock.handle(Request("list my timers")).value == [result.value]
    assert clock.handle(Request("how long is left on my timer")).data == {
        "action": "remaining",
        "left_s": 480,
        "refer_as": "the pasta timer",
    }
    cancelled = clock.handle(Request("cancel the pasta timer"))
    assert (cancelled.value, cancelled.data) == ([result.value], {"action": "cancel"})
    assert clock.handle(Request("list my timers")).value == []


@pytest.mark.parametrize(
    ("command", "refer_as", "left", "cancelled"),
    [
        (
            "set a pasta timer for 8 minutes",
            "the pasta timer",
            "Your pasta timer has 8 minutes left.",
            "Cancelled your pasta timer.",
        ),
        (
            "set a timer for 8 minutes",
            "the 8 minute timer",
            "Your 8 minute timer has 8 minutes left.",
            "Cancelled your 8 minute timer.",
        ),
        (
            "set a 1 hour 30 minute timer",
            "the 1 hour 30 minute timer",
            "Your 1 hour 30 minute timer has 1 hour and 30 minutes left.",
            "Cancelled your 1 hour 30 minute timer.",
        ),
        (
            "set an alarm for 7 am",
            "the 7:00 AM alarm",
            "Your alarm is set for 7:00 AM tomorrow.",
            "Cancelled your alarm for 7:00 AM tomorrow.",
        ),
        (
            "set a gym alarm for 6 am",
            "the gym alarm",
            "Your gym alarm is set for 6:00 AM tomorrow.",
            "Cancelled your gym alarm for 6:00 AM tomorrow.",
        ),
    ],
)
def test_refer_as_finds_the_timer_again(
    store: Store, clock: ClockSkill, command: str, refer_as: str, left: str, cancelled: str
) -> None:
    """The phrase a set timer is referred to by, put where "it" was, finds that timer and no
    other: "cancel it" becomes "cancel the 8 minute timer"."""
    say(clock, "set a timer for 3 minutes")
    say(clock, "set an alarm for 9 pm")
    assert clock.handle(Request(command)).data["refer_as"] == refer_as
    assert say(clock, f"how long is left on {refer_as}") == left
    assert say(clock, f"cancel {refer_as}") == cancelled
    assert len(pending(store)) == 2


def test_an_answer_about_one_timer_names_it_and_about_several_does_not(clock: ClockSkill):
    say(clock, "set a pasta timer for 8 minutes")
    assert clock.handle(Request("what timers do I have")).data == {
        "action": "list",
        "refer_as": "the pasta timer",
    }
    say(clock, "set a timer for 10 minutes")
    assert clock.handle(Request("what timers do I have")).data == {"action": "list"}


def test_heard_and_typed_requests_get_the_same_answer(asker: ClockSkill) -> None:
    heard = asker.handle(Request("what time is it in Tokyo", spoken=True))
    assert heard == asker.handle(Request("what time is it in Tokyo"))


def test_the_plugin_is_built_from_the_settings(store: Store) -> None:
    heard = Announcements()
    ctx = SimpleNamespace(
        store=store,
        settings=SimpleNamespace(agents=SimpleNamespace(timezone="Asia/Tokyo")),
        announce=heard,
        recall=lambda phrase: [],
    )
    clock = find_skill("clock").factory(ctx, NoConfig())
    assert isinstance(clock, ClockSkill)
    assert clock.handle(Request("what time is it")).data == {"zone": "Asia/Tokyo"}


# -- the timer service (real threads, sub-second timers) ------------------------------------
def service_for(store: Store, announce: Callable[[str], None]) -> TimerService:
    return TimerService(TimerStore(store), announce, timezone.utc)


def skill_with_service(store: Store, announce: Callable[[str], None]) -> ClockSkill:
    return ClockSkill(store, "UTC", announce=announce)


def test_the_skill_offers_its_timer_service(store: Store) -> None:
    clock = ClockSkill(store, "UTC")
    (service,) = clock.services()
    assert isinstance(service, TimerService)
    assert clock.services() == [service]  # one service, however often it is asked for


def test_a_timer_fires_and_is_announced(store: Store) -> None:
    heard = Announcements()
    clock = skill_with_service(store, heard)
    (service,) = clock.services()
    service.start()
    try:
        # The service sleeps (no timers yet); setting one must wake it.
        started = time.monotonic()
        assert say(clock, "set a timer for 0.2 seconds") == "Timer set for 0.2 seconds."
        say(clock, "set a tea timer for 0.4 seconds")
        assert heard.wait_for(2) == ["Your 0.2 second timer is done.", "Your tea timer is done."]
        assert 0.35 <= time.monotonic() - started < 3
        assert pending(store) == []
    finally:
        service.stop()


def test_an_alarm_is_announced_with_its_time(store: Store) -> None:
    heard = Announcements()
    service = service_for(store, heard)
    service.start()
    try:
        due = datetime.now(timezone.utc) + timedelta(seconds=0.2)
        TimerStore(store).add("alarm", "", due, None)
        service.wake()
        assert heard.wait_for(1) == [f"It's {spoken_time(due)}: your alarm."]
    finally:
        service.stop()


def test_a_cancelled_timer_stays_quiet(store: Store) -> None:
    heard = Announcements()
    clock = skill_with_service(store, heard)
    (service,) = clock.services()
    service.start()
    try:
        say(clock, "set a pasta timer for 0.3 seconds")
        say(clock, "set a timer for 0.5 seconds")
        assert say(clock, "cancel the pasta timer") == "Cancelled your pasta timer."
        assert heard.wait_for(1) == ["Your 0.5 second timer is done."]
    finally:
        service.stop()


def test_a_failing_announcer_does_not_stop_the_service(store: Store) -> None:
    heard = Announcements()

    def flaky(message: str) -> None:
        heard(message)
        if len(heard.messages) == 1:
            raise OSError("speaker gone")

    service = service_for(store, flaky)
    service.start()
    try:
        now = datetime.now(timezone.utc)
        TimerStore(store).add("timer", "first", now + timedelta(seconds=0.1), 0.1)
        TimerStore(store).add("timer", "second", now + timedelta(seconds=0.3), 0.3)
        service.wake()
        assert heard.wait_for(2) == ["Your first timer is done.", "Your second timer is done."]
    finally:
        service.stop()


def test_stop_joins_and_is_idempotent(store: Store) -> None:
    service = service_for(store, lambda message: None)
    service.start()
    thread = service._thread
    assert thread is not None and thread.is_alive() and thread.daemon
    started = time.monotonic()
    service.stop()
    assert not thread.is_alive()
    assert time.monotonic() - started < 1
    service.stop()


def test_a_timer_survives_a_restart_and_fires(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    store = open_store(path)
    clock = skill_with_service(store, lambda message: None)
    (service,) = clock.services()
    service.start()
    say(clock, "set a pasta timer for 1.5 seconds")
    service.stop()
    store.close()

    heard = Announcements()
    with open_store(path) as reopened:
        clock = skill_with_service(reopened, heard)
        assert say(clock, "list my timers").startswith("You have a pasta timer with ")
        (service,) = clock.services()
        service.start()
        try:
            assert heard.wait_for(1) == ["Your pasta timer is done."]
            assert pending(reopened) == []
        finally:
            service.stop()


def test_a_timer_that_came_due_while_off_is_announced_on_start(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    with open_store(path) as store:
        say(ClockSkill(store, "UTC"), "set a pasta timer for 0.2 seconds")
        due = pending(store)[0].due_at
    time.sleep(0.3)

    heard = Announcements()
    with open_store(path) as store:
        service = service_for(store, heard)
        service.start()
        # Announced before start() returns, then marked fired.
        assert heard.messages == [
            f"While I was off, your pasta timer finished at {spoken_time(due)}."
        ]
        assert pending(store) == []
        service.stop()

    with open_store(path) as store:
        again = Announcements()
        service = service_for(store, again)
        service.start()
        service.stop()
        assert again.messages == []


def test_missed_alarm_from_yesterday_names_the_day(store: Store) -> None:
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    TimerStore(store).add("alarm", "gym", yesterday, None)
    heard = Announcements()
    service = service_for(store, heard)
    service.start()
    service.stop()
    assert heard.messages == [
        f"While I was off, your gym alarm went off at {spoken_time(yesterday)} yesterday."
    ]


# -- the timer store (moved here from the core store with the timers table) -----------------
T0 = datetime(2026, 11, 21, 9, 5, tzinfo=timezone.utc)


def test_timers_pending_soonest_first_cancel_and_fire(store: Store) -> None:
    timers = TimerStore(store)
    later = timers.add("timer", "pasta", T0 + timedelta(minutes=8), 480.0)
    sooner = timers.add("alarm", "", T0 + timedelta(minutes=1), None)
    third = timers.add("timer", "", T0 + timedelta(hours=1), 3600.0)
    assert isinstance(later, Timer)
    assert later.due_at == T0 + timedelta(minutes=8) and later.due_at.tzinfo is not None
    assert [t.id for t in timers.pending()] == [sooner.id, later.id, third.id]
    assert timers.pending()[1] == later

    assert timers.cancel(later.id) is True
    assert timers.cancel(later.id) is False
    assert timers.cancel(9999) is False
    timers.mark_fired(sooner.id)
    assert timers.cancel(sooner.id) is False  # already fired
    assert timers.pending() == [third]


def test_timer_arguments_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimerStore(store).add("timer", "", datetime(2026, 1, 1, 12), 60.0)
    with pytest.raises(ValueError, match="kind"):
        TimerStore(store).add("stopwatch", "", T0, None)


def test_due_at_keeps_the_instant_across_zones(store: Store) -> None:
    tokyo = datetime(2026, 11, 21, 18, 5, tzinfo=timezone(timedelta(hours=9)))
    TimerStore(store).add("alarm", "", tokyo, None)
    assert pending(store)[0].due_at == T0


def test_concurrent_timer_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    with open_store(path) as store, ThreadPoolExecutor(8) as pool:
        timers = TimerStore(store)
        adds = [
            pool.submit(timers.add, "timer", f"w{worker}", T0 + timedelta(seconds=n), 1.0)
            for worker in range(8)
            for n in range(5)
        ]
        for add in adds:
            add.result()  # a writer's exception surfaces here
    with open_store(path) as reopened:
        assert len(pending(reopened)) == 40


def test_timers_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    with open_store(path) as store:
        timers = TimerStore(store)
        timer = timers.add("timer", "eggs", T0 + timedelta(minutes=5), 300.0)
        gone = timers.add("alarm", "", T0, None)
        timers.cancel(gone.id)
    with open_store(path) as store:
        assert pending(store) == [timer]


def test_the_timers_table_is_the_clock_plugins_migration(tmp_path: Path) -> None:
    assert find_skill("clock").migrations == MIGRATIONS
    with Store(tmp_path / "va.db") as store:
        store.migrate("clock", MIGRATIONS)
        store.migrate("clock", MIGRATIONS)  # applied once: running it again changes nothing
        TimerStore(store).add("timer", "", T0, 1.0)
        columns = [row[1] for row in store.query("PRAGMA table_info(timers)")]
    assert columns == [
        "id", "kind", "label", "due_at", "duration_s", "created_at", "fired_at", "cancelled_at"
    ]  # fmt: skip


def test_a_database_that_already_has_the_timers_table_keeps_its_timers(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    with Store(path) as store:  # the core's own first migration made the table
        store.execute(
            "CREATE TABLE IF NOT EXISTS timers (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
            "label TEXT NOT NULL DEFAULT '', due_at REAL NOT NULL, duration_s REAL, "
            "created_at REAL NOT NULL, fired_at REAL, cancelled_at REAL)"
        )
        old = TimerStore(store).add("timer", "old", T0, 1.0)
    with open_store(path) as store:
        assert pending(store) == [old]
