"""The `time` agent's skill: the time here and in cities, days until a date, timers and alarms.

Answers are short sentences for TTS. Speech recognition writes numbers either as
digits or as words ("ten minutes"), so the text is normalised first: number words
become digits. Timers live in the store; `TimerService` announces them when due
and, on start, the ones that came due while the assistant was off.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from voice_agent.errors import ConfigError
from voice_agent.skills.number_words import SMALL, TENS
from voice_agent.store import Store, Timer

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)

MAX_TIMER_S = 7 * 86400
LIST_AT_MOST = 5  # timers read out in one answer; the rest are counted
# The service re-reads the store at least this often: it sleeps on a monotonic clock,
# while due times are wall-clock times that can jump (suspend, NTP).
MAX_SLEEP_S = 60.0


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


# -- time zones -----------------------------------------------------------------------------
def resolve_zone(name: str | None) -> tzinfo:
    """The configured IANA zone, else the machine's."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"agents.timezone: unknown time zone '{name}' (expected an IANA name such as "
                "Europe/Berlin, or null for the system's)"
            ) from None
    return _system_zone()


def _system_zone() -> tzinfo:
    """A named zone when the system says which (so future alarms get DST right)."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    link = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in link:
        candidates.append(link.split("zoneinfo/", 1)[1])
    for key in candidates:
        if key:
            try:
                return ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    fixed = datetime.now().astimezone().tzinfo
    return fixed if fixed is not None else timezone.utc


# -- normalising what speech recognition wrote ----------------------------------------------
_TENS = {**TENS, "fourty": 40}  # a common misspelling in transcripts
# "second" is missing on purpose: "a twenty second timer" is the common meaning.
_ORDINALS = {
    "first": 1, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _read_number_words(words: list[str], i: int) -> tuple[int, int, bool]:
    """Read "twenty five", "one hundred and twenty", "twenty first" from words[i:].

    Returns (end index, value, is ordinal); end == i when there is no number there.
    "six thirty" stays two numbers: a unit word cannot be followed by a tens word.
    """
    total, current, last, j = 0, 0, "", i
    while j < len(words):
        word = words[j]
        value = _ORDINALS.get(word, SMALL.get(word, _TENS.get(word)))
        if value is not None:
            is_tens = value >= 20 and value % 10 == 0
            if last == "unit" or (last == "tens" and (is_tens or value >= 10)):
                break
            current += value
            last = "tens" if is_tens else "unit"
            j += 1
            if word in _ORDINALS:
                return j, total + current, True
        elif word in ("hundred", "thousand") and last in ("unit", "tens"):
            if word == "hundred":
                current *= 100
            else:
                total, current = total + current * 1000, 0
            last, j = "scale", j + 1
        elif word == "and" and last == "scale" and j + 1 < len(words):
            following = words[j + 1]
            if following not in SMALL and following not in _TENS:
                break
            j += 1
        else:
            break
    return j, total + current, False


def _number_words_to_digits(text: str) -> str:
    words, out, i = text.split(), [], 0
    while i < len(words):
        end, value, ordinal = _read_number_words(words, i)
        if end == i:
            out.append(words[i])
            i += 1
        else:
            out.append(f"{value}{_ordinal_suffix(value)}" if ordinal else str(value))
            i = end
    return " ".join(out)


def normalize(text: str) -> str:
    """Lower case, ASCII, no punctuation that does not matter, number words as digits."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # twenty-five, Port-au-Prince
    text = re.sub(r"(?<!\d)[.,]|[.,](?!\d)|[?!;\"()]", " ", text)  # keeps 7.30, 1.5, 18:45
    text = re.sub(r"(\d)(am|pm|h|hrs?|mins?|secs?|s|m)\b", r"\1 \2", text)  # 7am, 90s, 10m
    text = _number_words_to_digits(text)
    text = re.sub(r"(\d) ([ap]) m\b", r"\1 \2m", text)  # "7 a m" (from "7 a.m.")
    return " ".join(text.split())


