"""Small pieces of English for answers that are spoken: lists, counts, articles, capitals."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Plurals the spelling rules below get wrong, and units said the same in the plural.
_IRREGULAR_PLURALS = {
    "foot": "feet",
    "tooth": "teeth",
    "person": "people",
    "child": "children",
    "man": "men",
    "woman": "women",
    "mouse": "mice",
    "hertz": "hertz",
    "kelvin": "kelvin",
    "horsepower": "horsepower",
    "stone": "stone",
    "sheep": "sheep",
    "fish": "fish",
}
# Words whose first letter does not say which article they take.
_AN_ANYWAY = re.compile(r"(hour|honest|honou?r|heir)", re.IGNORECASE)
_A_ANYWAY = re.compile(r"(uni|us[eu]|one\b|eu)", re.IGNORECASE)
# Numbers said with a vowel first: 8, 11, 18, 80, 800, 11,000, but not 110 or 1,100.
_AN_NUMBER = re.compile(r"8|1[18](?!\d)")


def join_words(items: Sequence[str], conjunction: str = "and", most: int | None = None) -> str:
    """ "a", "a and b", "a, b and c"; past `most` items, "a, b, c and 4 more"."""
    items = list(items)
    if most is not None and len(items) > most:
        items = [*items[:most], f"{len(items) - most} more"]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def plural(noun: str) -> str:
    """ "minute" -> "minutes", "inch" -> "inches", "city" -> "cities", "foot" -> "feet"."""
    if noun in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[noun]
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    return noun + "s"


def count(n: float, noun: str) -> str:
    """ "1 minute", "2 minutes", "0.5 seconds", "1.5 hours"."""
    amount = f"{n:g}" if isinstance(n, float) else str(n)
    return f"{amount} {noun if n == 1 else plural(noun)}"


def article(phrase: str) -> str:
    """ "a" or "an", by the sound the phrase starts with: "an 8 minute timer", "a unit"."""
    if _AN_ANYWAY.match(phrase) or _AN_NUMBER.match(phrase):
        return "an"
    if _A_ANYWAY.match(phrase):
        return "a"
    return "an" if phrase[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


def capitalized(text: str) -> str:
    """The first letter upper case and the rest as it is (str.capitalize would say "Uk")."""
    return text[:1].upper() + text[1:]


def sentence(text: str) -> str:
    """ "25 times 7 is 175" -> "25 times 7 is 175."."""
    return capitalized(text) + "."
