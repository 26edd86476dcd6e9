"""Routing rules' regular expressions: refused at load when they can backtrack without end,
and matched with a time limit, so no rule and no request can hang routing.

Rules are matched with the `regex` package, which reads them as `re` does but can give up
after a time limit (`re` cannot be stopped). Three things bound the work together: the text
routed is capped (decision.MAX_ROUTED_CHARS), which keeps quadratic rules (`a.*b` over text
with many a's) to milliseconds; nested repetition such as `(a+)+`, exponential in the length of
text that almost matches, is refused when the agent file is loaded; and the time limit stops
whatever slips past both.
"""

from __future__ import annotations

import logging
import sys

import regex

log = logging.getLogger(__name__)

MATCH_TIMEOUT_S = 0.1  # a sane rule takes well under a millisecond on routed text

if sys.version_info >= (3, 11):
    from re import _constants as sre
    from re import _parser as sre_parse
else:  # pragma: no cover - the same modules under their old names
    import sre_constants as sre
    import sre_parse

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)  # possessive repeats never backtrack
_POSSESSIVE = getattr(sre, "POSSESSIVE_REPEAT", None)  # Python 3.11+, like atomic groups
_ATOMIC = getattr(sre, "ATOMIC_GROUP", None)
_ZERO_WIDTH = (sre.AT, sre.ASSERT, sre.ASSERT_NOT)


def check_pattern(pattern: str) -> None:
    """Raise ValueError saying why `pattern` cannot be a rule: it does not compile, or it
    repeats a repetition."""
    try:
        regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        raise ValueError(f"a valid regular expression ({exc})") from None
    try:
        parsed = sre_parse.parse(pattern)
    except (sre.error, RecursionError):
        return  # syntax only `regex` knows: the time limit still applies
    if _nested_repetition(list(parsed)):
        raise ValueError(
            "a pattern without nested repetition: a repeated group whose inside is itself "
            "repeated, like (a+)+ or (\\w+\\s?)*, can take exponential time on text that "
            "almost matches; repeat the inside once (a+)"
        )


class RulePattern:
    """A rule's compiled pattern; `search` gives up after MATCH_TIMEOUT_S (no match)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled = regex.compile(pattern, regex.IGNORECASE)
        self._warned = False

    def search(self, text: str) -> regex.Match[str] | None:
        try:
            return self._compiled.search(text, timeout=MATCH_TIMEOUT_S)
        except TimeoutError:
            if not self._warned:
                self._warned = True
                log.warning(
                    "routing rule %r gave up after %.1f s on %d characters and counts as not "
                    "matching: simplify it",
                    self.pattern,
                    MATCH_TIMEOUT_S,
                    len(text),
                )
            return None

    def find(self, text: str) -> str | None:
        """The text the rule matched, or None."""
        found = self.search(text)
        return found.group(0) if found else None


# -- nested repetition --------------------------------------------------------------------------
# A repeat whose body can match the same text as one pass or as several (the body is an
# unbounded repeat, and everything beside it may match nothing) tries every way to split the
# text between passes before it fails: 2**n ways for n characters.


def _nested_repetition(items: list) -> bool:
    for op, av in items:
        if op in _REPEATS:
            _, high, body = av
            if high == sre.MAXREPEAT and _splittable(list(body)):
                return True
        if any(_nested_repetition(list(part)) for part in _parts(op, av)):
            return True
    return False


def _splittable(items: list) -> bool:
    """Whether the sequence is an unbounded repeat with only optional things beside it."""
    return any(
        _pumps(op, av) and all(_nullable(o, a) for j, (o, a) in enumerate(items) if j != i)
        for i, (op, av) in enumerate(items)
    )


def _pumps(op, av) -> bool:
    if op in _REPEATS:
        return av[1] == sre.MAXREPEAT and not _all_nullable(list(av[2]))
    if op == _ATOMIC:
        return False  # it never gives back what it took: one way to match
    return any(_splittable(list(part)) for part in _parts(op, av))


def _nullable(op, av) -> bool:
    if op in _ZERO_WIDTH:
        return True
    if op in (*_REPEATS, _POSSESSIVE):
        return av[0] == 0 or _all_nullable(list(av[2]))
    if op in (sre.SUBPATTERN, _ATOMIC):
        return _all_nullable(list(_parts(op, av)[0]))
    if op == sre.BRANCH:
        return any(_all_nullable(list(branch)) for branch in av[1])
    return False


def _all_nullable(items: list) -> bool:
    return all(_nullable(op, av) for op, av in items)


def _parts(op, av) -> list:
    """The sub-sequences inside a group, branch, repeat or lookaround."""
    if op == sre.SUBPATTERN:
        return [av[-1]]
    if op == sre.BRANCH:
        return list(av[1])
    if op in (*_REPEATS, _POSSESSIVE):
        return [av[2]]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [av[1]]
    if op == _ATOMIC:
        return [av]
    return []
