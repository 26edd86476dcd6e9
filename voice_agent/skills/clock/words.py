"""What speech recognition wrote, normalised for the clock's parsers: lower case, ASCII, no
punctuation that does not matter, and number words as digits ("six thirty" -> "6 30", which
times.py reads as 6:30)."""

from __future__ import annotations

import re
import unicodedata

from voice_agent.language.numbers import ORDINALS, numbers_to_digits

# "second" is left out on purpose: "a twenty second timer" is the common meaning.
_ORDINALS = {word: number for word, number in ORDINALS.items() if word != "second"}


def normalize(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # twenty-five, Port-au-Prince
    text = re.sub(r"(?<!\d)[.,]|[.,](?!\d)|[?!;\"()]", " ", text)  # keeps 7.30, 1.5, 18:45
    text = re.sub(r"(\d)(am|pm|h|hrs?|mins?|secs?|s|m)\b", r"\1 \2", text)  # 7am, 90s, 10m
    text = " ".join(numbers_to_digits(text.split(), _ORDINALS))
    text = re.sub(r"(\d) ([ap]) m\b", r"\1 \2m", text)  # "7 a m" (from "7 a.m.")
    return " ".join(text.split())
