"""The words of a text as compared with another's: lower case, no punctuation."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation ("It's 5 p.m." -> it's, 5, p, m)."""
    return _WORD.findall(text.lower())
