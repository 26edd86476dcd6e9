"""Phrases that say when: "at 5 pm", "in twenty minutes", "tomorrow morning", "on Friday",
"on the 3rd of May". Read on lower-case words with numbers as digits (numbers.py): the
clock's normalised text."""

from __future__ import annotations

import re

from voice_agent.language.numbers import numbers_to_digits

WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december)"
)
PART = r"(?:morning|afternoon|evening|night)"
_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)"
_AMOUNT = r"(?:\d+(?:\.\d+)?|an?|one|half an?|a half)"
# Each phrase that says when, wherever it stands in a request.
WHEN = re.compile(
    rf"\b(?:in|after) {_AMOUNT} {_UNIT}(?: and a half)?(?: (?:and )?\d+ {_UNIT})?"
    r"|\b(?:at|by|around|for) (?:noon|midday|midnight"
    r"|(?:half|quarter|\d{1,2})(?: minutes?)? (?:past|after|to|before) \d{1,2}"
    r"|\d{1,2}(?:[:.]\d{2}| \d{2}\b)?(?: ?o'?clock)?(?: [ap]m)?)"
    rf"|\b(?:on )?(?:(?:this|next|coming) )?{WEEKDAY}(?: {PART})?"
    rf"|\b(?:on )?(?:the )?\d{{1,2}}(?:st|nd|rd|th)?(?: of {MONTH})\b"
    rf"|\b(?:on )?{MONTH} \d{{1,2}}(?:st|nd|rd|th)?"
    rf"|\b(?:the day after )?tomorrow(?: {PART})?|\btoday|\btonight"
    rf"|\b(?:this|in the) {PART}|\bat night"
)


def only_when(text: str) -> bool:
    """Whether `text` says when and nothing else ("tomorrow at nine", "in an hour"): a part
    of the request it follows, not a request of its own."""
    said = " ".join(numbers_to_digits(re.findall(r"[a-z0-9':]+", text.lower())))
    return bool(said) and not WHEN.sub(" ", said).strip()
