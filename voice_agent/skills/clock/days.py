"""Calendar questions: the date or weekday of a day ("what day of the week was July 4th
1976", "what's the date next Friday", "what date is 90 days from today"), the days between
two dates, and leap years."""

from __future__ import annotations

import calendar
import re
from datetime import date

from voice_agent.language.phrasing import capitalized
from voice_agent.skills.base import Result
from voice_agent.skills.clock.dates import (
    DAY_NAMES,
    MONTH_NAMES,
    Dates,
    Target,
    names_a_day,
    not_dated,
    parse_target_date,
    spoken_date,
)
from voice_agent.skills.clock.until import calendar_span

_ASKS_DAY = re.compile(
    r"^.*?\b(?:what|which)(?:'s| is| was| will be)? (?:the )?(?:day|date|weekday)\b"
    r"(?: of the (?:week|month))?(?: (?:is|was|will|does|did|do))?(?: (?:it|that))?"
    r"(?: (?:be|fall|land))?(?: on| of)?\s*(?P<day>.*)$"
)
# "when is Christmas", "when does Easter fall", "what's next Tuesday": a day only if the
# words name one ("when is my appointment" is for what the user told it).
_NAMES_DAY = re.compile(
    r"^.*?\b(?:when(?:'s| is| was| will| does| did)|what(?:'s| is| was))\s+(?P<day>.+?)"
    r"(?:\s+(?:be|fall|land|come|happen|this year))?$"
)
_NOT_A_DAY = re.compile(r"^(?:it|today|it today|now|it now|today's date)?$")
_BETWEEN = re.compile(r"\b(?:(days|weeks) (?:are there )?)?between (.+?) and (.+)$")
_LEAP_YEAR = re.compile(r"\bis (\d{4}) a leap year\b")
_NEXT_LEAP_YEAR = re.compile(r"\b(?:next|following) leap year\b")


def day_question(text: str) -> str | None:
    """`text` if it asks when or what a day is ("When is Christmas?", "what's next Tuesday"),
    else None: routing's recognizer, so such questions reach the clock."""
    said = re.sub(r"[?.!,]", "", text.lower()).strip()
    named = _NAMES_DAY.match(said)
    if named is None or not names_a_day(named["day"]):
        return None
    return text.strip() if parse_target_date(named["day"], date.today()) else None


def answer_calendar(text: str, today: date, dates: Dates = parse_target_date) -> Result | None:
    """The answer to `text` (normalized) if it is a calendar question about a day other than
    today (the date today is the clock's own answer); None otherwise. `dates` reads a date
    phrase."""
    if m := _LEAP_YEAR.search(text):
        year = int(m[1])
        leap = calendar.isleap(year)
        spoken = f"{'Yes' if leap else 'No'}, {year} {'is' if leap else 'is not'} a leap year."
        return Result(spoken, value=leap, data={"year": year})
    if _NEXT_LEAP_YEAR.search(text):
        year = next(y for y in range(today.year + 1, today.year + 9) if calendar.isleap(y))
        return Result(f"The next leap year is {year}.", value=year, data={"year": year})
    if m := _BETWEEN.search(text):
        return _between(m[1] or "days", m[2], m[3], today, dates)
    m = _ASKS_DAY.match(text)
    if m is None:
        named = _NAMES_DAY.match(text)
        if named is None or not names_a_day(named["day"]):
            return None
        target = dates(named["day"], today)
        return _day(named["day"], target, today) if target is not None else None
    if _NOT_A_DAY.match(m["day"]):
        return None
    target = dates(m["day"], today)
    if target is None and re.match(r"(?:it )?(?:in|at|over in) ", m["day"]):
        return None  # "what's the date in Sydney": the clock's answer for a place
    if target is None:  # "what day is my birthday": not a date it can know
        return not_dated(m["day"])
    return _day(m["day"], target, today)


def _day(phrase: str, target: Target, today: date) -> Result:
    """The date and weekday of `target`, which `phrase` names."""
    if target.day is None:
        return Result("There is no such date.", data={"date": phrase}, status="failed")
    day = target.day
    said = spoken_date(day, year=day.year != today.year)
    if target.label:
        spoken = f"{capitalized(target.label)} {'was' if day < today else 'is'} on {said}."
    else:
        spoken = f"It was {said}." if day < today else f"It's {said}."
    data = {"date": day.isoformat(), "weekday": DAY_NAMES[day.weekday()]}
    return Result(spoken, value=day.isoformat(), data=data)


def _between(unit: str, first: str, second: str, today: date, dates: Dates) -> Result | None:
    """Days (or weeks) between two dates; a second date without a year follows the first."""
    start = dates(first, today)
    if start is None or start.day is None:
        return None
    end = dates(second, start.day)
    if end is None or end.day is None:
        return None
    days = abs((end.day - start.day).days)
    span = calendar_span(unit, *sorted((start.day, end.day)))
    names = [t.label or _month_day(t.day, today) for t in (start, end)]
    verb = "is" if span.startswith("1 ") else "are"
    spoken = f"There {verb} {span} between {names[0]} and {names[1]}."
    data = {"from": start.day.isoformat(), "to": end.day.isoformat()}
    return Result(spoken, value=days, data=data)


def _month_day(day: date, today: date) -> str:
    """ "March 1", or "March 1, 2028" in another year."""
    said = f"{MONTH_NAMES[day.month - 1]} {day.day}"
    return said if day.year == today.year else f"{said}, {day.year}"
