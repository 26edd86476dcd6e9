"""Durations: "1 hour 30 minutes", "an hour and a half", "90 seconds", and how one is said."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from voice_agent.language.phrasing import count, join_words

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
_ORDINAL_NEXT = [["one"], ["1"], ["timer"], ["alarm"], ["reminder"], ["countdown"]]


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
    """Seconds in "1 hour 30 minutes", "an hour and a half", "90 seconds", "half a minute":
    the first duration said."""
    found = parse_durations(words)
    return found[0] if found else None


def parse_durations(words: list[str]) -> list[Duration]:
    """Each duration said, apart: "5 minutes and another for 10 minutes" says two; "1 hour 30
    minutes", "an hour and 30 minutes" and "5 minutes, in 20 seconds" (Whisper's "and") one:
    a part in a smaller unit goes on the one before it."""
    found: list[Duration] = []
    i = 0
    while i < len(words):
        part = _read_part(words, i)
        if part is None:
            i += 1
            continue
        total, end, unit = part
        while True:
            joined = end + (words[end : end + 1] in (["and"], ["in"]))
            more = _read_part(words, joined)
            if more is None or more[2] >= unit:
                break
            total, end, unit = total + more[0], more[1], more[2]
        found.append(Duration(total, i, end))
        i = end
    return found


def _read_part(words: list[str], i: int) -> tuple[float, int, float] | None:
    """An amount and its unit at words[i] ("90 seconds", "a minute and a half"): its seconds,
    where it ends, and the unit's seconds."""
    if i >= len(words):
        return None
    amount, j = _read_amount(words, i)
    if amount is None or j >= len(words) or words[j] not in _UNIT_SECONDS:
        return None
    if words[j] == "second" and words[j + 1 : j + 2] in _ORDINAL_NEXT:
        return None  # "a second one for 12 minutes", "a second timer"
    unit = _UNIT_SECONDS[words[j]]
    j += 1
    if words[j : j + 3] == _AND_A_HALF:  # "a minute and a half"
        amount, j = amount + 0.5, j + 3
    return amount * unit, j, unit


def spoken_duration(seconds: float, adjective: bool = False) -> str:
    """90 -> "90 seconds", 5400 -> "1 hour and 30 minutes"; adjective: "1 hour 30 minute"."""
    if seconds < 1:
        return f"{seconds:g} second" if adjective else count(seconds, "second")
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
    return join_words([count(n, unit) for n, unit in parts if n])


def spoken_remaining(seconds: float) -> str:
    """Seconds matter near the end; past 10 minutes, the nearest minute is enough."""
    whole = max(1, math.ceil(seconds))
    if whole >= 600:
        whole = round(whole / 60) * 60
    return spoken_duration(whole)
