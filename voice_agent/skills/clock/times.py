"""Times of day: "7 am", "6:30", "half past 6", "noon", the next moment that shows one, and
how a time is said ("7:00 AM")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# Where the current moment comes from: the real clock, or a fixed one in tests.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def after(moment: datetime, seconds: float) -> datetime:
    """A span of real time after `moment`, in UTC: wall-clock arithmetic is off across DST."""
    return moment.astimezone(timezone.utc) + timedelta(seconds=seconds)


_UNIT_AHEAD = re.compile(r"\s*(?:s|m|h|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?)\b")
_RELATIVE_CLOCK = re.compile(
    r"\b(half|quarter|\d{1,2})(?: minutes?)? (past|after|to|before) (\d{1,2})\b"
)
_CLOCK = re.compile(r"\b(\d{1,2})(?!\d)(?:[:.](\d{2})| (\d{2})\b)?(?: ?o'?clock)?(?: (am|pm)\b)?")
# Whisper writes "seven thirty" as "730" at times: hours and minutes run together. Four
# digits past 12 ("1930", "2030") are more often years, so they need an "am" or "pm".
_RUN_TOGETHER = re.compile(r"\b(\d{1,2})([0-5]\d)\b(?: ?(am|pm)\b)?")


@dataclass(frozen=True)
class ClockTime:
    hour: int  # 0-23 when `exact`, else 1-12 and the half of the day is open
    minute: int
    exact: bool


def parse_clock_time(text: str) -> ClockTime | None:
    """A time of day: "7 am", "6:30", "18:45", "half past 6", "quarter to 7", "noon"."""
    if re.search(r"\b(noon|midday)\b", text):
        return ClockTime(12, 0, True)
    if re.search(r"\bmidnight\b", text):
        return ClockTime(0, 0, True)
    meridiem = _day_part(text)
    if match := _RELATIVE_CLOCK.search(text):
        amount, direction, hour = match.groups()
        minutes = {"half": 30, "quarter": 15}.get(amount) or int(amount)
        hour_n = int(hour)
        if direction in ("to", "before"):
            hour_n, minutes = (hour_n - 1) % 12 or 12, 60 - minutes
        return _clock(hour_n, minutes, meridiem)
    for match in _CLOCK.finditer(text):
        if _UNIT_AHEAD.match(text, match.end()):
            continue  # "10 minutes" is a duration, not a time
        hour, minute_a, minute_b, suffix = match.groups()
        clock = _clock(int(hour), int(minute_a or minute_b or 0), suffix or meridiem)
        if clock is not None:
            return clock
    for match in _RUN_TOGETHER.finditer(text):
        hour, minute, suffix = match.groups()
        if _UNIT_AHEAD.match(text, match.end()) or (
            len(hour) == 2 and int(hour) > 12 and not suffix
        ):
            continue
        clock = _clock(int(hour), int(minute), suffix or meridiem)
        if clock is not None:
            return clock
    return None


def _day_part(text: str) -> str | None:
    if re.search(r"\b(morning|am)\b", text):
        return "am"
    if re.search(r"\b(afternoon|evening|tonight|night|pm)\b", text):
        return "pm"
    return None


def _clock(hour: int, minute: int, meridiem: str | None) -> ClockTime | None:
    if minute > 59 or hour > 23:
        return None
    if meridiem and 1 <= hour <= 12:
        return ClockTime(hour % 12 + (12 if meridiem == "pm" else 0), minute, True)
    return ClockTime(hour, minute, hour == 0 or hour > 12)


def next_clock_time(now: datetime, clock: ClockTime, prefer_morning: bool = False) -> datetime:
    """The next moment after `now` (aware, local) showing that time; "7" is 7 AM or 7 PM.

    Aware arithmetic on one tzinfo keeps the wall time, and ZoneInfo works out the
    offset for the new day, so "tomorrow at 7" stays 7 across a DST change.
    """
    if clock.exact:
        hours = [clock.hour]
    elif prefer_morning:
        hours = [clock.hour % 12]
    else:
        hours = [clock.hour % 12, clock.hour % 12 + 12]
    candidates = []
    for hour in hours:
        moment = now.replace(hour=hour, minute=clock.minute, second=0, microsecond=0)
        if moment <= now:
            moment += timedelta(days=1)
        candidates.append(moment)
    return min(candidates)


def spoken_time(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