# -- durations ------------------------------------------------------------------------------
_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("day", "days"), 86400),
    **dict.fromkeys(("week", "weeks"), 7 * 86400),
}
# Amounts said in words before a unit, longest first: "half an hour", "a couple of minutes".
_AMOUNT_PHRASES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("a", "quarter", "of", "an"), 0.25),
    (("a", "quarter", "of", "a"), 0.25),
    (("quarter", "of", "an"), 0.25),
    (("a", "quarter"), 0.25),
    (("quarter",), 0.25),
    (("half", "an"), 0.5),
    (("half", "a"), 0.5),
    (("a", "half"), 0.5),
    (("half",), 0.5),
    (("a", "couple", "of"), 2),
    (("couple", "of"), 2),
    (("a", "couple"), 2),
    (("a",), 1),
    (("an",), 1),
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_AND_A_HALF = ["and", "a", "half"]


@dataclass(frozen=True)
class Duration:
    seconds: float
    start: int  # the words it was read from: words[start:end]
    end: int


def _read_amount(words: list[str], i: int) -> tuple[float | None, int]:
    word = words[i]
    if word in ("minus", "negative") and i + 1 < len(words):
        amount, end = _read_amount(words, i + 1)
        return (None if amount is None else -amount), end
    if _NUMBER.fullmatch(word):
        if words[i + 1 : i + 4] == _AND_A_HALF:  # "1 and a half hours"
            return float(word) + 0.5, i + 4
        return float(word), i + 1
    for phrase, amount in _AMOUNT_PHRASES:
        if tuple(words[i : i + len(phrase)]) == phrase:
            return amount, i + len(phrase)
    return None, i


def parse_duration(words: list[str]) -> Duration | None:
    """Seconds in "1 hour 30 minutes", "an hour and a half", "90 seconds", "half a minute"."""
    total, start, end, i = 0.0, -1, -1, 0
    while i < len(words):
        amount, j = _read_amount(words, i)
        if amount is None or j >= len(words) or words[j] not in _UNIT_SECONDS:
            i += 1
            continue
        unit = _UNIT_SECONDS[words[j]]
        j += 1
        if words[j : j + 3] == _AND_A_HALF:  # "a minute and a half"
            amount, j = amount + 0.5, j + 3
        total += amount * unit
        start = i if start < 0 else start
        end = i = j
    return None if start < 0 else Duration(total, start, end)


# -- times of day ---------------------------------------------------------------------------
_UNIT_AHEAD = re.compile(r"\s*(?:s|m|h|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?)\b")
_RELATIVE_CLOCK = re.compile(
    r"\b(half|quarter|\d{1,2})(?: minutes?)? (past|after|to|before) (\d{1,2})\b"
)
_CLOCK = re.compile(r"\b(\d{1,2})(?:[:.](\d{2})| (\d{2})\b)?(?: ?o'?clock)?(?: (am|pm)\b)?")


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


# -- places ---------------------------------------------------------------------------------
_TRAILING_FILLER = r"(\s+(right now|now|today|at the moment|currently|please))+$"
_REGIONS = {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia",
            "Europe", "Indian", "Pacific"}  # fmt: skip
