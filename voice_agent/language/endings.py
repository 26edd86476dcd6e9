"""Where a request's words can end: not on a dangling "to", "and", "my", nor trailing off.

The end-of-turn judge asks it of the words heard before a pause (audio/turn_judge.py),
and the planner of a text before a comma (dialogue/plan.py): Whisper writes a pause
inside a sentence as a comma or "...", and the words before it are no request of their
own when they stop on such a word.
"""

from __future__ import annotations

import re

# Closed-class words a request does not end on: articles, possessives, conjunctions,
# prepositions, arithmetic operators. A turn ending on one waits for the rest (at worst
# vad.turn_max_silence_ms, when a stranded preposition did end it: "who is it for").
DANGLING = frozenset(
    """a an the my your his her our their its and or but nor because if so than
    to for of in on at by with from into onto about until till between per like via
    plus minus times over under after before""".split()
)
TRAILING_OFF = ("...", "…", ",", "-", ";", ":")
_WORD = re.compile(r"[\w'%$]+")


def words_unfinished(text: str) -> bool:
    """The words stop where no request ends: a dangling closed-class word or a trail-off."""
    stripped = text.strip()
    if stripped.endswith(TRAILING_OFF):
        return True
    words = _WORD.findall(stripped.lower())
    return bool(words) and words[-1] in DANGLING
