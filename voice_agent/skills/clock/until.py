"""How long until a date or a time of day, in the unit asked: "how many days until
Christmas", "how many weeks until Easter", "how many months until new year", "how many hours
until midnight", "how long until 5 pm".

A date counts whole days from today (weeks and months as calendar spans of them; hours and
minutes to the day's start); a time of day counts from now to its next occurrence.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from voice_agent.language.phrasing import capitalized, count, join_words
from voice_agent.skills.base import Result
from voice_agent.skills.clock.dates import (
    Dates,
    add_months,
    not_dated,
    parse_target_date,
    spoken_date,
)
from voice_agent.skills.clock.durations import spoken_remaining
from voice_agent.skills.clock.times import next_clock_time, parse_clock_time, spoken_time

UNTIL = re.compile(
    r"\b(how many (?:more )?(days|weeks|months|years|hours|minutes|sleeps)|how long"
    r"|how much time|days|count ?down)\b"
    r".*?\b(?:until|till|til|before|(?<!go )to(?! go\b))\s+(.+)$"
)
# A time of day said as one, not a bare number that may be a date ("until the 15th").
_CLOCK_SAID = re.compile(
    r"\b(noon|midday|midnight|\d{1,2}[:. ][0-5]\d|\d{1,2} ?(?:am|pm|o'?clock)"
    r"|(?:half|quarter) (?:past|to))\b"
)
_DAY_UNITS = ("days", "sleeps")


def answer_until(text: str, now: datetime, dates: Dates = parse_target_date) -> Result | None:
    """The answer to `text` (normalized) if it asks how long until something; None when it
    does not, or names nothing this can date ("how long to cook rice"). `dates` reads a
    date phrase."""
    m = UNTIL.search(text)
    if m is None:
        return None
    unit = m[2] or "days"
    phrase = re.sub(r"^the |(\s+(please|from now|from today))+$", "", m[3])
    target = dates(phrase, now.date())
    if target is None:
        if unit in ("hours", "minutes") or _CLOCK_SAID.search(phrase):
            clock = parse_clock_time(phrase)
            if clock is not None:
                return _until_time(now, next_clock_time(now, clock), phrase, unit)
        if m[1].startswith(("how long", "how much")) or unit not in _DAY_UNITS:
            return None  # another agent may know ("how many minutes until the pasta is done")
        return not_dated(phrase)
    if target.day is None:
        return Result("There is no such date.", data={"date": phrase}, status="failed")
    today = now.date()
    days = (target.day - today).days
    label = target.label or spoken_date(target.day, year=target.day.year != today.year)
    data = {"date": target.day.isoformat(), "label": target.label}
    if days == 0:
        spoken = "That's today."
    elif days == 1:
        spoken = f"{capitalized(label)} is tomorrow."
    elif days < 0:
        spoken = f"{capitalized(label)} was {-days} days ago."
    else:
        span = _span(unit, today, target.day, now)
        spoken = f"There {'is' if span.startswith('1 ') else 'are'} {span} until {label}."
    return Result(spoken, value=days, data=data)


def _span(unit: str, today: date, day: date, now: datetime) -> str:
    """The time from now (`today`) to the later `day`, in `unit`."""
    if unit in ("hours", "minutes"):
        start = datetime.combine(day, time(0), tzinfo=now.tzinfo)
        seconds = (start - now).total_seconds()
        amount = round(seconds / (3600 if unit == "hours" else 60))
        return f"about {count(amount, unit[:-1])}"
    return calendar_span(unit, today, day)


def calendar_span(unit: str, start: date, end: date) -> str:
    """The days from `start` to the later `end`, in days, weeks, months or years: "4 weeks
    and 6 days", "1 month and 11 days"."""
    days = (end - start).days
    if unit in ("weeks", "months", "years"):
        months = _whole_months(start, end) if unit != "weeks" else 0
        if months:
            years, months = divmod(months, 12) if unit == "years" else (0, months)
            rest = (end - add_months(start, 12 * years + months)).days
            parts = [(years, "year"), (months, "month"), (rest, "day")]
            return join_words([count(n, noun) for n, noun in parts if n])
        weeks, rest = divmod(days, 7)
        if weeks:
            return join_words([count(n, noun) for n, noun in ((weeks, "week"), (rest, "day")) if n])
    return count(days, "day")


def _until_time(now: datetime, moment: datetime, phrase: str, unit: str) -> Result:
    """From `now` to `moment`, the next time of day the user named."""
    seconds = (moment - now).total_seconds()
    named = re.search(r"\b(noon|midday|midnight)\b", phrase)
    if named:
        label = named[1]
    else:
        label = spoken_time(moment) + (" tomorrow" if moment.date() != now.date() else "")
    span = count(round(seconds / 60), "minute") if unit == "minutes" else spoken_remaining(seconds)
    spoken = f"It's {span} until {label}."
    return Result(spoken, value=round(seconds), data={"at": moment.isoformat()})


def _whole_months(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if add_months(start, months) > end else months
