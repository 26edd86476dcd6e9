"""The one reader of spoken numbers that the calculator, the clock and the benchmarks share."""

from __future__ import annotations

from decimal import Decimal

import pytest

from voice_agent.language.numbers import (
    ORDINALS,
    SpokenNumber,
    numbers_to_digits,
    operand_homophones,
    ordinal_suffix,
    read_number,
    read_number_at,
)


@pytest.mark.parametrize(
    ("words", "numbers"),
    [
        ("twenty five", ["25"]),
        ("one hundred and twelve", ["112"]),
        ("three point one four", ["3.14"]),
        ("zero point five", ["0.5"]),
        ("point five", ["0.5"]),
        ("a dozen eggs", ["12", "eggs"]),
        ("two dozen", ["24"]),
        ("a hundred and five", ["105"]),
        ("nineteen hundred", ["1900"]),
        ("two thousand and twenty four", ["2024"]),
        ("2.5 million", ["2500000"]),
        ("one and a half", ["1.5"]),
        ("two and a quarter", ["2.25"]),
        ("five twenty", ["5", "20"]),
        ("seven thirty", ["7", "30"]),
        ("five five", ["5", "5"]),
        ("twenty fifteen", ["20", "15"]),
        ("an hour", ["an", "hour"]),
        ("a hundred", ["100"]),
        ("seven point", ["7", "point"]),
        ("fourty two", ["42"]),
        ("one hundred thousand", ["100000"]),
        ("thousand million", ["thousand", "million"]),
        ("one thousand million", ["1000", "million"]),
        (
            "twelve million three hundred forty five thousand six hundred seventy eight",
            ["12345678"],
        ),
    ],
)
def test_number_words_become_digits(words: str, numbers: list[str]) -> None:
    assert numbers_to_digits(words.split()) == numbers


def test_ordinals_are_read_only_when_asked_for() -> None:
    assert numbers_to_digits("the twenty first of june".split()) == [
        "the", "20", "first", "of", "june"
    ]  # fmt: skip
    assert numbers_to_digits("the twenty first of june".split(), ORDINALS) == [
        "the", "21st", "of", "june"
    ]  # fmt: skip
    assert numbers_to_digits("one hundred and first".split(), ORDINALS) == ["101st"]
    assert numbers_to_digits("one hundredth".split(), ORDINALS) == ["100th"]
    assert numbers_to_digits("twenty second".split(), ORDINALS) == ["22nd"]


def test_a_caller_may_leave_out_an_ordinal() -> None:
    without_second = {word: n for word, n in ORDINALS.items() if word != "second"}
    assert numbers_to_digits("a twenty second timer".split(), without_second) == [
        "a", "20", "second", "timer"
    ]  # fmt: skip


def test_an_ordinal_ends_the_number() -> None:
    assert numbers_to_digits("first five".split(), ORDINALS) == ["1st", "5"]


def test_read_number_at_says_where_the_number_ends() -> None:
    words = "set a timer for twenty five minutes".split()
    assert read_number_at(words, 4) == SpokenNumber(Decimal(25), 6)
    assert read_number_at(words, 0) is None
    assert read_number_at(words, 1) is None  # "a" is a number only before "hundred", "dozen"...


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("twenty five", 25),
        ("Twenty-Five", 25),
        ("7", 7),
        ("2.5", 2.5),
        ("two and a half", 2.5),
        ("a dozen", 12),
        ("one hundred and five", 105),
        ("five five", None),
        ("twenty five minutes", None),
        ("blue", None),
        ("", None),
    ],
)
def test_read_number_reads_a_whole_phrase(text: str, number: int | float | None) -> None:
    assert read_number(text) == number
    assert type(read_number(text)) is type(number)


@pytest.mark.parametrize(
    ("n", "suffix"), [(1, "st"), (2, "nd"), (3, "rd"), (4, "th"), (11, "th"), (12, "th"),
                      (13, "th"), (21, "st"), (22, "nd"), (101, "st"), (111, "th")]
)  # fmt: skip
def test_ordinal_suffix(n: int, suffix: str) -> None:
    assert ordinal_suffix(n) == suffix


def test_ordinal_words_cover_the_tens_and_the_irregular_ones() -> None:
    assert ORDINALS["first"] == "one" and ORDINALS["twelfth"] == "twelve"
    assert ORDINALS["twentieth"] == "twenty" and ORDINALS["ninetieth"] == "ninety"
    assert ORDINALS["fourteenth"] == "fourteen" and ORDINALS["thousandth"] == "thousand"
    assert "oneth" not in ORDINALS


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("What is 25 times for?", "What is 25 times 4?"),
        ("what is 9 plus to and set a timer", "what is 9 plus 2 and set a timer"),
        ("set a timer for 5 minutes", "set a timer for 5 minutes"),
        ("what is 6 times for people", "what is 6 times for people"),
    ],
)
def test_operand_homophones_become_digits(heard, meant):
    assert operand_homophones(heard) == meant
