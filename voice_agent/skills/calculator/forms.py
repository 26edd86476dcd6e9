"""The ways a calculation is asked, each answered with a Result: tips, bill splits,
percentage changes, averages, verbs ("add 5 and 3") and plain expressions."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from fractions import Fraction
from typing import Any

from voice_agent.language.phrasing import article, capitalized, join_words, sentence
from voice_agent.skills.base import Result
from voice_agent.skills.calculator.errors import (
    BAD_SPLIT,
    NEGATIVE_TIP,
    SPLIT_HELP,
    TIP_HELP,
    CalcError,
    NeedsMore,
)
from voice_agent.skills.calculator.evaluate import divide, evaluate
from voice_agent.skills.calculator.parser import Node, parse
from voice_agent.skills.calculator.spoken import approx, money, round_money, said, say_expression
from voice_agent.skills.calculator.tokens import Num, Token, Value, is_whole

_COUNT_BEFORE = {"between", "among", "amongst", "by", "into"}
_COUNT_AFTER = {"ways", "way", "people", "persons", "friends", "guys"}
_SPLIT_WORDS = {"split", "splitting", "share", "shared"}
_TIP_OPTIONS = (15, 18, 20)  # offered when no rate is given
_OPERATORS = {*"+-*/^()%!²³", "sqrt", "cbrt", "fact", "mod", "of"}

_CHANGE_RE = re.compile(
    r"(?:(?P<verb>increase|raise|decrease|reduce|lower|cut) #(?P<a>\d+)"
    r"|#(?P<b>\d+) (?P<verbed>increased|raised|decreased|reduced|lowered|cut)) by #(?P<p>\d+) %"
)
_DISCOUNT_RE = re.compile(r"(?:take )?#(?P<p>\d+) % (?:off|discount on|discount off) #(?P<a>\d+)")
_WHAT_PERCENT_RES = [
    re.compile(r"#(?P<part>\d+) is what % of #(?P<whole>\d+)"),
    re.compile(r"(?:what )?% of #(?P<whole>\d+) is #(?P<part>\d+)"),
    re.compile(r"(?:what )?% is #(?P<part>\d+) of #(?P<whole>\d+)"),
    re.compile(r"#(?P<part>\d+) (?:out )?of #(?P<whole>\d+) (?:as|in) (?:a )?%"),
]
_AVERAGE_RE = re.compile(r"(?:average|mean) of (?P<list>(?:#\d+ (?:and )?)+#\d+)")
_VERB_FORMS = [  # (pattern, operator, whether the operands are said the other way round)
    (re.compile(r"(?:add #(\d+) (?:and|to)|sum of #(\d+) and) #(\d+)"), "+", False),
    (re.compile(r"subtract #(\d+) from #(\d+)"), "-", True),
    (re.compile(r"difference between #(\d+) and #(\d+)"), "-", False),
    (re.compile(r"(?:multiply #(\d+) (?:by|and|with)|product of #(\d+) and) #(\d+)"), "*", False),
    (re.compile(r"divide #(\d+) by #(\d+)"), "/", False),
]


def answer(tokens: list[Token]) -> Result | None:
    """The first form the tokens fit; None when they are not arithmetic. Raises CalcError."""
    for form in (_tip, _split, _percent_forms, _average):
        result = form(tokens)
        if result is not None:
            return result
    tokens = _verb_forms(tokens) or tokens
    tree = expression(tokens)
    return None if tree is None else _result(say_expression(tree), evaluate(tree), tokens)


def expression(tokens: list[Token]) -> Node | None:
    """The expression the tokens spell, or None when they hold words that are not arithmetic
    or numbers with nothing to do; raises NotUnderstood when the arithmetic is incomplete."""
    if any(isinstance(token, str) and token not in _OPERATORS for token in tokens):
        return None  # words that are not arithmetic: not for the calculator
    unsigned = list(itertools.dropwhile(lambda token: token in ("-", "+"), tokens))
    if all(isinstance(token, Num) for token in unsigned):
        return None  # numbers without arithmetic ("5", "minus 5") are not a question
    return parse(tokens)


def plain(value: Value) -> int | float:
    """A JSON-able number: whole numbers stay exact ints, others become floats."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return float(value)


def _details(expression: str, tokens: list[Token], **more: Any) -> dict[str, Any]:
    currency = _currency(tokens)
    return {"expression": expression, **({"currency": currency} if currency else {}), **more}


def _roles(
    tokens: list[Token], count_before: set[str] = _COUNT_BEFORE
) -> tuple[list[Num], list[Num], list[Num]]:
    """Sort the numbers into percentages, head counts and amounts by the words around them."""
    percents: list[Num] = []
    counts: list[Num] = []
    amounts: list[Num] = []
    for i, token in enumerate(tokens):
        if not isinstance(token, Num):
            continue
        before = tokens[i - 1] if i else None
        if before == "-" and (i < 2 or not isinstance(tokens[i - 2], Num)):
            # a sign ("a tip on -45"), not a subtraction: the number is negative
            token, before = replace(token, value=-token.value), tokens[i - 2] if i > 1 else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if after == "%":
            percents.append(token)
        elif before in count_before or after in _COUNT_AFTER:
            counts.append(token)
        else:
            amounts.append(token)
    return percents, counts, amounts


def _currency(tokens: list[Token]) -> str:
    return next((t.currency for t in tokens if isinstance(t, Num) and t.currency), "")


def _people(count: Num) -> int:
    if not is_whole(count.value) or count.value < 1:
        raise CalcError(BAD_SPLIT)
    return int(count.value)


