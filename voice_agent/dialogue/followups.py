"""Elliptical follow-ups: "and in Paris?", "what about tomorrow?", "and in celsius?", "what
about 20 percent?".

The fragment names one slot (a place, a day, a unit, a percentage); the follow-up is the previous
request with that slot replaced, or added when the previous request left it out.
"""

from __future__ import annotations

import re

_LEAD = re.compile(
    r"^(?:(?:ok(?:ay)?|so|now|then|but|also)[\s,]+)*"
    r"(?:and\s+)?(?:what|how)\s+about\s+|^(?:(?:ok(?:ay)?|so|now|but)[\s,]+)*and\s+",
    re.I,
)
# Whisper ends a clipped sentence on a comma as often as on a full stop ("and in Paris,").
_TRAIL = re.compile(r"[\s?.!,;:…-]*(?:then|instead|too|as well|please)?[\s?.!,;:…-]*$", re.I)

_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
DAY = re.compile(
    rf"\b(?:the day after tomorrow|today|tomorrow|tonight|this (?:morning|afternoon|evening"
    rf"|weekend|week)|next (?:week|{_WEEKDAY})|(?:on )?{_WEEKDAY})\b",
    re.I,
)
UNIT = re.compile(
    r"\b(?:in |to |into )?(?:celsius|centigrade|fahrenheit|kelvin|metric|imperial"
    r"|(?:kilo|centi|milli)?met(?:er|re)s|miles|feet|inches|yards|(?:kilo)?grams|pounds"
    r"|ounces|(?:milli)?lit(?:er|re)s|gallons|cups)\b",
    re.I,
)
# "what about 20 percent?" after a tip or a percentage: the rate is the slot.
PERCENT = re.compile(r"\b\d+(?:\.\d+)?\s*(?:%|percent\b|per cent\b)", re.I)
_NOT_A_NAME = re.compile(r"\d|\b(?:it|that|this|them|those|me|my|you|your)\b", re.I)
PLACE = re.compile(r"\b(?:in|for|at) (?P<place>[^,?.!]+)", re.I)
_PREPOSITION = re.compile(r"(?:in|for|at) \S", re.I)


def fragment_of(text: str) -> str | None:
    """The slot a follow-up names ("in Paris", "tomorrow"), or None if `text` is not one."""
    led = _LEAD.match(text)
    rest = _TRAIL.sub("", text[led.end() :] if led else text).strip()
    if not rest:
        return None
    words = rest.split()
    if led is None and len(words) > 3:
        return None  # a whole new request, not an ellipsis
    if DAY.fullmatch(rest) or UNIT.fullmatch(rest) or PLACE.fullmatch(rest):
        return rest
    if led is not None and PERCENT.fullmatch(rest):
        return rest
    # A bare name ("what about Sydney?"), not a request of its own ("subtract 4 from it").
    bare = len(words) <= 3 and not _NOT_A_NAME.search(rest)
    return rest if led is not None and bare else None


def rewrite(previous: str, fragment: str) -> str | None:
    """`previous` with the slot `fragment` names put in place of its own; None when it has
    no such slot to change (a percentage after "what time is it in Paris")."""
    previous = previous.strip().rstrip("?.!")
    if DAY.fullmatch(fragment):
        return _replace_or_add(previous, DAY, fragment)
    if PERCENT.fullmatch(fragment):
        return _replace_or_add(previous, PERCENT, fragment) if PERCENT.search(previous) else None
    if UNIT.fullmatch(fragment):
        unit = fragment if fragment.split()[0].lower() in ("in", "to", "into") else f"in {fragment}"
        return _replace_or_add(previous, UNIT, unit, keep_lead=True)
    # A bare name is a place ("how about Sydney"); a name may hold a comma ("Washington, DC").
    said = fragment if _PREPOSITION.match(fragment) else f"in {fragment}"
    spot = _place_in(previous)
    if spot is None:
        return f"{previous} {said}"
    name = said.split(" ", 1)[1]
    return previous[: spot.start("place")] + name + previous[spot.end("place") :]


def _place_in(text: str) -> re.Match[str] | None:
    """The last "in/for/at X" of `text` that is a place, not a day or a unit."""
    places = [
        m for m in PLACE.finditer(text) if not (DAY.match(m["place"]) or UNIT.match(m["place"]))
    ]
    if not places:
        return None
    last = places[-1]
    # "in London tomorrow": the place ends where a day begins.
    day = DAY.search(last["place"])
    if day is None:
        return last
    end = last.start("place") + day.start()
    return PLACE.match(text[:end].rstrip(), last.start())


def _replace_or_add(text: str, slot: re.Pattern[str], said: str, keep_lead: bool = False) -> str:
    found = list(slot.finditer(text))
    if not found:
        return f"{text} {said}"
    last = found[-1]
    lead = re.match(r"(?:in|to|into) ", last.group(0), re.I)
    if keep_lead and lead and said.split()[0].lower() in ("in", "to", "into"):
        said = lead.group(0) + said.split(" ", 1)[1]
    return text[: last.start()] + said + text[last.end() :]
