"""Reminders by voice: what to be reminded of, and when, read from the words ("remind me to
call mom at 5", "remind me in 20 minutes to stretch", "remind me tomorrow morning about the
dentist", "set a reminder for Friday at 3 to pay the rent"). The clock keeps a reminder as
it keeps an alarm (timers.py), and says it when it is due."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from voice_agent.language.when import MONTH, PART, WEEKDAY, WHEN
from voice_agent.skills.clock.dates import parse_target_date
from voice_agent.skills.clock.durations import parse_duration
from voice_agent.skills.clock.times import ClockTime, after, next_clock_time, parse_clock_time
from voice_agent.skills.clock.words import normalize

# "remind me what my locker code is" is a question for memory, not a reminder.
REMINDER_TOPIC = re.compile(
    r"\bremind me\b(?! (?:what|where|who|whom|whose|which|how|why|whether|if)\b)"
    r"|\breminders?\b|\b(?:don'?t|do not|never) let me forget\b"
)
# "remind me to cancel the gym": setting a reminder, whatever words its task has
SETS_REMINDER = re.compile(r"\b(?:remind me|let me forget)\b", re.IGNORECASE)
_REPEATING = re.compile(
    r"\b(?:every|each|daily|weekly|monthly|hourly|weekdays|weeknights|weekends)\b"
)
_DAY = re.compile(rf"\b(?:{WEEKDAY}|{MONTH}|tomorrow|today|tonight|\d{{1,2}}(?:st|nd|rd|th))\b")
_LEAD = re.compile(
    r"^(?:(?:to|about|that|of|for|please|also|i need to|i have to|i've got to|i got to|i must|"
    r"i should|me)\b[\s,]*)+"
)
_TAIL = re.compile(r"(?:[\s,]+(?:please|thanks|thank you|okay|ok|for me|then|and|again))+$")
# A day said without a time: the hour it means, or 9 AM.
PART_HOURS = {"morning": 9, "afternoon": 15, "evening": 18, "night": 20, "tonight": 20}
WAKING_HOUR = 7
MAX_TASK_WORDS = 12
# A capitalised word not at a sentence's start (a title's full stop starts none: "Dr. Patel")
_NAME = re.compile(
    r"(?:(?<![.!?])|(?<=\b[DMS]r\.)|(?<=\bMrs\.)|(?<=\bMs\.)|(?<=\bSt\.))\s+([A-Z][\w']*)"
)
_YOURS = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "i'm": "you're",
    "i've": "you've", "i'll": "you'll", "i'd": "you'd", "am": "are", "we": "you", "us": "you",
    "our": "your", "ours": "yours", "ourselves": "yourselves",
}  # fmt: skip


@dataclass(frozen=True)
class Reminder:
    task: str  # what to remind of, with how it was put: "to call my mom", "about the dentist"
    due: datetime | None  # None: no time was said
    repeating: bool  # "every day at 8": a reminder is said once
    passed: bool = False  # the time said is already past ("today at 9 am" at noon)
    after_s: float | None = None  # said as a wait ("in 20 minutes"): its length


def read_reminder(text: str, now: datetime) -> Reminder:
    """The reminder in normalised text (words.py), relative to `now` (aware, local)."""
    start = re.search(r"\bremind me\b|\breminders?\b|\blet me forget\b", text)
    clause = text[start.end() :] if start else text
    said = [m[0] for m in WHEN.finditer(clause)]
    rest = " ".join(WHEN.sub(" ", clause).split())
    lead = re.match(r"(?:(?:please|also|me)\s+)*(about|that|of)\b", rest)
    task = _TAIL.sub("", _LEAD.sub("", rest)).strip(" ,")
    if task:
        how = "to" if lead is None else "about" if lead[1] == "of" else lead[1]
        task = f"{how} {' '.join(task.split()[:MAX_TASK_WORDS])}"
    due, passed, after_s = _due(said, now)
    return Reminder(task, due, bool(_REPEATING.search(text)), passed, after_s)


def _due(said: list[str], now: datetime) -> tuple[datetime | None, bool, float | None]:
    """When the reminder is due, whether that is past, and the wait when one was said."""
    if not said:
        return None, False, None
    when = " ".join(said)
    words = when.split()
    duration = parse_duration(words)
    if duration is not None and words[duration.start - 1 : duration.start] in (["in"], ["after"]):
        return after(now, duration.seconds).astimezone(now.tzinfo), False, duration.seconds
    # Only a time said as one ("at 5"): "the 5th" is a day.
    at = [phrase for phrase in said if re.match(r"(?:at|by|around|for) ", phrase)]
    parts = re.findall(rf"\b(?:{PART}|tonight)\b", when)
    clock = parse_clock_time(" ".join(at + parts)) if at else None
    day = parse_target_date(when, now.date()) if _DAY.search(when) else None
    # "at 7" is AM or PM: not in the night (before 7 AM), and on a day said, not after 7 PM.
    hours = [] if clock is None else [clock.hour] if clock.exact else [clock.hour % 12 + 12]
    if clock is not None and not clock.exact and clock.hour % 12 >= WAKING_HOUR:
        hours.insert(0, clock.hour % 12)
    if day is None or day.day is None:
        if clock is None:
            return None, False, None
        times = [next_clock_time(now, ClockTime(h, clock.minute, True)) for h in hours]
        return min(times), False, None
    if clock is None:
        hour, minute = (PART_HOURS[parts[0]] if parts else 9), 0
    else:
        hour, minute = hours[0], clock.minute
    due = now.replace(
        year=day.day.year, month=day.day.month, day=day.day.day, hour=hour, minute=minute,
        second=0, microsecond=0,
    )  # fmt: skip
    if due <= now and re.search(WEEKDAY, when) and not re.search(r"\btoday\b", when):
        due += timedelta(days=7)  # "on friday at 9", said on a Friday at noon: next Friday
    return due, due <= now, None


def yours(words: str) -> str:
    """The user's words said back to them: "to call my mom" -> "to call your mom"."""
    return " ".join(_YOURS.get(word.lower(), word) for word in words.split())


def with_names(task: str, said: str) -> str:
    """The task (normalised, lower case) with the capitals `said` gave its names: "to text
    Jake", not "to text jake". A word counts when it is capitalised other than at the start
    of a sentence."""
    names = {found[1].lower(): found[1] for found in _NAME.finditer(said)}
    return " ".join(names.get(word, word) for word in task.split())


def reminder_message(task: str) -> str:
    """What is said when a reminder is due: "Reminder: call your mom." or "Reminder about the
    dentist."."""
    if task.startswith("to "):
        return f"Reminder: {yours(task[3:])}."
    return f"Reminder {yours(task)}." if task else "Reminder."


def about_reminders(text: str) -> str | None:
    """`text` if it is about reminders ("remind me to ...", "cancel my reminder"), else None:
    routing's recognizer."""
    return text if REMINDER_TOPIC.search(normalize(text)) else None


def reminder_words(text: str) -> str | None:
    """The words a reminder keeps as `text` says them, its task and its time ("to buy milk
    and eggs at five"), for the planner not to cut them apart; None when `text` sets none."""
    said = SETS_REMINDER.search(text)
    if said is None or not REMINDER_TOPIC.search(normalize(text)):
        return None
    return text[said.end() :].strip() or None
