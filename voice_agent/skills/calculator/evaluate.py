"""Exact arithmetic over Fractions (floats only for roots and non-integer powers), with every
operation bounded: "9**9**9**9" is refused in microseconds instead of eating CPU or memory."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from voice_agent.skills.calculator.errors import (
    BAD_FACTORIAL,
    DIVIDE_BY_ZERO,
    NO_REAL_ANSWER,
    NO_REAL_ROOT,
    TOO_LARGE,
    TOO_SMALL,
    CalcError,
)
from voice_agent.skills.calculator.parser import Call, Node, Percent, Unary
from voice_agent.skills.calculator.spoken import format_number
from voice_agent.skills.calculator.tokens import Num, Value

MAX_BITS = 3400  # about 1,000 decimal digits: far more than anyone can listen to
MAX_FACTORIAL = 450  # 450! has about 1,000 digits


def evaluate(node: Node) -> Value:
    """The value of a parsed expression; raises CalcError with a spoken reason."""
    try:
        return _value(node)
    except OverflowError:  # a float meeting an exact number too large for one: √7 + 7^1000
        raise CalcError(TOO_LARGE) from None


def _value(node: Node) -> Value:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Unary):
        return -_value(node.operand)
    if isinstance(node, Percent):
        return _value(node.operand) / 100
    if isinstance(node, Call):
        return _checked(_FUNCTIONS[node.name](_value(node.arg)))
    left = _value(node.left)
    if node.op in ("+", "-") and isinstance(node.right, Percent):
        # "50 plus 10%" means 55, as on any pocket calculator
        change = left * _value(node.right)
        return _checked(left + change if node.op == "+" else left - change)
    return _checked(_BINARY[node.op](left, _value(node.right)))


def _checked(value: Value) -> Value:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalcError(TOO_LARGE)
        return value
    if value.numerator.bit_length() - value.denominator.bit_length() > MAX_BITS:
        raise CalcError(TOO_LARGE)
    if value.denominator.bit_length() > MAX_BITS:
        return value.limit_denominator(10**30)  # keeps the size bounded; still far too precise
    return value


def divide(left: Value, right: Value) -> Value:
    if right == 0:
        raise CalcError(DIVIDE_BY_ZERO)
    return left / right


def _modulo(left: Value, right: Value) -> Value:
    if right == 0:
        raise CalcError(DIVIDE_BY_ZERO)
    return left % right


def _power(base: Value, exponent: Value) -> Value:
    if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1:
        return _exact_power(base, exponent.numerator)
    return _float_power(base, exponent)


def _exact_power(base: Fraction, exponent: int) -> Value:
    if base == 0:
        if exponent < 0:
            raise CalcError(DIVIDE_BY_ZERO)
        return Fraction(0 if exponent else 1)
    if abs(base) == 1:
        return Fraction(-1 if base < 0 and exponent % 2 else 1)
    grows = (exponent > 0) == (abs(base) > 1)
    # Estimate the size of the result from logarithms before doing any work.
    if exponent.bit_length() > 64 or abs(exponent) * abs(_log2(base)) > MAX_BITS:
        raise CalcError(TOO_LARGE if grows else TOO_SMALL)
    size = abs(exponent) * max(base.numerator.bit_length(), base.denominator.bit_length())
    if size > 4 * MAX_BITS:  # e.g. 1.0001 ** 100000: a modest value with a huge exact form
        return _float_power(base, Fraction(exponent))
    return base**exponent


def _log2(value: Fraction) -> float:
    return math.log2(abs(value.numerator)) - math.log2(value.denominator)


def _float_power(base: Value, exponent: Value) -> Value:
    b, e = _float(base), _float(exponent)
    if b == 0 and e < 0:
        raise CalcError(DIVIDE_BY_ZERO)
    if b < 0 and not e.is_integer():
        # odd roots of negative numbers are real: (-8) ** (1/3) is -2
        if isinstance(exponent, Fraction) and exponent.denominator % 2:
            magnitude = _float_power(-base, exponent)
            return -magnitude if exponent.numerator % 2 else magnitude
        raise CalcError(NO_REAL_ANSWER)
    try:
        return math.pow(b, e)
    except OverflowError:
        raise CalcError(TOO_LARGE) from None


def _float(value: Value) -> float:
    try:
        return float(value)
    except OverflowError:
        raise CalcError(TOO_LARGE) from None


def _root(value: Value, n: int) -> Value:
    if value < 0:
        if n % 2 == 0:
            raise CalcError(NO_REAL_ROOT.format(number=format_number(value)))
        return -_root(-value, n)
    if isinstance(value, Fraction):
        numerator, denominator = _exact_root(value.numerator, n), _exact_root(value.denominator, n)
        if numerator is not None and denominator is not None:
            return Fraction(numerator, denominator)
    return _float(value) ** (1 / n)


def _exact_root(value: int, n: int) -> int | None:
    """The integer n-th root of a non-negative int, if it is exact (Newton's method)."""
    if value < 2:
        return value
    root = 1 << -(-value.bit_length() // n)  # a power of two above the root
    while True:
        better = ((n - 1) * root + value // root ** (n - 1)) // n
        if better >= root:
            return root if root**n == value else None
        root = better


def _factorial(value: Value) -> Value:
    if not isinstance(value, Fraction) or value.denominator != 1 or value < 0:
        raise CalcError(BAD_FACTORIAL)
    if value > MAX_FACTORIAL:
        raise CalcError(TOO_LARGE)
    return Fraction(math.factorial(value.numerator))


_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "of": lambda a, b: a * b,
    "/": divide,
    "mod": _modulo,
    "^": _power,
}
_FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    "sqrt": lambda value: _root(value, 2),
    "cbrt": lambda value: _root(value, 3),
    "fact": _factorial,
}
