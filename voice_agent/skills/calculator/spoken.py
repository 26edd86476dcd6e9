"""Numbers, money and expressions as they are read out: "1,024", "about 0.333333", "$6.83",
"1.26765 times 10 to the power of 30", "2 times (3 plus 4)"."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from voice_agent.skills.calculator.parser import Binary, Call, Node, Percent, Unary
from voice_agent.skills.calculator.tokens import Num, Value

PLAIN_LIMIT = 10**16  # integers from here on are spoken as powers of ten
MAX_SIGNIFICANT = 10  # digits read out: 22,015.456 rather than 22,015.456049


def format_number(value: Value, decimals: int = 6) -> str:
    """A number as it should be read out: "1,024", "0.333333", "1.26765 times 10 to the
    power of 30". Float noise such as 2.0000000000000004 is read as 2."""
    return _render(value, decimals)[0]


def format_scientific(value: Value, digits: int = 5) -> str:
    """Say a number in powers of ten ("1.26765 times 10 to the power of 30"), with up to
    `digits` decimals in the mantissa."""
    return _scientific(Fraction(value), digits)[0]


def _render(value: Value, decimals: int) -> tuple[str, Fraction]:
    """The spoken form of `value` and the exact number that form stands for."""
    exact = Fraction(_snap(value))
    if abs(exact) >= PLAIN_LIMIT:
        return _scientific(exact, 5)
    decimals = max(0, min(decimals, MAX_SIGNIFICANT - len(str(abs(int(exact))))))
    rounded = round(exact, decimals)
    if rounded == 0 and exact != 0:
        return _scientific(exact, 5)
    return _group(rounded, decimals), rounded


def _scientific(value: Fraction, digits: int) -> tuple[str, Fraction]:
    if value == 0:
        return "0", value
    magnitude = abs(value)
    exponent = math.floor(math.log10(magnitude.numerator) - math.log10(magnitude.denominator))
    mantissa = magnitude / Fraction(10) ** exponent
    while mantissa >= 10:  # the logarithm may be off by one near powers of ten
        mantissa, exponent = mantissa / 10, exponent + 1
    while mantissa < 1:
        mantissa, exponent = mantissa * 10, exponent - 1
    mantissa = round(mantissa, digits)
    if mantissa == 10:
        mantissa, exponent = Fraction(1), exponent + 1
    sign = "-" if value < 0 else ""
    text = f"{sign}{_group(mantissa, digits)} times 10 to the power of {exponent}"
    return text, (-1 if sign else 1) * mantissa * Fraction(10) ** exponent


def _snap(value: Value) -> Value:
    if isinstance(value, float) and abs(value) < PLAIN_LIMIT:
        nearest = round(value)
        if abs(value - nearest) <= 1e-12 * max(1.0, abs(value)):
            return Fraction(nearest)
    return value


def _group(value: Fraction, decimals: int) -> str:
    """Digits with thousands separators and no trailing zeros; `value` is already rounded."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    text = f"{exact:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def approx(value: Value, decimals: int = 6) -> str:
    """The number as spoken, with "about" when it had to be rounded."""
    text, said = _render(value, decimals)
    return text if said == Fraction(_snap(value)) else f"about {text}"


def round_money(value: Value) -> Decimal:
    exact = Fraction(value)
    amount = Decimal(exact.numerator) / Decimal(exact.denominator)
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money(value: Value, currency: str) -> str:
    """Money as said: "$6.83" with a currency symbol, else plain with at most two decimals."""
    amount = round_money(value)
    if not currency:
        return _group(Fraction(amount), 2)
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency}{abs(amount):,.2f}"


def said(num: Num) -> str:
    return money(num.value, num.currency) if num.currency else num.text


# -- saying the question back -------------------------------------------------------------------

_OP_WORDS = {
    "+": "plus",
    "-": "minus",
    "*": "times",
    "/": "divided by",
    "of": "of",
    "mod": "modulo",
}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "of": 2, "mod": 2, "^": 4}


def say_expression(node: Node) -> str:
    """An expression said back in words, with brackets only where they change its meaning."""
    if isinstance(node, Num):
        return said(node)
    if isinstance(node, Unary):
        if isinstance(node.operand, Num):
            return f"-{said(node.operand)}"
        return f"minus {_wrap(node.operand, 4)}"
    if isinstance(node, Percent):
        return f"{_wrap(node.operand, 5)}%"
    if isinstance(node, Call):
        if node.name == "fact":
            return f"{_wrap(node.arg, 5)} factorial"
        root = "square" if node.name == "sqrt" else "cube"
        return f"the {root} root of {_wrap(node.arg, 3)}"
    if node.op == "^":
        exponent = node.right.value if isinstance(node.right, Num) else None
        if exponent in (2, 3):
            return f"{_wrap(node.left, 5)} {'squared' if exponent == 2 else 'cubed'}"
        return f"{_wrap(node.left, 5)} to the power of {_wrap(node.right, 4)}"
    precedence = _PRECEDENCE[node.op]
    right = _wrap(node.right, precedence + 1)
    return f"{_wrap(node.left, precedence)} {_OP_WORDS[node.op]} {right}"


def _wrap(node: Node, minimum: int) -> str:
    """`node` said in brackets when it binds more loosely than its context needs."""
    text = say_expression(node)
    return f"({text})" if _precedence(node) < minimum else text


def _precedence(node: Node) -> int:
    if isinstance(node, Binary):
        return _PRECEDENCE[node.op]
    if isinstance(node, Unary):
        return 3
    return 5
