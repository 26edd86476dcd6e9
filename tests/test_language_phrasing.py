"""The speech helpers every skill phrases its answers with."""

from __future__ import annotations

import pytest

from voice_agent.language.phrasing import (
    article,
    capitalized,
    count,
    join_words,
    plural,
    sentence,
    with_article,
)


@pytest.mark.parametrize(
    ("items", "said"),
    [
        ([], ""),
        (["a"], "a"),
        (["a", "b"], "a and b"),
        (["a", "b", "c"], "a, b and c"),
    ],
)
def test_join_words(items: list[str], said: str) -> None:
    assert join_words(items) == said


def test_join_words_with_another_conjunction_and_a_cap() -> None:
    assert join_words(["timers", "alarms"], "or") == "timers or alarms"
    assert join_words([str(n) for n in range(14)], most=3) == "0, 1, 2 and 11 more"
    assert join_words(["a", "b", "c"], most=3) == "a, b and c"
    assert join_words(["a", "b"], most=1) == "a and 1 more"


@pytest.mark.parametrize(
    ("noun", "plural_form"),
    [
        ("minute", "minutes"),
        ("inch", "inches"),
        ("box", "boxes"),
        ("bus", "buses"),
        ("city", "cities"),
        ("day", "days"),
        ("foot", "feet"),
        ("person", "people"),
        ("kelvin", "kelvin"),
        ("hertz", "hertz"),
    ],
)
def test_plural(noun: str, plural_form: str) -> None:
    assert plural(noun) == plural_form


@pytest.mark.parametrize(
    ("n", "noun", "said"),
    [
        (1, "minute", "1 minute"),
        (2, "minute", "2 minutes"),
        (0, "file", "0 files"),
        (0.5, "second", "0.5 seconds"),
        (1.0, "hour", "1 hour"),
        (1.5, "hour", "1.5 hours"),
        (3, "foot", "3 feet"),
    ],
)
def test_count(n: float, noun: str, said: str) -> None:
    assert count(n, noun) == said


@pytest.mark.parametrize(
    ("phrase", "word"),
    [
        ("pasta timer", "a"),
        ("alarm", "an"),
        ("eggs timer", "an"),
        ("8 minute timer", "an"),
        ("18%", "an"),
        ("11,000", "an"),
        ("80", "an"),
        ("110", "a"),
        ("1,100", "a"),
        ("10 minute timer", "a"),
        ("hour", "an"),
        ("unicorn", "a"),
        ("one-off", "a"),
        ("umbrella", "an"),
    ],
)
def test_article(phrase: str, word: str) -> None:
    assert article(phrase) == word
    assert with_article(phrase) == f"{word} {phrase}"


def test_capitals_and_sentences() -> None:
    assert capitalized("the UK spans several zones") == "The UK spans several zones"
    assert capitalized("") == ""
    assert sentence("25 times 7 is 175") == "25 times 7 is 175."