def _tip(tokens: list[Token]) -> Result | None:
    if "tip" not in tokens:
        return None
    percents, counts, amounts = _roles(tokens)
    if len(amounts) != 1 or len(percents) > 1 or len(counts) > 1:
        raise NeedsMore(TIP_HELP)
    currency = _currency(tokens)
    bill = amounts[0].value
    if bill < 0 or any(rate.value < 0 for rate in percents):
        raise CalcError(NEGATIVE_TIP)
    if not percents:
        tips = {rate: round_money(bill * rate / 100) for rate in _TIP_OPTIONS}
        low, mid, high = (money(tip, currency) for tip in tips.values())
        return Result(
            f"On {money(bill, currency)}, a 15% tip is {low}, 18% is {mid}, and 20% is {high}.",
            value={f"{rate}%": plain(Fraction(tip)) for rate, tip in tips.items()},
            data=_details(f"a tip on {money(bill, currency)}", tokens, bill=plain(bill)),
        )
    rate = percents[0]
    tip = round_money(bill * rate.value / 100)
    total = round_money(bill) + tip
    asked = f"{article(said(rate))} {said(rate)}% tip on {money(bill, currency)}"
    spoken = f"{asked} is {money(tip, currency)}, for a total of {money(total, currency)}."
    data = _details(asked, tokens, bill=plain(bill), rate=plain(rate.value))
    data["total"] = plain(Fraction(total))
    if counts:
        people = _people(counts[0])
        each = Fraction(total) / people
        spoken += f" Split {people} ways, that's {money(each, currency)} each."
        data |= {"people": people, "each": plain(Fraction(round_money(each)))}
    return Result(capitalized(spoken), value=plain(Fraction(tip)), data=data)


def _split(tokens: list[Token]) -> Result | None:
    words = {token for token in tokens if isinstance(token, str)}
    dividing = words & {"divide", "divided"} and words & (_COUNT_AFTER | {"between", "among"})
    each = "each" in words  # "210 on dinner for six, how much each"
    if not (words & _SPLIT_WORDS or dividing or each):
        return None
    percents, counts, amounts = _roles(tokens, _COUNT_BEFORE | {"for"} if each else _COUNT_BEFORE)
    if each and not counts and not words & _SPLIT_WORDS:
        return None
    if len(counts) != 1 or len(amounts) != 1 or percents:
        raise NeedsMore(SPLIT_HELP)
    people = _people(counts[0])
    currency = _currency(tokens)
    amount = amounts[0].value
    share = amount / people
    asked = f"{money(amount, currency)} split {people} ways"
    return Result(
        f"{asked} is {money(share, currency)} each.",
        value=plain(Fraction(round_money(share))),
        data=_details(asked, tokens, amount=plain(amount), people=people),
    )


def _shape(tokens: list[Token]) -> tuple[str, list[Num]]:
    """The tokens as a string with numbers as #0, #1... for the regular expressions above."""
    nums: list[Num] = []
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, Num):
            parts.append(f"#{len(nums)}")
            nums.append(token)
        else:
            parts.append(token)
    return " ".join(parts), nums


def _percent_forms(tokens: list[Token]) -> Result | None:
    shape, nums = _shape(tokens)
    if match := _CHANGE_RE.fullmatch(shape):
        base, rate = nums[int(match["a"] or match["b"])], nums[int(match["p"])]
        up = (match["verb"] or match["verbed"]) in ("increase", "increased", "raise", "raised")
        result = base.value * (1 + rate.value / 100 if up else 1 - rate.value / 100)
        verb = "increased" if up else "decreased"
        return _result(f"{said(base)} {verb} by {said(rate)}%", result, tokens)
    if match := _DISCOUNT_RE.fullmatch(shape):
        rate, base = nums[int(match["p"])], nums[int(match["a"])]
        result = base.value * (1 - rate.value / 100)
        return _result(f"{said(rate)}% off {said(base)}", result, tokens)
    for pattern in _WHAT_PERCENT_RES:
        if match := pattern.fullmatch(shape):
            part, whole = nums[int(match["part"])], nums[int(match["whole"])]
            share = divide(part.value, whole.value) * 100
            return Result(
                sentence(f"{said(part)} is {approx(share, 2)}% of {said(whole)}"),
                value=plain(share),
                data=_details(f"{said(part)} as a percentage of {said(whole)}", tokens),
            )
    return None


def _average(tokens: list[Token]) -> Result | None:
    shape, nums = _shape(tokens)
    match = _AVERAGE_RE.fullmatch(shape)
    if not match:
        return None
    values = [nums[int(index)] for index in re.findall(r"#(\d+)", match["list"])]
    mean = sum((num.value for num in values), Fraction(0)) / len(values)
    return _result(f"the average of {join_words([said(num) for num in values])}", mean, tokens)


def _verb_forms(tokens: list[Token]) -> list[Token] | None:
    """Verb phrasings ("add 5 and 3", "subtract 3 from 10") as plain expressions."""
    shape, nums = _shape(tokens)
    for pattern, op, reverse in _VERB_FORMS:
        if match := pattern.fullmatch(shape):
            left, right = (nums[int(group)] for group in match.groups() if group is not None)
            return [right, op, left] if reverse else [left, op, right]
    return None


def _result(expression: str, value: Value, tokens: list[Token]) -> Result:
    """ "<expression> is <value>.", in money when money was said."""
    currency = _currency(tokens)
    if currency:
        return Result(
            sentence(f"{expression} is {money(value, currency)}"),
            value=plain(Fraction(round_money(value))),
            data=_details(expression, tokens),
        )
    return Result(
        sentence(f"{expression} is {approx(value)}"),
        value=plain(value),
        data=_details(expression, tokens),
    )
