"""Words that point back at an earlier result: "that many", "the result", "it", "that".

"what's 15% of 80 and set a timer for that many minutes" → "... for 12 minutes";
"divide that by 5" → "divide 100 by 5"; "cancel it" → "cancel the pasta timer"; "the weather
there" → "the weather in Tokyo". A number goes where the words ask for a quantity; a thing
goes where its skill named it (`data["refer_as"]`), a place where it said one
(`data["place"]`, or the weather's `data["city"]`). Anything else the skill reads from
`Request.previous`.
"""

from __future__ import annotations

import re
from numbers import Real

from voice_agent.skills.base import Result

# Always a reference to the earlier result.
_STRONG = re.compile(
    r"\b(?P<ref>that many|that number|that amount|that much|the result|the answer|the total)\b",
    re.I,
)
# "it"/"that" where a quantity goes: "divide that by 5", "that times 3", "half of it".
_QUANTITY = re.compile(
    r"\b(?:divide|multiply|add|subtract|double|triple|halve|times|plus|minus|by|of|for|from"
    r"|with|to) (?P<ref>it|that|this)\b"
    r"|\b(?P<ref2>it|that|this) (?=(?:by|times|plus|minus|divided|multiplied|squared|cubed"
    r"|over|percent|minutes?|seconds?|hours?)\b)",
    re.I,
)
# "it"/"that" where a thing goes: "cancel it", "add bread to it", "read that".
_THING = re.compile(
    r"\b(?:cancel|stop|delete|remove|read|open|to|from|in|into|on|onto|of) (?P<ref>it|that|this)\b",
    re.I,
)


# "it" as what will finish or go off: "when will it be done", "is it up yet", "how long
# until it goes off".
_FINISHING = re.compile(
    r"\b(?:is|are|will|has|does|did|until|till|when|before)\s+(?P<ref>it|that|this)(?=\s+"
    r"(?:be\s+|been\s+)?(?:done|finished|over|up|ready|going off|gone off|go off|goes off|ring"
    r"|rings|end|ends|finish|finishes)\b)",
    re.I,
)


# "there" for the place an earlier result was about: "what's the weather there", "what time
# is it over there"; not "is there", "there are".
_THERE = re.compile(
    r"(?<!\bis )(?<!\bare )(?<!\bwas )\b(?P<ref>(?:over |out |down |up )?there)\b"
    r"(?!\s*(?:is|are|was|were|will|'s|must|should)\b)",
    re.I,
)


# "save the result", "write that down": the whole answer is kept (Request.previous), not
# its number.
_KEEPS = re.compile(r"^\s*(?:save|store|keep|write|put|note|jot|copy)\b", re.I)


# "tell me when it's done", "let me know once they're ready": to be told when what an earlier
# step started happens. Only what finishes or happens ("if it's going to rain" asks now).
_TOLD_WHEN = re.compile(
    r"^\W*(?:(?:and|then|also|please|just|ok|okay|so|can you|could you|would you|will you)"
    r"\W+)*(?:tell|let|notify|alert|ping|warn|inform|update"
    r"|give)\s+me(?:\s+(?:know|a shout|a heads[ -]up))?\s+(?:when|once|if|whether|as soon as"
    r"|the moment)\s+(?:it|they|that|this|those|these)(?:'s|'re|'ve| is| are| has| have| was"
    r"| were)?\s+(?:been\s+|all\s+|gone\s+)?(?:done|ready|finished|complete|completed|over|up"
    r"|time|through|off|going off|goes off|go off|rings?|ringing|finish(?:es)?|ends?|ended"
    r"|starts?|started|happens?|happened|arrives?|arrived|works?|worked|on)\b",
    re.I,
)


def asks_to_be_told(text: str) -> bool:
    """Whether `text` asks to be told when what an earlier step started finishes or happens
    ("tell me when it's done"): no request of its own, and never the LLM's to answer ("It's
    done." after a timer is set would be false)."""
    return bool(_TOLD_WHEN.search(text))


def _fill(pattern: re.Pattern[str], text: str, said: str) -> str | None:
    """`text` with the first reference `pattern` finds replaced by `said`."""
    match = pattern.search(text)
    if match is None:
        return None
    group = "ref" if match.group("ref") else "ref2"
    return text[: match.start(group)] + said + text[match.end(group) :]


def number_text(value: Real) -> str:
    """A number as a skill reads it back: 100, 12.5, 0.3333."""
    if float(value).is_integer():
        return str(int(value))
    return f"{float(value):.4f}".rstrip("0").rstrip(".")


def refers_back(text: str) -> bool:
    """Whether `text` builds on an earlier result ("save it", "that many minutes")."""
    found = any(p.search(text) for p in (_STRONG, _QUANTITY, _THING, _FINISHING, _THERE))
    return found or bool(_KEEPS.match(text))


def resolve(text: str, previous: Result | None) -> str | None:
    """`text` with its reference to `previous` filled in, or None when there is none to fill."""
    if previous is None or _KEEPS.match(text):
        return None
    data = previous.data or {}
    place = data.get("place") or data.get("city")  # the weather's, answered or not
    if place and (there := _THERE.search(text)):
        return text[: there.start("ref")] + f"in {place}" + text[there.end("ref") :]
    value = previous.value
    if isinstance(value, Real) and not isinstance(value, bool):
        said = number_text(value)
        return _fill(_STRONG, text, said) or _fill(_QUANTITY, text, said)
    refer_as = previous.data.get("refer_as") if previous.data else None
    if not refer_as:
        return None
    return _fill(_THING, text, str(refer_as)) or _fill(_FINISHING, text, str(refer_as))
