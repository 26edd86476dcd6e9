"""Spoken numbers as speech recognition writes them: "twenty five", "one hundred and five",
"three point one four", "a dozen", "two and a half", "twenty first".

One reader for everything that reads numbers (the calculator, the clock, the benchmark's word
error rate), so "twenty five" means 25 everywhere. Each caller says which ordinals it reads:
the calculator reads "third" as a fraction, the clock reads "twenty second" as a duration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

SMALL = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
        " fifteen sixteen seventeen eighteen nineteen".split()
    )
}
TENS = {
    word: 10 * value
    for value, word in enumerate(
        "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2
    )
}
SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}

_IRREGULAR_ORDINALS = {
    "first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
    "ninth": "nine", "twelfth": "twelve",
}  # fmt: skip
# Ordinal -> the number word it counts as: "twenty first" is read like "twenty one".
ORDINALS: Mapping[str, str] = {
    **_IRREGULAR_ORDINALS,
    **{
        word + "th": word
        for word in (*SMALL, "hundred", *SCALES)
        if word not in _IRREGULAR_ORDINALS.values()
    },
    **{word[:-1] + "ieth": word for word in TENS},  # twentieth
}

_VALUES = {**SMALL, **TENS, "fourty": 40}  # a common misspelling in transcripts
_DIGIT_WORDS = {word: str(value) for word, value in SMALL.items() if value < 10}
_AND_FRACTIONS = {"half": Decimal("0.5"), "quarter": Decimal("0.25")}
_MULTIPLIERS = {"hundred", "dozen", *SCALES}
_DECIMAL_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_DIGITS = ("unit", "teen", "ten")
_KINDS = {
    **{word: "unit" for word, value in SMALL.items() if 0 < value < 10},
    **{word: "teen" for word, value in SMALL.items() if value >= 10},
    **{word: "ten" for word, value in _VALUES.items() if value >= 20},
    **{word: "scale" for word in SCALES},
    "hundred": "hundred",
    "dozen": "dozen",
}
# Which kinds of word may come before each kind within one number: "twenty five", "one hundred
# and twelve", but not "five twenty" or "seven thirty" (two numbers) or "thousand million".
_MAY_FOLLOW = {
    "unit": ("", "ten", "hundred", "scale", "and"),
    "teen": ("", "hundred", "scale", "and"),
    "ten": ("", "hundred", "scale", "and"),
    "hundred": _DIGITS,
    "scale": (*_DIGITS, "hundred"),
    "dozen": (*_DIGITS, "hundred"),
}


@dataclass(frozen=True)
class SpokenNumber:
    value: Decimal
    end: int  # the index after its last word
    ordinal: bool = False

    @property
    def text(self) -> str:
        """As digits: "25", "2.5", "21st"."""
        if self.ordinal:
            return f"{int(self.value)}{ordinal_suffix(int(self.value))}"
        return format(self.value.normalize(), "f")


def ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def read_number(text: str) -> int | float | None:
    """The number a whole phrase says: "twenty five" -> 25, "7" -> 7, "two and a half" -> 2.5;
    None when it says something else as well ("five five", "blue")."""
    words = text.lower().replace("-", " ").split()
    if len(words) == 1 and _DECIMAL_RE.fullmatch(words[0]):
        value = Decimal(words[0])
    else:
        number = read_number_at(words, 0) if words else None
        if number is None or number.end != len(words):
            return None
        value = number.value
    return int(value) if value == value.to_integral_value() else float(value)


def read_number_at(
    words: list[str], start: int, ordinals: Mapping[str, str] | None = None
) -> SpokenNumber | None:
    """The spoken number that starts at words[start], or None when there is none.

    Ordinals are read only when given (see ORDINALS), and end the number.
    """
    ordinals = ordinals or {}
    total, group = Decimal(0), Decimal(0)  # completed scale groups, and the part below them
    last = ""  # the kind of the previous word, "" before the first
    largest = math.inf
    i = start
    first = words[start]
    if _at(words, start + 1) in _MULTIPLIERS and (
        first in ("a", "an") or _DECIMAL_RE.fullmatch(first)
    ):
        group = Decimal(1) if first in ("a", "an") else Decimal(first)  # "a hundred", "2.5 million"
        last, i = "unit", start + 1
    while i < len(words):
        word, following = words[i], _at(words, i + 1)
        cardinal = ordinals.get(word, word)
        kind = _KINDS.get(cardinal, "")
        if cardinal == "zero" and not last:
            kind = "zero"
        elif kind in _DIGITS and last in _MAY_FOLLOW[kind]:
            group += _VALUES[cardinal]
        elif kind == "hundred" and last in _MAY_FOLLOW[kind] and group < 100:
            group *= 100
        elif kind == "scale" and last in _MAY_FOLLOW[kind] and SCALES[cardinal] < largest:
            total, group, largest = total + group * SCALES[cardinal], Decimal(0), SCALES[cardinal]
        elif kind == "dozen" and last in _MAY_FOLLOW[kind]:
            return SpokenNumber((total + group) * 12, i + 1)
        elif word == "and" and last in ("hundred", "scale") and _continues(following, ordinals):
            kind = "and"  # "one hundred and twelve"
        elif word == "and" and last and following == "a" and _at(words, i + 2) in _AND_FRACTIONS:
            return SpokenNumber(total + group + _AND_FRACTIONS[words[i + 2]], i + 3)
        elif word == "point" and following in _DIGIT_WORDS:
            return _read_decimals(words, i + 1, total + group)
        else:
            break
        last = kind
        i += 1
        if cardinal != word:
            return SpokenNumber(total + group, i, ordinal=True)
    if not last or (i == start + 1 and first in ("a", "an")):
        return None
    return SpokenNumber(total + group, i)


def numbers_to_digits(words: list[str], ordinals: Mapping[str, str] | None = None) -> list[str]:
    """Runs of number words as digits: "twenty five" -> "25", "one hundred and twelve" -> "112",
    "three point five" -> "3.5", "a dozen" -> "12", "2.5 million" -> "2500000"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        number = read_number_at(words, i, ordinals)
        if number is None:
            out.append(words[i])
            i += 1
        else:
            out.append(number.text)
            i = number.end
    return out


def _continues(word: str, ordinals: Mapping[str, str]) -> bool:
    return _KINDS.get(ordinals.get(word, word)) in _DIGITS


def _read_decimals(words: list[str], start: int, whole: Decimal) -> SpokenNumber:
    """The digits after "point": "three point one four" -> 3.14."""
    i, decimals = start, ""
    while _at(words, i) in _DIGIT_WORDS:
        decimals += _DIGIT_WORDS[words[i]]
        i += 1
    return SpokenNumber(whole + Decimal("0." + decimals), i)


def _at(words: list[str], index: int) -> str:
    return words[index] if index < len(words) else ""


# A number said right after an operator comes back from Whisper as its homophone:
# "what is 25 times for?", "add 3 plus to". At the end of the clause it can only be the number.
_OPERAND_HOMOPHONE = re.compile(
    r"\b(times|plus|minus|divided by|multiplied by|over)\s+(for|to|too)\b"
    r"(?=\s*(?:[?.!,;]|$|and\b|then\b))",
    re.IGNORECASE,
)


def operand_homophones(text: str) -> str:
    """ "25 times for" → "25 times 4": digits where an operator wants its operand."""
    return _OPERAND_HOMOPHONE.sub(lambda m: f"{m[1]} {'4' if m[2].lower() == 'for' else '2'}", text)
