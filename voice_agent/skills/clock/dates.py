"""Dates: the day a phrase names ("Christmas", "the 15th of March", "friday") and how a date
is said ("Monday, March 15", "tomorrow")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo

from voice_agent.skills.base import Result, Told
from voice_agent.skills.clock.words import normalize

MONTH_NAMES = ("January February March April May June July August September October "
                "November December").split()  # fmt: skip
DAY_NAMES = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTHS = {name.lower(): i for i, name in enumerate(MONTH_NAMES, 1)}
_MONTHS.update({name.lower()[:3]: i for i, name in enumerate(MONTH_NAMES, 1)} | {"sept": 9})
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = {name.lower(): i for i, name in enumerate(DAY_NAMES)}
_NTH = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_NTH |= {"fifth": 5, "5th": 5, "last": -1}
_NTH_WEEKDAY = re.compile(
    rf"\b(?:the )?({'|'.join(_NTH)}) ({'|'.join(_WEEKDAYS)}) (?:in|of) ({_MONTH_RE})\b"
)


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


Dates = Callable[[str, date], "Target | None"]  # reads a date phrase, as of a day


def remembered(recall: Callable[[str], list[Told]], zone: tzinfo) -> Dates:
    """Dates that read a phrase about the user ("my sister's birthday") from what they told
    memory ("my sister's birthday is on June 3rd"), when the phrase itself names none. A
    date said relative to its day ("my appointment is next Tuesday") is of the day it was
    said, in `zone`; any other (June 3rd) is the next one from today, as a birthday is."""

    def read(phrase: str, today: date) -> Target | None:
        found = parse_target_date(phrase, today)
        if found is not None or not _PERSONAL.search(phrase):
            return found
        for told in recall(phrase):
            fact = normalize(told.text)
            said_on = told.said_at.astimezone(zone).date()
            day = parse_target_date(fact, said_on if _SAID_RELATIVE.search(fact) else today)
            if day is not None and day.day is not None:
                return Target(_PERSONAL.sub("your", phrase), day.day)
        return None

    return read


def not_dated(phrase: str) -> Result:
    """The answer when `phrase` names no date this knows: for the user's own dates, how to
    tell it one."""
    if _PERSONAL.search(phrase):
        mine = _PERSONAL.sub("your", phrase)
        spoken = (
            f"I don't know the date of {mine}. Tell me, for example: remember that {phrase} "
            "is on June 3rd."
        )
    else:
        spoken = f"I don't know the date of {phrase}."
    return Result(spoken, data={"date": phrase}, status="failed")


_PERSONAL = re.compile(r"\b(?:my|our)\b")
_SAID_RELATIVE = re.compile(
    rf"\b(?:today|tonight|tomorrow|yesterday|next|last|ago|from now|{'|'.join(_WEEKDAYS)}"
    r"|in (?:\d+|an?|one) (?:day|week|month|year)s?)\b",
    re.IGNORECASE,
)


def _next_occurrence(today: date, make: Callable[[int], date]) -> date | None:
    for year in range(today.year, today.year + 9):  # far enough to reach the next February 29
        try:
            day = make(year)
        except ValueError:
            continue
        if day >= today:
            return day
    return None


def _month_day(month: int, day: int, year: int | None, today: date) -> Target:
    if year:
        try:
            return Target(None, date(year, month, day))
        except ValueError:
            return Target(None, None)
    return Target(None, _next_occurrence(today, _fixed(month, day)))


_AMOUNT = r"(\d+|an?|one)"
_UNIT = r"(day|week|month|year)s?"
_FROM_NOW = re.compile(
    rf"\b(?:in )?{_AMOUNT} {_UNIT} (from (?:now|today)|later|hence|ago|before today)\b"
)
_IN = re.compile(rf"\bin {_AMOUNT} {_UNIT}\b")
_NAMED_DAYS = (
    (r"the day after tomorrow", 2),
    (r"the day before yesterday", -2),
    (r"tomorrow", 1),
    (r"yesterday", -1),
    (r"today|tonight", 0),
)


# How a phrase that is only a day begins: "christmas", "next friday", "the first monday in
# march", "march 3rd", "the 15th of june", "tomorrow" (not "the weather on friday").
_DAY_START = re.compile(
    r"^(?:(?:the|next|last|this|coming) )?(?:"
    + "|".join([p for p, _, _ in _HOLIDAYS] + list(_WEEKDAYS) + list(_NTH))
    + rf"|{_MONTH_RE}|\d|tomorrow|yesterday|today|tonight|day (?:after|before))\b"
)


def names_a_day(phrase: str) -> bool:
    """Whether `phrase` (lower-case) begins as a day does, not as something on a day."""
    return bool(_DAY_START.match(phrase))


def parse_target_date(phrase: str, today: date) -> Target | None:
    """Christmas, "march 3rd", "the 15th of march", "july 4th 1976", "2027-01-15", "friday",
    "next friday", "last monday", "tomorrow", "in 3 weeks", "90 days from today", "2 days ago".
    A date without a year is the next one; "this year", "next year" and "last year" say which."""
    phrase = re.sub(rf"\b({_MONTH_RE}) (the )?second\b", r"\1 2nd", phrase)
    phrase = re.sub(r"\bsecond of\b", "2nd of", phrase)
    year = _year_of(phrase, today)
    for pattern, label, make in _HOLIDAYS:
        if re.search(rf"\b(?:{pattern})\b", phrase):
            if year is None:
                return Target(label, _next_occurrence(today, make))
            return Target(f"{label} {year}", make(year))
    if m := re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", phrase):
        return _month_day(int(m[2]), int(m[3]), int(m[1]), today)
    day_suffix = r"(\d{1,2})(?:st|nd|rd|th)?"
    if m := re.search(rf"\b({_MONTH_RE}) (?:the )?{day_suffix}\b", phrase):
        return _month_day(_MONTHS[m[1]], int(m[2]), year, today)
    if m := re.search(rf"\b(?:the )?{day_suffix} (?:of )?({_MONTH_RE})\b", phrase):
        return _month_day(_MONTHS[m[2]], int(m[1]), year, today)
    if m := _NTH_WEEKDAY.search(phrase):

        def nth(in_year: int) -> date | None:
            return _nth_weekday(_NTH[m[1]], _WEEKDAYS[m[2]], _MONTHS[m[3]], in_year)

        if year is not None:
            return Target(None, nth(year))
        day = nth(today.year)
        return Target(None, day if day is not None and day >= today else nth(today.year + 1))
    if m := _FROM_NOW.search(phrase) or _IN.search(phrase):
        amount = int(m[1]) if m[1].isdigit() else 1
        back = len(m.groups()) > 2 and m[3] in ("ago", "before today")
        return Target(None, _moved(today, -amount if back else amount, m[2]))
    weekday = re.search(rf"\b(?:(next|last|this|coming|past) )?({'|'.join(_WEEKDAYS)})\b", phrase)
    if (m := weekday) and not re.search(rf"\b(?:{_MONTH_RE})\b", phrase):  # "a monday in may"
        ahead = (_WEEKDAYS[m[2]] - today.weekday()) % 7
        if m[1] in ("last", "past"):
            return Target(None, today - timedelta(days=(7 - ahead) % 7 or 7))
        if m[1] == "next" and ahead == 0:
            ahead = 7
        return Target(None, today + timedelta(days=ahead))
    for pattern, days in _NAMED_DAYS:
        if re.search(rf"\b(?:{pattern})\b", phrase):
            return Target(None, today + timedelta(days=days))
    return None


def _nth_weekday(n: int, weekday: int, month: int, year: int) -> date | None:
    """The `n`th (-1: last) `weekday` of `month`, or None when the month has no such day."""
    if n < 0:
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    return day if day.month == month else None


def _year_of(phrase: str, today: date) -> int | None:
    """The year a date phrase names: "1976", "this year", "next year", "last year"."""
    if m := re.search(r"\b(1[0-9]{3}|2[0-9]{3})\b", phrase):
        return int(m[1])
    for word, offset in (("this", 0), ("next", 1), ("last", -1)):
        if re.search(rf"\b{word} year\b", phrase):
            return today.year + offset
    return None


def _moved(today: date, amount: int, unit: str) -> date:
    if unit == "day":
        return today + timedelta(days=amount)
    if unit == "week":
        return today + timedelta(weeks=amount)
    return add_months(today, amount * (12 if unit == "year" else 1))


def add_months(day: date, months: int) -> date:
    """`day` that many calendar months later, on the month's last day if it has no such."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def spoken_date(day: date, year: bool = False) -> str:
    text = f"{DAY_NAMES[day.weekday()]}, {MONTH_NAMES[day.month - 1]} {day.day}"
    return f"{text}, {day.year}" if year else text


def day_phrase(day: date, today: date) -> str:
    """Says "today", "tomorrow", "yesterday" or "on Monday, March 3"."""
    names = {0: "today", 1: "tomorrow", -1: "yesterday"}
    return names.get((day - today).days) or f"on {spoken_date(day, day.year != today.year)}"