# Places people ask about that are not tz database names: zone -> display names.
_ALIASES = {
    "America/Los_Angeles": "San Francisco, Seattle, Portland, San Diego, Las Vegas, Sacramento, "
    "San Jose, Silicon Valley, Hollywood, LA, California, Oregon, Nevada, Washington State",
    "America/New_York": "New York City, NYC, Manhattan, Brooklyn, Boston, Washington, "
    "Washington DC, DC, Philadelphia, Miami, Atlanta, Orlando, Baltimore, Pittsburgh, Florida, "
    "Massachusetts",
    "America/Chicago": "Dallas, Houston, Austin, San Antonio, Minneapolis, New Orleans, "
    "Nashville, St Louis, Kansas City, Texas, Illinois",
    "America/Denver": "Salt Lake City, Albuquerque, Colorado, Utah",
    "America/Toronto": "Ottawa, Quebec, Ontario",
    "America/Vancouver": "British Columbia",
    "America/Edmonton": "Calgary, Alberta",
    "America/Mexico_City": "Mexico, Guadalajara",
    "America/Sao_Paulo": "Rio, Rio de Janeiro, Brasilia, Brazil",
    "America/Argentina/Buenos_Aires": "Argentina",
    "America/Santiago": "Chile",
    "America/Bogota": "Colombia",
    "America/Lima": "Peru",
    "Europe/London": "the UK, the United Kingdom, Britain, Great Britain, England, Scotland, "
    "Wales, Edinburgh, Glasgow, Manchester, Liverpool, Birmingham, Oxford, Cambridge",
    "Europe/Dublin": "Ireland, Cork",
    "Europe/Paris": "France, Lyon, Marseille, Nice",
    "Europe/Berlin": "Germany, Munich, Frankfurt, Hamburg, Cologne, Stuttgart",
    "Europe/Madrid": "Spain, Barcelona, Valencia, Seville",
    "Europe/Rome": "Italy, Milan, Florence, Venice, Naples",
    "Europe/Amsterdam": "the Netherlands, Holland, Rotterdam",
    "Europe/Brussels": "Belgium",
    "Europe/Zurich": "Switzerland, Geneva, Bern",
    "Europe/Vienna": "Austria",
    "Europe/Stockholm": "Sweden",
    "Europe/Oslo": "Norway",
    "Europe/Copenhagen": "Denmark",
    "Europe/Helsinki": "Finland",
    "Europe/Athens": "Greece",
    "Europe/Warsaw": "Krakow",
    "Europe/Prague": "the Czech Republic, Czechia",
    "Europe/Istanbul": "Ankara",
    "Europe/Kiev": "Ukraine",
    "Europe/Moscow": "Saint Petersburg, St Petersburg",
    "Asia/Kolkata": "India, Mumbai, Bombay, Delhi, New Delhi, Bangalore, Bengaluru, Chennai, "
    "Hyderabad, Pune",
    "Asia/Shanghai": "China, Beijing, Shenzhen, Guangzhou",
    "Asia/Tokyo": "Osaka, Kyoto",
    "Asia/Seoul": "South Korea, Korea, Busan",
    "Asia/Dubai": "the UAE, the United Arab Emirates, Abu Dhabi",
    "Asia/Riyadh": "Saudi Arabia, Mecca",
    "Asia/Bangkok": "Thailand",
    "Asia/Ho_Chi_Minh": "Vietnam, Hanoi",
    "Asia/Jakarta": "Indonesia",
    "Asia/Makassar": "Bali",
    "Asia/Manila": "the Philippines",
    "Asia/Karachi": "Pakistan, Islamabad, Lahore",
    "Asia/Dhaka": "Bangladesh",
    "Asia/Kathmandu": "Nepal",
    "Asia/Kuala_Lumpur": "Malaysia",
    "Asia/Taipei": "Taiwan",
    "Africa/Johannesburg": "South Africa, Cape Town, Pretoria",
    "Africa/Lagos": "Nigeria, Abuja",
    "Africa/Nairobi": "Kenya",
    "Africa/Casablanca": "Morocco, Marrakech",
    "Australia/Sydney": "Canberra",
    "Pacific/Auckland": "New Zealand, Wellington, Christchurch",
    "UTC": "UTC, GMT",
}
# Countries too wide for one answer: display name -> cities to suggest.
_MULTI_ZONE = {
    "the United States": "New York or Los Angeles",
    "the US": "New York or Los Angeles",
    "the USA": "New York or Los Angeles",
    "America": "New York or Los Angeles",
    "the States": "New York or Los Angeles",
    "Canada": "Toronto or Vancouver",
    "Australia": "Sydney or Perth",
    "Russia": "Moscow or Vladivostok",
}


@dataclass(frozen=True)
class Place:
    display: str  # as spoken: "New York", "the UK"
    zone: str | None  # None: the place spans several zones
    suggestion: str = ""


def _place_key(name: str) -> str:
    key = normalize(name.replace("_", " ")).replace("'", "")
    return key[4:] if key.startswith("the ") else key


@lru_cache(maxsize=1)
def _places() -> dict[str, Place]:
    """Place by key ("new york"): tz database names by their city part, then the aliases."""
    zones = available_timezones()
    places: dict[str, Place] = {}
    # Region/City names first, so they win over legacy links such as "US/Pacific".
    for key in sorted(zones, key=lambda k: (k.split("/")[0] not in _REGIONS, k.count("/"), k)):
        parts = key.split("/")
        if parts[0] in ("Etc", "SystemV", "posix", "right", "Factory"):
            continue
        if len(parts) == 1 and not (key.isalpha() and key.istitle()):
            continue  # abbreviations like EST or PRC are not places
        display = parts[-1].replace("_", " ")
        places.setdefault(_place_key(display), Place(display, key))
    for zone, names in _ALIASES.items():
        if zone in zones:
            for display in names.split(", "):
                places[_place_key(display)] = Place(display, zone)
    for display, suggestion in _MULTI_ZONE.items():
        places[_place_key(display)] = Place(display, None, suggestion)
    return places


