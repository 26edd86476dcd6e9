"""The calculator: spoken arithmetic in, one spoken sentence (and the number) out, hostile
input refused fast."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from voice_agent.skills.base import Request
from voice_agent.skills.calculator import calculate, format_number
from voice_agent.skills.calculator.errors import (
    BAD_FACTORIAL,
    BAD_SPLIT,
    DIVIDE_BY_ZERO,
    NO_REAL_ANSWER,
    NO_REAL_ROOT,
    SPLIT_HELP,
    TIP_HELP,
    TOO_LARGE,
    TOO_LONG,
    TOO_SMALL,
)
from voice_agent.skills.utility import UtilitySkill

NOT_UNDERSTOOD = Request("").not_understood  # typed: "Sorry, I didn't understand that."


def say(text: str) -> str | None:
    """What the calculator says to a typed request, or None when it is not arithmetic."""
    result = calculate(Request(text))
    return None if result is None else result.spoken


# (what the user said, the exact sentence spoken back)
ANSWERS = [
    # the basics, in words and symbols
    ("what is 25 times 7", "25 times 7 is 175."),
    ("What is 25 times 7?", "25 times 7 is 175."),
    ("25 * 7", "25 times 7 is 175."),
    ("25 x 7", "25 times 7 is 175."),
    ("25 × 7", "25 times 7 is 175."),
    ("what's 1500 plus 275 plus 30", "1,500 plus 275 plus 30 is 1,805."),
    ("what is 9 minus 14", "9 minus 14 is -5."),
    ("12 multiplied by 12", "12 times 12 is 144."),
    ("what is 12 divided by 4", "12 divided by 4 is 3."),
    ("7 over 2", "7 divided by 2 is 3.5."),
    ("144 ÷ 12", "144 divided by 12 is 12."),
    ("how much is 10 mod 3", "10 modulo 3 is 1."),
    ("calculate 2+2=", "2 plus 2 is 4."),
    # precedence and brackets
    ("2 plus 3 times 4", "2 plus 3 times 4 is 14."),
    ("(2 plus 3) times 4", "(2 plus 3) times 4 is 20."),
    ("2 * (3 + 4) - 1", "2 times (3 plus 4) minus 1 is 13."),
    ("2(3+4)", "2 times (3 plus 4) is 14."),
    ("10 - 4 - 3", "10 minus 4 minus 3 is 3."),
    ("100 / 10 / 5", "100 divided by 10 divided by 5 is 2."),
    # negatives and decimals
    ("-5 plus 3", "-5 plus 3 is -2."),
    ("5 - -3", "5 minus -3 is 8."),
    ("negative 4 times 2.5", "-4 times 2.5 is -10."),
    ("minus 2 squared", "Minus 2 squared is -4."),
    ("(-2) squared", "(-2) squared is 4."),
    ("0.1 + 0.2", "0.1 plus 0.2 is 0.3."),
    ("1 divided by 3", "1 divided by 3 is about 0.333333."),
    ("2 divided by 3", "2 divided by 3 is about 0.666667."),
    ("1,024 times 2", "1,024 times 2 is 2,048."),
    # number words
    ("twenty five times seven", "25 times 7 is 175."),
    ("twenty-five times seven", "25 times 7 is 175."),
    ("one hundred and twelve divided by eight", "112 divided by 8 is 14."),
    ("three point five squared", "3.5 squared is 12.25."),
    ("compute three point five times four", "3.5 times 4 is 14."),
    ("what is a dozen times 3", "12 times 3 is 36."),
    ("half of 80", "Half of 80 is 40."),
    ("a third of 90", "A third of 90 is 30."),
    ("two thirds of 90", "2 thirds of 90 is 60."),
    ("one and a half times eight", "1.5 times 8 is 12."),
    ("two thousand and twenty four minus one", "2,024 minus 1 is 2,023."),
    ("one million two hundred thousand plus 1", "1,200,000 plus 1 is 1,200,001."),
    # powers, roots, factorials
    ("2 to the power of 10", "2 to the power of 10 is 1,024."),
    ("two to the power of ten", "2 to the power of 10 is 1,024."),
    ("2 to the 10th", "2 to the power of 10 is 1,024."),
    ("2 raised to the third power", "2 cubed is 8."),
    ("2^10", "2 to the power of 10 is 1,024."),
    ("2**10", "2 to the power of 10 is 1,024."),
    ("how much is 7 squared", "7 squared is 49."),
    ("3 cubed", "3 cubed is 27."),
    ("2 to the power of -1", "2 to the power of (-1) is 0.5."),
    ("2 to the power of 0.5", "2 to the power of 0.5 is about 1.414214."),
    ("-8 ^ 0.5", "Minus 8 to the power of 0.5 is about -2.828427."),
    ("5! + 1", "5 factorial plus 1 is 121."),
    ("what's 5 plus 5!", "5 plus 5 is 10."),
    ("what's the square root of 144", "The square root of 144 is 12."),
    ("square root of 169", "The square root of 169 is 13."),
    ("sqrt(2)", "The square root of 2 is about 1.414214."),
    ("√81", "The square root of 81 is 9."),
    ("square root of 0.25", "The square root of 0.25 is 0.5."),
    ("cube root of 27", "The cube root of 27 is 3."),
    ("cube root of -8", "The cube root of -8 is -2."),
    ("the square root of 16 plus 9", "The square root of 16 plus 9 is 13."),
    ("square root of (16 plus 9)", "The square root of (16 plus 9) is 5."),
    ("5 factorial", "5 factorial is 120."),
    ("factorial of 6", "6 factorial is 720."),
    ("10 to the power of 100", "10 to the power of 100 is 1 times 10 to the power of 100."),
    ("2 to the power of 64", "2 to the power of 64 is about 1.84467 times 10 to the power of 19."),
    ("pi times 2", "Pi times 2 is about 6.283185."),
    # percentages
    ("15% of 80", "15% of 80 is 12."),
    ("what is 20 percent of 250", "20% of 250 is 50."),
    ("What's 18 percent of 240?", "18% of 240 is 43.2."),
    ("increase 50 by 10%", "50 increased by 10% is 55."),
    ("decrease 200 by 15 percent", "200 decreased by 15% is 170."),
    ("50 plus 10%", "50 plus 10% is 55."),
    ("80 minus 25%", "80 minus 25% is 60."),
    ("15% off $80", "15% off $80.00 is $68.00."),
    ("take 15 percent off 120", "15% off 120 is 102."),
    ("20 is what percent of 80", "20 is 25% of 80."),
    ("what percent of 80 is 20", "20 is 25% of 80."),
    ("1 out of 3 as a percentage", "1 is about 33.33% of 3."),
    # money
    ("what's 10 percent of 50 dollars", "10% of $50.00 is $5.00."),
    ("how much is 3 times $4.50", "3 times $4.50 is $13.50."),
    ("what's 50 cents times 3", "$0.50 times 3 is $1.50."),
    ("$5 minus $7.25", "$5.00 minus $7.25 is -$2.25."),
    # verbs and averages
    ("add 345 and 678", "345 plus 678 is 1,023."),
    ("subtract 3 from 10", "10 minus 3 is 7."),
    ("multiply 14 by 23", "14 times 23 is 322."),
    ("divide 100 by 8", "100 divided by 8 is 12.5."),
    ("what is the sum of 3 and 4", "3 plus 4 is 7."),
    ("the average of 3, 5 and 10", "The average of 3, 5 and 10 is 6."),
]


@pytest.mark.parametrize(("text", "answer"), ANSWERS)
def test_answers(text: str, answer: str) -> None:
    assert say(text) == answer


# Tips and splits: the amounts people pay are what matter.
MONEY = [
    ("calculate a 15% tip on $45.50", ["$6.83", "$52.33"]),
    ("18 percent tip on 62 dollars", ["An 18% tip", "$11.16", "$73.16"]),
    ("how much is a twenty percent tip on 60 dollars", ["$12.00", "$72.00"]),
    ("what's a 20% tip on $100 split 4 ways", ["$20.00", "$120.00", "$30.00 each"]),
    ("tip on $50", ["$7.50", "$9.00", "$10.00"]),
    ("split 120 between 4", ["120 split 4 ways is 30 each."]),
    ("split a $90 bill three ways", ["$90.00 split 3 ways is $30.00 each."]),
    ("split 120 dollars between 4 people", ["$30.00 each"]),
    ("we owe 86 euros, split it three ways", ["€86.00", "€28.67 each"]),
    ("split 100 between 3", ["33.33 each"]),
    ("15 percent tip for a bill of 45 dollars and 50 cents", ["$6.83", "$52.33"]),
    ("split 10 dollars and 20 cents between 2", ["$10.20 split 2 ways is $5.10 each."]),
    ("divide 90 between 3 people", ["30 each"]),
    ("we spent 210 on dinner for six, how much each", ["210 split 6 ways is 35 each."]),
]


@pytest.mark.parametrize(("text", "parts"), MONEY)
def test_tips_and_splits(text: str, parts: list[str]) -> None:
    answer = say(text)
    assert answer is not None
    for part in parts:
        assert part in answer


# Arithmetic that cannot be answered: a short spoken refusal, never an exception.
REFUSALS = [
    ("10 divided by 0", DIVIDE_BY_ZERO),
    ("what is five over zero", DIVIDE_BY_ZERO),
    ("7 mod 0", DIVIDE_BY_ZERO),
    ("0 to the power of -1", DIVIDE_BY_ZERO),
    ("1 / (2 - 2)", DIVIDE_BY_ZERO),
    ("square root of -4", NO_REAL_ROOT.format(number="-4")),
    ("(-8) ^ 0.5", NO_REAL_ANSWER),
    ("9**9**9**9", TOO_LARGE),
    ("10 to the power of 100000", TOO_LARGE),
    ("2^2^2^2^2^2", TOO_LARGE),
    ("1000 factorial", TOO_LARGE),
    ("factorial of 100 factorial", TOO_LARGE),
    ("10^1000 * 10^1000", TOO_LARGE),
    ("0.5 to the power of 100000", TOO_SMALL),
    ("2.5 factorial", BAD_FACTORIAL),
    ("times times 5", NOT_UNDERSTOOD),
    ("5 plus", "Sorry, I didn't catch the last number. What was it?"),
    ("(2 + 3", NOT_UNDERSTOOD),
    ("2 + 3)", NOT_UNDERSTOOD),
    ("5 * / 2", NOT_UNDERSTOOD),
    ("(" * 60 + "1" + ")" * 60, TOO_LONG),
    ("1+" * 1000 + "1", TOO_LONG),
    ("tip on 50 and 60", TIP_HELP),
    ("split it three ways", SPLIT_HELP),
    ("split 100 between 2.5", BAD_SPLIT),
    ("split 100 between 0 people", BAD_SPLIT),
]


@pytest.mark.parametrize(("text", "refusal"), REFUSALS)
def test_refusals(text: str, refusal: str) -> None:
    assert say(text) == refusal


# Not arithmetic at all: None, so another skill (units) or the LLM can answer.
NOT_MINE = [
    "what is love",
    "import os",
    "__import__('os')",
    "().__class__.__bases__[0].__subclasses__()",
    "(1).__class__",
    "2 .real",
    "lambda: 1",
    "x + y",
    "what is 5",
    "minus 5",
    "5 5",
    "convert 5 miles to kilometers",
    "how many feet in 3 meters",
    "set a timer for 5 minutes",
    "what's the weather like",
    "",
    "blah " * 200,
]


@pytest.mark.parametrize("text", NOT_MINE)
def test_not_for_the_calculator(text: str) -> None:
    assert calculate(Request(text)) is None


HOSTILE = [
    "9**9**9**9",
    "9^9^9^9^9^9^9^9^9^9",
    "10 to the power of 100000",
    "10 ** 10 ** 10",
    "(10 ** 1000) ** 0.5",
    "cube root of 10 ^ 1000",
    "1.0000001 ^ 123456789",
    "450! * 450! * 450!",
    "__import__('os').system('echo hi')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: (yield)",
    "(" * 10000 + ")" * 10000,
    "-" * 100000 + "1",
    "9" * 100000,
    "1+" * 100000 + "1",
    "twenty " * 10000,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_answered_quickly(text: str) -> None:
    start = time.perf_counter()
    answer = say(text)
    assert time.perf_counter() - start < 0.1
    assert answer is None or len(answer) < 120  # a short sentence, never a 1,000-digit number


def test_large_exact_results_are_spoken_in_powers_of_ten() -> None:
    assert say("2 to the power of 200") == (
        "2 to the power of 200 is about 1.60694 times 10 to the power of 60."
    )
    assert say("square root of 10^1000") == (
        "The square root of 10 to the power of 1,000 is 1 times 10 to the power of 500."
    )


def test_near_one_powers_use_floats_instead_of_huge_fractions() -> None:
    assert say("1.0001 ^ 100000") == ("1.0001 to the power of 100,000 is about 22,015.45605.")


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        (Fraction(175), "175"),
        (Fraction(1024), "1,024"),
        (Fraction(7, 2), "3.5"),
        (Fraction(1, 3), "0.333333"),
        (2.0000000000000004, "2"),
        (Fraction(-5), "-5"),
        (Fraction(10) ** 20, "1 times 10 to the power of 20"),
        (Fraction(1, 10**9), "1 times 10 to the power of -9"),
        (123456789.123456, "123,456,789.1"),
    ],
)
def test_format_number(value: Fraction | float, spoken: str) -> None:
    assert format_number(value) == spoken


def test_utility_skill_tries_the_calculator_then_units() -> None:
    skill = UtilitySkill()
    assert skill.handle(Request("what is 25 times 7")).spoken == "25 times 7 is 175."
    converted = skill.handle(Request("convert 5 miles to kilometers"))
    assert converted.spoken == "5 miles is 8.05 kilometers."
    assert converted.data == {"from": "mile", "to": "kilometer", "amount": 5}
    assert skill.handle(Request("what is love")) is None


# -- the structured result ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "data"),
    [
        ("what is 25 times 7", 175, {"expression": "25 times 7"}),
        ("7 over 2", 3.5, {"expression": "7 divided by 2"}),
        ("1 divided by 3", pytest.approx(1 / 3), {"expression": "1 divided by 3"}),
        ("2 to the power of 64", 2**64, {"expression": "2 to the power of 64"}),
        ("sqrt(2)", pytest.approx(2**0.5), {"expression": "the square root of 2"}),
        (
            "how much is 3 times $4.50",
            13.5,
            {"expression": "3 times $4.50", "currency": "$"},
        ),
        ("15% off $80", 68, {"expression": "15% off $80.00", "currency": "$"}),
        ("20 is what percent of 80", 25, {"expression": "20 as a percentage of 80"}),
        (
            "split 120 between 4",
            30,
            {"expression": "120 split 4 ways", "amount": 120, "people": 4},
        ),
        (
            "calculate a 15% tip on $45.50",
            6.83,
            {
                "expression": "a 15% tip on $45.50",
                "currency": "$",
                "bill": 45.5,
                "rate": 15,
                "total": 52.33,
            },
        ),
    ],
)
def test_results_carry_the_number_and_the_expression(text: str, value, data: dict) -> None:
    result = calculate(Request(text))
    assert result.status == "done"
    assert result.value == value
    assert result.data == data


def test_exact_whole_numbers_stay_ints() -> None:
    assert isinstance(calculate(Request("0.5 times 4")).value, int)
    assert isinstance(calculate(Request("10 divided by 4")).value, float)


def test_a_tip_without_a_rate_offers_three() -> None:
    result = calculate(Request("tip on $50"))
    assert result.value == {"15%": 7.5, "18%": 9, "20%": 10}


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("10 divided by 0", "failed"),
        ("1000 factorial", "failed"),
        ("1+" * 1000 + "1", "failed"),
        ("tip on 50 and 60", "ask"),
        ("split it three ways", "ask"),
        ("split 100 between 0 people", "failed"),
        ("5 plus", "ask"),
    ],
)
def test_refusals_say_whether_more_is_needed_or_it_failed(text: str, status: str) -> None:
    result = calculate(Request(text))
    assert result.status == status
    assert result.value is None


def test_a_broken_expression_is_not_caught_when_heard_and_not_understood_when_typed() -> None:
    assert calculate(Request("5 * / 2", spoken=True)).spoken == "Sorry, I didn't catch that."
    assert calculate(Request("5 * / 2")).spoken == "Sorry, I didn't understand that."


@pytest.mark.parametrize(
    ("text", "word", "blank"),
    [
        ("What's 15% of maybe dollars?", "maybe", ["What's 15% of", "dollars?"]),
        ("what is 25 times tree", "tree", ["what is 25 times", ""]),
        ("split sixty dollars between for people", None, None),  # "for": a word it knows
        ("convert 5 miles to km", None, None),  # a conversion, not a missing number
        ("what is 12 plus 7", None, None),
        ("who won the cup in 1966", None, None),
    ],
)
def test_a_word_where_a_number_belongs_is_asked_for_again(text, word, blank) -> None:
    result = UtilitySkill().handle(Request(text))
    if word is None:
        assert result is None or result.status != "ask" or "blank" not in result.data
        return
    assert result.status == "ask" and f'"{word}"' in result.spoken
    assert result.data["blank"] == blank
