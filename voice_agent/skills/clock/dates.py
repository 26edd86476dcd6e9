"""Dates: the day a phrase names ("Christmas", "the 15th of March", "friday") and how a date
is said ("Monday, March 15", "tomorrow")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTH_NAMES = ("January February March April May June July August September October "
                "November December").split()  # fmt: skip
DAY_NAMES = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTHS = {name.lower(): i for i, name in enumerate(MONTH_NAMES, 1)}
_MONTHS.update({name.lower()[:3]: i for i, name in enumerate(MONTH_NAMES, 1)} | {"sept": 9})
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = {name.lower(): i for i, name in enumerate(DAY_NAMES)}


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, (b, c) = year % 19, divmod(year, 100)
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    w = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * w) // 451
    month, day = divmod(h + w - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _thanksgiving(year: int) -> date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def _fixed(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


# Checked in order: the "eve" days before the days they precede.
_HOLIDAYS: tuple[tuple[str, str, Callable[[int], date]], ...] = (
    (r"(christmas|xmas) eve", "Christmas Eve", _fixed(12, 24)),
    (r"christmas( day)?|xmas", "Christmas", _fixed(12, 25)),
    (r"boxing day", "Boxing Day", _fixed(12, 26)),
    (r"new year'?s eve", "New Year's Eve", _fixed(12, 31)),
    (r"new year'?s?( day)?", "New Year's Day", _fixed(1, 1)),
    (r"halloween", "Halloween", _fixed(10, 31)),
    (r"valentine'?s( day)?", "Valentine's Day", _fixed(2, 14)),
    (r"(st|saint) patrick'?s( day)?", "Saint Patrick's Day", _fixed(3, 17)),
    (r"independence day|4th of july|july 4th", "Independence Day", _fixed(7, 4)),
    (r"easter( sunday)?", "Easter", _easter),
    (r"thanksgiving", "Thanksgiving", _thanksgiving),
)


@dataclass(frozen=True)
class Target:
    label: str | None  # a holiday's name; None to speak the date itself
    day: date | None  # None: no such date ("February 30")


def _next_occurrence(today: date, make: Callable[[int], date]) -> date | None:
    for year in range(today.year, today.year + 9):  # far enough to reach the next February 29
        try:
            day = make(year)
        except ValueError:
            continue
        if day >= today:
            return day
    return None


def _month_day(month: int, day: int, year: str | None, today: date) -> Target:
    if year:
        try:
            return Target(None, date(int(year), month, day))
        except ValueError:
            return Target(None, None)
    return Target(None, _next_occurrence(today, _fixed(month, day)))


def parse_target_date(phrase: str, today: date) -> Target | None:
    """Christmas, "march 3rd", "the 15th of march", "2027-01-15", "friday", "tomorrow"."""
    phrase = re.sub(rf"\b({_MONTH_RE}) (the )?second\b", r"\1 2nd", phrase)
    phrase = re.sub(r"\bsecond of\b", "2nd of", phrase)
    for pattern, label, make in _HOLIDAYS:
        if re.search(rf"\b(?:{pattern})\b", phrase):
            return Target(label, _next_occurrence(today, make))
    if m := re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", phrase):
        return _month_day(int(m[2]), int(m[3]), m[1], today)
    day_suffix = r"(\d{1,2})(?:st|nd|rd|th)?"
    if m := re.search(rf"\b({_MONTH_RE}) (?:the )?{day_suffix}\b(?: (\d{{4}})\b)?", phrase):
        return _month_day(_MONTHS[m[1]], int(m[2]), m[3], today)
    if m := re.search(rf"\b{day_suffix} (?:of )?({_MONTH_RE})\b(?: (\d{{4}})\b)?", phrase):
        return _month_day(_MONTHS[m[2]], int(m[1]), m[3], today)
    if m := re.search(rf"\b({'|'.join(_WEEKDAYS)})\b", phrase):
        return Target(None, today + timedelta(days=(_WEEKDAYS[m[1]] - today.weekday()) % 7))
    if re.search(r"\btomorrow\b", phrase):
        return Target(None, today + timedelta(days=1))
    return None


def spoken_date(day: date, year: bool = False) -> str:
    text = f"{DAY_NAMES[day.weekday()]}, {MONTH_NAMES[day.month - 1]} {day.day}"
    return f"{text}, {day.year}" if year else text


def day_phrase(day: date, today: date) -> str:
    """Says "today", "tomorrow", "yesterday" or "on Monday, March 3"."""
    names = {0: "today", 1: "tomorrow", -1: "yesterday"}
    return names.get((day - today).days) or f"on {spoken_date(day, day.year != today.year)}"