def find_place(phrase: str) -> Place | None:
    """Longest known prefix: "paris france" finds Paris."""
    words = _place_key(phrase).split()
    places = _places()
    for n in range(len(words), 0, -1):
        if place := places.get(" ".join(words[:n])):
            return place
    return None


# -- dates ----------------------------------------------------------------------------------
_MONTH_NAMES = ("January February March April May June July August September October "
                "November December").split()  # fmt: skip
_DAY_NAMES = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTHS = {name.lower(): i for i, name in enumerate(_MONTH_NAMES, 1)}
_MONTHS.update({name.lower()[:3]: i for i, name in enumerate(_MONTH_NAMES, 1)} | {"sept": 9})
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = {name.lower(): i for i, name in enumerate(_DAY_NAMES)}


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


_UNTIL = re.compile(
    r"\b(how many (?:more )?(?:days|weeks|sleeps)|how long|how much time|days|count ?down)\b"
    r".*?\b(?:until|till|til|before|(?<!go )to(?! go\b))\s+(.+)$"
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


# -- speaking -------------------------------------------------------------------------------
def spoken_time(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def spoken_date(day: date, year: bool = False) -> str:
    text = f"{_DAY_NAMES[day.weekday()]}, {_MONTH_NAMES[day.month - 1]} {day.day}"
    return f"{text}, {day.year}" if year else text


def _day_phrase(day: date, today: date) -> str:
    """Says "today", "tomorrow", "yesterday" or "on Monday, March 3"."""
    names = {0: "today", 1: "tomorrow", -1: "yesterday"}
    return names.get((day - today).days) or f"on {spoken_date(day, day.year != today.year)}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _plural(n: float, unit: str) -> str:
    return f"{n:g} {unit}" + ("" if n == 1 else "s")


def spoken_duration(seconds: float, adjective: bool = False) -> str:
    """90 -> "90 seconds", 5400 -> "1 hour and 30 minutes"; adjective: "1 hour 30 minute"."""
    if seconds < 1:
        return f"{seconds:g} second" if adjective else _plural(seconds, "second")
    whole = round(seconds)
    if whole < 120 and whole % 60:
        parts = [(whole, "second")]
    else:
        days, rest = divmod(whole, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [(days, "day"), (hours, "hour"), (minutes, "minute"), (secs, "second")]
    if adjective:
        return " ".join(f"{n} {unit}" for n, unit in parts if n)
    return _join([_plural(n, unit) for n, unit in parts if n])


def _spoken_remaining(seconds: float) -> str:
    """Seconds matter near the end; past 10 minutes, the nearest minute is enough."""
    whole = max(1, math.ceil(seconds))
    if whole >= 600:
        whole = round(whole / 60) * 60
    return spoken_duration(whole)


def _spoken_offset(minutes: int) -> str:
    """480 -> "8 hours ahead of you", -330 -> "5 and a half hours behind you"."""
    hours, rest = divmod(abs(minutes), 60)
    if rest == 0:
        amount = _plural(hours, "hour")
    elif rest == 30:
        amount = f"{hours} and a half hours" if hours else "half an hour"
    else:
        amount = _join([_plural(n, unit) for n, unit in ((hours, "hour"), (rest, "minute")) if n])
    return f"{amount} {'ahead of' if minutes > 0 else 'behind'} you"


def _with_article(phrase: str) -> str:
    first = phrase.split()[0]
    vowel_sound = first[0] in "aeiou" or first.startswith("8") or first in ("11", "18")
    return f"{'an' if vowel_sound else 'a'} {phrase}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def timer_name(timer: Timer) -> str:
    """How a timer is called: "pasta timer", "10 minute timer", "gym alarm", "alarm"."""
    if timer.label:
        return f"{timer.label} {timer.kind}"
    if timer.kind == "timer" and timer.duration_s:
        return f"{spoken_duration(timer.duration_s, adjective=True)} timer"
    return timer.kind


# -- timer commands -------------------------------------------------------------------------
_TIMER_TOPIC = re.compile(r"\b(timers?|alarms?|count ?down(?! (to|until|till))|wake me)\b")
_CANCEL = re.compile(r"\b(cancel|stop|delete|remove|clear|kill|dismiss|turn off|switch off|"
                     r"get rid of)\b")  # fmt: skip
_SET = re.compile(r"\b(set|start|create|make|add|put|begin|wake me|remind me)\b")
_REMAINING = re.compile(
    r"\b(left|remaining|how long|how much time|when (does|will|is)|go(es)? off)\b"
)
_LIST = re.compile(r"\b(list|show|what|which|any|how many|do i have|are there|running|active)\b")
_ALL = re.compile(r"\b(all|every|everything|both)\b")
_NOUNS = {"timer", "timers", "alarm", "alarms", "countdown"}
_LABEL_STOP = {
    "a", "an", "the", "my", "me", "your", "our", "this", "that", "those", "these", "for", "of",
    "on", "up", "off", "to", "and", "set", "start", "create", "make", "add", "put", "begin",
    "new", "another", "cancel", "stop", "delete", "remove", "clear", "kill", "dismiss", "turn",
    "switch", "get", "rid", "all", "every", "both", "wake", "remind", "please", "is", "are",
    "how", "much", "time", "left", "what", "whats", "what's", "when", "does", "do", "i", "have",
    "any", "which", "list", "show", "hey", "ok", "okay", "can", "could", "you", "would", "will",
}  # fmt: skip


def _clean_label(words: list[str]) -> str:
    while words and words[0] in _LABEL_STOP:
        words = words[1:]
    while words and words[-1] in _LABEL_STOP | _NOUNS:
        words = words[:-1]
    return " ".join(words[:4])


def _label(words: list[str], duration: Duration | None, after_for: bool) -> str:
    """The user's name for a timer: "pasta" in "set a pasta timer" or "... for the pasta"."""
    text = " ".join(words)
    if m := re.search(r"\b(?:called|named|labell?ed)\s+(.+)$", text):
        return _clean_label(m[1].split())
    noun = next((i for i, word in enumerate(words) if word in _NOUNS), None)
    if noun is None:
        return ""
    skip = range(duration.start, duration.end) if duration else range(0)
    start = noun
    while start > 0 and _label_word(words[start - 1]) and start - 1 not in skip:
        start -= 1
    if before := words[max(start, noun - 3) : noun]:
        return " ".join(before)
    tail = words[max(noun + 1, duration.end if duration else 0) :]
    if after_for and tail[:1] == ["for"]:
        return _clean_label(tail[1:])
    return ""


def _label_word(word: str) -> bool:
    """Not a command word, and not part of a time ("the 7 am alarm" has no label)."""
    return word not in _LABEL_STOP and word not in ("am", "pm") and not re.search(r"\d", word)


def _kinds(text: str) -> tuple[str, ...]:
    timers = re.search(r"\b(timers?|countdown|count down)\b", text) is not None
    alarms = re.search(r"\b(alarms?|wake me)\b", text) is not None
    if timers == alarms:
        return ("timer", "alarm")
    return ("timer",) if timers else ("alarm",)


def _none_left(kinds: tuple[str, ...]) -> str:
    return f"You have no {' or '.join(kind + 's' for kind in kinds)}."


def _counted(timers: list[Timer]) -> str:
    """Counts by kind: "2 timers and 1 alarm"."""
    counts = [(sum(t.kind == kind for t in timers), kind) for kind in ("timer", "alarm")]
    return " and ".join(_plural(n, kind) for n, kind in counts if n)


# -- the skill ------------------------------------------------------------------------------
class ClockSkill:
    """Time and date here or in a place, days until a date, and timers and alarms."""

    def __init__(
        self,
        store: Store,
        timezone: str | None = None,
        now: Clock | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._zone = resolve_zone(timezone)
        self._clock = now or _utc_now
        self._on_change = on_change or (lambda: None)  # e.g. TimerService.wake: re-plan its sleep

    def _now(self) -> datetime:
        return self._clock().astimezone(self._zone)

    def _after(self, seconds: float) -> datetime:
        """Now plus a span of real time (in UTC: wall-clock arithmetic is off across DST)."""
        return self._clock().astimezone(timezone.utc) + timedelta(seconds=seconds)

    def handle(self, text: str) -> str | None:
        norm = normalize(text)
        words = norm.split()
        if _TIMER_TOPIC.search(norm):
            return self._timers(norm, words)
        answer = self._days_until(norm)
        return answer if answer is not None else self._time_query(norm)

    # -- the time and date ------------------------------------------------------------------
    def _time_query(self, text: str) -> str | None:
        wants_time = bool(re.search(r"\btime\b|\bis it (morning|night|evening|afternoon)\b", text))
        wants_date = bool(
            re.search(r"\b(date|what day|which day|day of the week|day is it)\b", text)
        )
        now = self._now()
        if not (wants_time or wants_date):
            if re.search(r"\bwhat year\b", text):
                return f"It's {now.year}."
            if re.search(r"\bwhat month\b", text):
                return f"It's {_MONTH_NAMES[now.month - 1]}."
            return None
        where = re.search(r"\bin (.+)$", text)
        if where is None:
            return self._local(now, wants_time, wants_date)
        phrase = re.sub(_TRAILING_FILLER, "", where[1])
        later = parse_duration(phrase.split())
        if later is not None and later.start == 0 and later.end == len(phrase.split()):
            return self._later(now, later.seconds)  # "what time will it be in 3 hours"
        return self._elsewhere(now, phrase, wants_time, wants_date)

    def _local(self, now: datetime, wants_time: bool, wants_date: bool) -> str:
        if wants_time and wants_date:
            return f"It's {spoken_time(now)} on {spoken_date(now.date())}."
        if wants_date:
            return f"Today is {spoken_date(now.date(), year=True)}."
        return f"It's {spoken_time(now)}."

    def _later(self, now: datetime, seconds: float) -> str:
        moment = self._after(seconds).astimezone(self._zone)
        day = _day_phrase(moment.date(), now.date())
        day = "" if day == "today" else f" {day}"
        return f"In {spoken_duration(seconds)} it will be {spoken_time(moment)}{day}."

    def _elsewhere(self, now: datetime, phrase: str, wants_time: bool, wants_date: bool) -> str:
        place = find_place(phrase)
        if place is None:
            return f"I don't know the time zone for {phrase.title()}."
        if place.zone is None:
            return (
                f"{_cap(place.display)} spans several time zones; ask me about a city, "
                f"like {place.suggestion}."
            )
        there = now.astimezone(ZoneInfo(place.zone))
        if not wants_time:
            return f"In {place.display} it's {spoken_date(there.date())}."
        answer = f"It's {spoken_time(there)}"
        if wants_date:
            answer += f" on {spoken_date(there.date())}"
        elif there.date() != now.date():
            answer += f" on {_DAY_NAMES[there.weekday()]}"
        answer += f" in {place.display}"
        offset = int((there.utcoffset() - now.utcoffset()).total_seconds() // 60)
        return answer + (f", {_spoken_offset(offset)}." if offset else ".")

    # -- days until -------------------------------------------------------------------------
    def _days_until(self, text: str) -> str | None:
        m = _UNTIL.search(text)
        if m is None:
            return None
        phrase = re.sub(r"^the |(\s+(please|from now|from today))+$", "", m[2])
        today = self._now().date()
        target = parse_target_date(phrase, today)
        if target is None:
            # "how long to cook rice" is not about a date: leave it to another agent.
            asked_days = not m[1].startswith(("how long", "how much"))
            return f"I don't know the date of {phrase}." if asked_days else None
        if target.day is None:
            return "There is no such date."
        days = (target.day - today).days
        label = target.label or spoken_date(target.day, year=target.day.year != today.year)
        if days == 0:
            return "That's today."
        if days == 1:
            return f"{label} is tomorrow."
        if days < 0:
            return f"{label} was {-days} days ago."
        return f"There are {days} days until {label}."

    # -- timers and alarms ------------------------------------------------------------------
    def _timers(self, text: str, words: list[str]) -> str:
        kinds = _kinds(text)
        if _CANCEL.search(text):
            return self._cancel(text, words, kinds)
        if _SET.search(text):
            return self._set(text, words, kinds)
        if _REMAINING.search(text):
            return self._remaining(text, words, kinds)
        if _LIST.search(text):
            return self._list(text, words, kinds)
        return self._set(text, words, kinds)

    def _set(self, text: str, words: list[str], kinds: tuple[str, ...]) -> str:
        if kinds == ("alarm",):
            return self._set_alarm(text, words)
        duration = parse_duration(words)
        if duration is None:
            return "How long should the timer be? Say, for example, set a timer for 10 minutes."
        if refusal := _refuse(duration.seconds):
            return refusal
        label = _label(words, duration, after_for=True)
        self._store.add_timer("timer", label, self._after(duration.seconds), duration.seconds)
        self._on_change()
        name = f"{label} timer" if label else "timer"
        return f"{_cap(name)} set for {spoken_duration(duration.seconds)}."

    def _set_alarm(self, text: str, words: list[str]) -> str:
        now = self._now()
        clock = parse_clock_time(text)
        duration = parse_duration(words)
        if clock is None and duration is not None:  # "wake me up in 20 minutes"
            if refusal := _refuse(duration.seconds):
                return refusal
            due = self._after(duration.seconds).astimezone(self._zone)
        elif clock is not None:
            due = next_clock_time(now, clock, prefer_morning="wake me" in text)
            if re.search(r"\btomorrow\b", text) and due.date() == now.date():
                due += timedelta(days=1)
        else:
            return "What time should the alarm be for? Say, for example, set an alarm for 7 AM."
        label = _label(words, duration, after_for=False)
        self._store.add_timer("alarm", label, due, None)
        self._on_change()
        name = f"{label} alarm" if label else "alarm"
        return f"{_cap(name)} set for {spoken_time(due)} {_day_phrase(due.date(), now.date())}."

    def _matching(
        self, text: str, words: list[str], kinds: tuple[str, ...]
    ) -> tuple[list[Timer], str]:
        """Pending timers of these kinds narrowed by what the user named: a label, a length
        ("the 10 minute timer") or an alarm's time ("the 7 AM alarm"). Also returns the label."""
        duration = parse_duration(words)
        label = _label(words, duration, after_for=kinds != ("alarm",))
        timers = [t for t in self._store.pending_timers() if t.kind in kinds]
        if label:
            timers = [t for t in timers if label == t.label or label in t.label.split()]
        if duration is not None:
            timers = [t for t in timers if abs((t.duration_s or 0) - duration.seconds) < 0.5]
        clock = parse_clock_time(text) if kinds == ("alarm",) else None
        if clock is not None:
            timers = [t for t in timers if self._shows(t, clock)]
        return timers, label

    def _shows(self, timer: Timer, clock: ClockTime) -> bool:
        due = timer.due_at.astimezone(self._zone)
        hour = due.hour if clock.exact else due.hour % 12
        return (hour, due.minute) == (clock.hour if clock.exact else clock.hour % 12, clock.minute)

    def _describe(self, timer: Timer, now: datetime) -> str:
        """Says "a pasta timer with 7 minutes left" or "an alarm for 7:00 AM tomorrow"."""
        if timer.kind == "alarm":
            return f"{_with_article(timer_name(timer))} for {self._alarm_time(timer, now)}"
        left = _spoken_remaining((timer.due_at - now).total_seconds())
        return f"{_with_article(timer_name(timer))} with {left} left"

    def _alarm_time(self, timer: Timer, now: datetime) -> str:
        due = timer.due_at.astimezone(self._zone)
        return f"{spoken_time(due)} {_day_phrase(due.date(), now.date())}"

    def _list(self, text: str, words: list[str], kinds: tuple[str, ...]) -> str:
        timers, label = self._matching(text, words, kinds)
        return f"You have {self._summary(timers)}." if timers else _not_found(label, kinds)

    def _summary(self, timers: list[Timer]) -> str:
        """One timer described, or "2 timers: a ... and an alarm for ...", at most 5 read out."""
        now = self._now()
        items = [self._describe(t, now) for t in timers[:LIST_AT_MOST]]
        if len(items) == 1:
            return items[0]
        if len(timers) > LIST_AT_MOST:
            items.append(f"{len(timers) - LIST_AT_MOST} more")
        return f"{_counted(timers)}: {_join(items)}"

    def _remaining(self, text: str, words: list[str], kinds: tuple[str, ...]) -> str:
        timers, label = self._matching(text, words, kinds)
        if not timers:
            return _not_found(label, kinds)
        if len(timers) > 1:
            return f"You have {self._summary(timers)}."
        timer, now = timers[0], self._now()
        if timer.kind == "alarm":
            return f"Your {timer_name(timer)} is set for {self._alarm_time(timer, now)}."
        left = _spoken_remaining((timer.due_at - now).total_seconds())
        return f"Your {timer_name(timer)} has {left} left."

    def _cancel(self, text: str, words: list[str], kinds: tuple[str, ...]) -> str:
        timers, label = self._matching(text, words, kinds)
        if not timers:
            return _not_found(label, kinds)
        if len(timers) > 1 and not _ALL.search(text):
            return f"You have {self._summary(timers)}. Which one should I cancel, or all of them?"
        now = self._now()
        cancelled = [t for t in timers if self._store.cancel_timer(t.id)]
        self._on_change()
        if len(cancelled) != 1:
            return f"Cancelled {_counted(cancelled)}." if cancelled else _none_left(kinds)
        timer = cancelled[0]
        if timer.kind == "alarm":
            return f"Cancelled your {timer_name(timer)} for {self._alarm_time(timer, now)}."
        return f"Cancelled your {timer_name(timer)}."


def _not_found(label: str, kinds: tuple[str, ...]) -> str:
    if label:
        return f"You don't have {_with_article(f'{label} {kinds[0]}')}."
    return _none_left(kinds)


def _refuse(seconds: float) -> str | None:
    if seconds <= 0:
        return "I can only set a timer for a length above zero."
    if seconds > MAX_TIMER_S:
        return "I can only set timers for up to a week."
    return None


# -- announcing timers ----------------------------------------------------------------------
class TimerService:
    """A daemon thread that announces timers and alarms when they are due.

    It sleeps until the soonest pending timer; `wake()` makes it look again at
    once (call it after adding or cancelling one). A timer is marked fired after
    it was announced, so a crash in between repeats the announcement rather
    than losing it.
    """

    def __init__(
        self,
        store: Store,
        announce: Callable[[str], None],
        now: Clock | None = None,
        timezone: str | None = None,
    ) -> None:
        self._store = store
        self._announce = announce
        self._clock = now or _utc_now
        self._zone = resolve_zone(timezone)
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Announce what came due while we were off, then run."""
        if self._thread is not None:
            return
        now = self._clock()
        for timer in self._store.pending_timers():
            if timer.due_at <= now:
                self._fire(timer, self._missed_message(timer))
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="timer-service", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                try:
                    due = self._due_or_sleep()
                except Exception:  # a store hiccup must not end the service for good
                    log.exception("reading timers failed")
                    self._cond.wait(MAX_SLEEP_S)
                    continue
            for timer in due:
                self._fire(timer, self._due_message(timer))

    def _due_or_sleep(self) -> list[Timer]:
        """Timers due now; if none, sleep (lock released) until the next one or a wake()."""
        pending = self._store.pending_timers()
        now = self._clock()
        due = [t for t in pending if t.due_at <= now]
        if not due:
            delay = (pending[0].due_at - now).total_seconds() if pending else MAX_SLEEP_S
            self._cond.wait(min(delay, MAX_SLEEP_S))
        return due

    def _fire(self, timer: Timer, message: str) -> None:
        try:
            self._announce(message)
        except Exception:
            log.exception("announcing a timer failed")
        self._store.mark_fired(timer.id)

    def _due_message(self, timer: Timer) -> str:
        if timer.kind == "alarm":
            due = timer.due_at.astimezone(self._zone)
            return f"It's {spoken_time(due)}: your {timer_name(timer)}."
        return f"Your {timer_name(timer)} is done."

    def _missed_message(self, timer: Timer) -> str:
        due = timer.due_at.astimezone(self._zone)
        day = _day_phrase(due.date(), self._clock().astimezone(self._zone).date())
        when = spoken_time(due) + ("" if day == "today" else f" {day}")
        verb = "went off" if timer.kind == "alarm" else "finished"
        return f"While I was off, your {timer_name(timer)} {verb} at {when}."
