"""Spoken arithmetic: "twenty five times seven", "a 15% tip on $45.50", "split 120 between 4".

The words are normalised into tokens, parsed by a small recursive-descent parser and evaluated
exactly with Fractions (floats only for roots and non-integer powers). Nothing is ever passed to
eval/exec, and every operation is bounded so hostile input ("9**9**9**9") is refused in
microseconds instead of eating CPU or memory.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from voice_agent.skills.number_words import SMALL, TENS

Value = Fraction | float

MAX_CHARS = 300  # nobody speaks a longer sum; also bounds parser recursion
MAX_DEPTH = 40  # nesting of brackets, signs and powers
MAX_BITS = 3400  # about 1,000 decimal digits: far more than anyone can listen to
MAX_FACTORIAL = 450  # 450! has about 1,000 digits
PLAIN_LIMIT = 10**16  # integers from here on are spoken as powers of ten
MAX_SIGNIFICANT = 10  # digits read out: 22,015.456 rather than 22,015.456049

DIVIDE_BY_ZERO = "I can't divide by zero."
TOO_LARGE = "That number is too large for me to work out."
TOO_SMALL = "That number is too close to zero for me to say."
NO_REAL_ANSWER = "That has no real-number answer."
NOT_UNDERSTOOD = "Sorry, I couldn't follow that calculation."
TOO_LONG = "That's too long for me to work out. Try a shorter calculation."
BAD_FACTORIAL = "I can only take the factorial of a whole number that isn't negative."
TIP_HELP = "Tell me the bill and the tip, like: a 15 percent tip on 45 dollars."
SPLIT_HELP = "Tell me the amount and how many ways to split it, like: split 120 between 4."
BAD_SPLIT = "I can only split between a whole number of people, at least one."


class CalcError(Exception):
    """A calculation the user asked for but that has no sayable answer; the message is spoken."""


# -- number words -------------------------------------------------------------------------------

_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_MULTIPLIERS = {"hundred", "dozen", *_SCALES}
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_AND_FRACTIONS = {"half": Decimal("0.5"), "quarter": Decimal("0.25")}
_DIGIT_WORDS = {word: str(value) for word, value in SMALL.items() if value < 10}
_DIGITS = ("unit", "teen", "ten")
_KINDS = {
    **{word: "unit" for word, value in SMALL.items() if 0 < value < 10},
    **{word: "teen" for word, value in SMALL.items() if value >= 10},
    **{word: "ten" for word in TENS},
    **{word: "scale" for word in _SCALES},
    "hundred": "hundred",
    "dozen": "dozen",
}
# Which kinds of word may come before each kind within one number: "twenty five", "one hundred
# and twelve", but not "five twenty" (two numbers) or "thousand million".
_MAY_FOLLOW = {
    "unit": ("", "ten", "hundred", "scale", "and"),
    "teen": ("", "hundred", "scale", "and"),
    "ten": ("", "hundred", "scale", "and"),
    "hundred": _DIGITS,
    "scale": (*_DIGITS, "hundred"),
    "dozen": (*_DIGITS, "hundred"),
}


def numberize(words: list[str]) -> list[str]:
    """Replace runs of number words with digits: "twenty five" -> "25", "one hundred and twelve"
    -> "112", "three point five" -> "3.5", "a dozen" -> "12", "2.5 million" -> "2500000"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        number, end = _read_number(words, i)
        if end > i:
            out.append(number)
            i = end
        else:
            out.append(words[i])
            i += 1
    return out


def _read_number(words: list[str], start: int) -> tuple[str, int]:
    """Read one spoken number at `start`; return its digits and the index after it."""
    total, group = Decimal(0), Decimal(0)  # completed scale groups, and the part below them
    last = ""  # the kind of the previous word, "" before the first
    largest = math.inf
    i = start
    first = words[start]
    multiplied = _at(words, start + 1) in _MULTIPLIERS
    if multiplied and (first in ("a", "an") or _NUMBER_RE.fullmatch(first)):
        group = Decimal(1) if first in ("a", "an") else Decimal(first)  # "a hundred", "2.5 million"
        last, i = "unit", start + 1
    while i < len(words):
        word, following = words[i], _at(words, i + 1)
        kind = _KINDS.get(word, "")
        if word == "zero" and not last:
            kind = "zero"
        elif kind in ("unit", "teen", "ten") and last in _MAY_FOLLOW[kind]:
            group += SMALL.get(word) or TENS[word]
        elif kind == "hundred" and last in _MAY_FOLLOW[kind] and group < 100:
            group *= 100
        elif kind == "scale" and last in _MAY_FOLLOW[kind] and _SCALES[word] < largest:
            total, group, largest = total + group * _SCALES[word], Decimal(0), _SCALES[word]
        elif kind == "dozen" and last in _MAY_FOLLOW[kind]:
            return _digits((total + group) * 12), i + 1
        elif word == "and" and last in ("hundred", "scale") and _KINDS.get(following) in _DIGITS:
            kind = "and"  # "one hundred and twelve"
        elif word == "and" and last and following == "a" and _at(words, i + 2) in _AND_FRACTIONS:
            return _digits(total + group + _AND_FRACTIONS[words[i + 2]]), i + 3
        elif word == "point" and following in _DIGIT_WORDS:
            return _read_decimals(words, i + 1, total + group)
        else:
            break
        last = kind
        i += 1
    if not last or (i == start + 1 and first in ("a", "an")):
        return "", start
    return _digits(total + group), i


def _read_decimals(words: list[str], start: int, whole: Decimal) -> tuple[str, int]:
    """The digits after "point": "three point one four" -> 3.14."""
    i, decimals = start, ""
    while _at(words, i) in _DIGIT_WORDS:
        decimals += _DIGIT_WORDS[words[i]]
        i += 1
    return _digits(whole + Decimal("0." + decimals)), i


def _at(words: list[str], index: int) -> str:
    return words[index] if index < len(words) else ""


def _digits(value: Decimal) -> str:
    return format(value.normalize(), "f")


# -- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: Value
    text: str  # how to say it back
    currency: str = ""


Token = Num | str

_UNICODE = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "√": " sqrt ", "’": "", "'": ""})
_LEX_RE = re.compile(r"\s+|\d+(?:\.\d+)?|\.\d+|[a-z]+|\*\*|[-+*/^()%!$€£²³=,?.:;]")
_PUNCTUATION = {",", "?", ".", ":", ";"}
_CURRENCY_SYMBOLS = {"$", "€", "£"}
_CURRENCY_WORDS = {"dollar": "$", "dollars": "$", "bucks": "$", "euro": "€", "euros": "€"}

# Spoken operators, longest first where they share a prefix. "" drops a filler word.
_PHRASES: dict[tuple[str, ...], str] = {
    ("plus",): "+",
    ("minus",): "-",
    ("negative",): "-",
    ("times",): "*",
    ("x",): "*",
    ("multiplied", "by"): "*",
    ("divided", "by"): "/",
    ("over",): "/",
    ("**",): "^",
    ("raised", "to", "the", "power", "of"): "^",
    ("raised", "to", "the"): "^",
    ("raised", "to"): "^",
    ("to", "the", "power", "of"): "^",
    ("to", "the"): "^",
    ("squared",): "²",
    ("cubed",): "³",
    ("square", "root", "of"): "sqrt",
    ("square", "root"): "sqrt",
    ("cube", "root", "of"): "cbrt",
    ("cube", "root"): "cbrt",
    ("factorial", "of"): "fact",
    ("factorial",): "!",
    ("percent",): "%",
    ("per", "cent"): "%",
    ("percentage",): "%",
    ("mod",): "mod",
    ("modulo",): "mod",
    ("the",): "",
    ("equals",): "",
    ("equal", "to"): "",
    ("=",): "",
    ("please",): "",
}
_LONGEST_PHRASE = max(len(phrase) for phrase in _PHRASES)
_FRACTIONS = {
    "half": 2,
    "third": 3,
    "quarter": 4,
    "fourth": 4,
    "fifth": 5,
    "eighth": 8,
    "tenth": 10,
}
_FRACTIONS |= {word + "s": denominator for word, denominator in _FRACTIONS.items()}
_FRACTIONS["halves"] = 2
_ORDINALS = {"second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7}
_ORDINAL_SUFFIXES = {"st", "nd", "rd", "th"}
_LEADING_FILLERS = {
    *"hey ok okay so um uh please can could would will you tell me us what whats is are".split(),
    *"calculate compute evaluate solve work figure out how much find give do".split(),
}
_OPERATORS = {*"+-*/^()%!²³", "sqrt", "cbrt", "fact", "mod", "of"}


def _lex(text: str) -> list[str] | None:
    """Split normalised text into words, numbers and symbols; None if it holds anything else."""
    words: list[str] = []
    pos = 0
    while pos < len(text):
        match = _LEX_RE.match(text, pos)
        if match is None:
            return None
        word = match.group()
        # "5! + 1" is a factorial; "what's 5 plus 5!" is an exclamation
        glued = pos and (text[pos - 1].isdigit() or text[pos - 1] == ")")
        if word == "!" and not (glued and text[match.end() :].strip()):
            word = "."
        if not word.isspace() and word not in _PUNCTUATION:
            words.append(word)
        pos = match.end()
    return words


def _clean(text: str) -> str:
    text = text.lower().translate(_UNICODE)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,024 -> 1024
    return re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # twenty-five -> twenty five


def _tokenise(words: list[str]) -> list[Token]:
    """Numbers become `Num`s (with any currency), spoken operators become symbols; other words
    are kept as they are for the special forms (tips, splits) to read."""
    tokens: list[Token] = []
    currency = ""
    i = 0
    while i < len(words):
        word = words[i]
        length, symbol = _match_phrase(words, i)
        if word in _CURRENCY_SYMBOLS:
            currency = word
        elif _NUMBER_RE.fullmatch(word):
            value = Fraction(word)
            text = _money(value, currency) if currency else _group_typed(word)
            tokens.append(Num(value, text, currency))
            currency = ""
        elif word in _CURRENCY_WORDS and tokens and isinstance(tokens[-1], Num):
            tokens[-1] = _with_currency(tokens[-1], _CURRENCY_WORDS[word])
        elif word in ("cent", "cents") and tokens and isinstance(cents := tokens[-1], Num):
            _add_cents(tokens, cents)
        elif word == "pi":
            tokens.append(Num(math.pi, "pi"))
        elif length:
            if symbol:
                tokens.append(symbol)
            i += length
            continue
        else:
            tokens.append(_word_token(tokens, word))
        i += 1
    return tokens


def _match_phrase(words: list[str], start: int) -> tuple[int, str]:
    for length in range(_LONGEST_PHRASE, 0, -1):
        symbol = _PHRASES.get(tuple(words[start : start + length]))
        if symbol is not None:
            return length, symbol
    return 0, ""


def _with_currency(num: Num, currency: str) -> Num:
    return replace(num, text=_money(num.value, currency), currency=currency)


def _add_cents(tokens: list[Token], cents: Num) -> None:
    """Replace the last token, `cents`, by money: "50 cents" is $0.50, and "45 dollars and 50
    cents" one amount, $45.50."""
    tokens.pop()
    value, currency = cents.value / 100, "$"
    if len(tokens) > 1 and tokens[-1] == "and" and isinstance(whole := tokens[-2], Num):
        del tokens[-2:]
        value, currency = whole.value + value, whole.currency or "$"
    tokens.append(_with_currency(Num(value, ""), currency))


def _word_token(tokens: list[Token], word: str) -> Token:
    """Ordinals after a power ("to the third"), fractions ("half", "two thirds") and the
    words around them; may consume the previous token."""
    previous = tokens[-1] if tokens else None
    if previous == "^" and word in _ORDINALS:
        return Num(Fraction(_ORDINALS[word]), str(_ORDINALS[word]))
    if isinstance(previous, Num) and len(tokens) > 1 and tokens[-2] == "^":
        if word in _ORDINAL_SUFFIXES or word == "power":
            return ""  # "2 to the 10th power": the exponent is already read
    if word in _FRACTIONS:
        denominator = _FRACTIONS[word]
        if isinstance(previous, Num) and _is_whole(previous.value) and previous.value > 0:
            tokens.pop()  # "two thirds"
            return Num(previous.value / denominator, f"{previous.text} {word}")
        if previous in ("a", "an"):
            tokens.pop()
            return Num(Fraction(1, denominator), f"{previous} {word}")
        return Num(Fraction(1, denominator), word)
    return word


def _is_whole(value: Value) -> bool:
    return isinstance(value, Fraction) and value.denominator == 1


def _strip_fillers(tokens: list[Token]) -> list[Token]:
    tokens = [token for token in tokens if token != ""]
    start = 0
    while start < len(tokens) and tokens[start] in _LEADING_FILLERS:
        start += 1
    return tokens[start:]


# -- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unary:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str  # sqrt, cbrt, fact
    arg: Node


@dataclass(frozen=True)
class Percent:
    operand: Node


Node = Num | Unary | Binary | Call | Percent


class _Parser:
    """expr := term (+|- term)*;  term := unary (*|/|of|mod unary)*;  unary := -unary | power;
    power := postfix (^ unary)?;  postfix := atom (%|!|²|³)*;
    atom := number | ( expr ) | sqrt|cbrt|fact unary."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def parse(self) -> Node:
        node = self.expr()
        if self.pos != len(self.tokens):
            raise CalcError(NOT_UNDERSTOOD)
        return node

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise CalcError(NOT_UNDERSTOOD)
        self.pos += 1
        return token

    @contextmanager
    def nested(self) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalcError(TOO_LONG)
        yield
        self.depth -= 1

    def expr(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = str(self.take())
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (token := self.peek()) in ("*", "/", "of", "mod", "("):
            if token != "(":  # "2(3 + 4)" multiplies
                self.take()
            node = Binary("*" if token == "(" else str(token), node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() in ("-", "+"):
            sign = self.take()
            with self.nested():
                operand = self.unary()
            return Unary(operand) if sign == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        with self.nested():
            return Binary("^", base, self.unary())

    def postfix(self) -> Node:
        node = self.atom()
        while (token := self.peek()) in ("%", "!", "²", "³"):
            self.take()
            if token == "%":
                node = Percent(node)
            elif token == "!":
                node = Call("fact", node)
            else:
                exponent = 2 if token == "²" else 3
                node = Binary("^", node, Num(Fraction(exponent), str(exponent)))
        return node

    def atom(self) -> Node:
        token = self.take()
        if isinstance(token, Num):
            return token
        if token == "(":
            with self.nested():
                node = self.expr()
            if self.take() != ")":
                raise CalcError(NOT_UNDERSTOOD)
            return node
        if token in ("sqrt", "cbrt", "fact"):
            with self.nested():
                return Call(token, self.unary())
        raise CalcError(NOT_UNDERSTOOD)


# -- evaluation ---------------------------------------------------------------------------------


def evaluate(node: Node) -> Value:
    """The value of a parsed expression; raises CalcError with a spoken reason."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Unary):
        return -evaluate(node.operand)
    if isinstance(node, Percent):
        return evaluate(node.operand) / 100
    if isinstance(node, Call):
        return _checked(_FUNCTIONS[node.name](evaluate(node.arg)))
    left = evaluate(node.left)
    if node.op in ("+", "-") and isinstance(node.right, Percent):
        # "50 plus 10%" means 55, as on any pocket calculator
        change = left * evaluate(node.right)
        return _checked(left + change if node.op == "+" else left - change)
    return _checked(_BINARY[node.op](left, evaluate(node.right)))


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


def _divide(left: Value, right: Value) -> Value:
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
            raise CalcError(NO_REAL_ANSWER)
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
    "/": _divide,
    "mod": _modulo,
    "^": _power,
}
_FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    "sqrt": lambda value: _root(value, 2),
    "cbrt": lambda value: _root(value, 3),
    "fact": _factorial,
}


# -- speaking numbers ---------------------------------------------------------------------------


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


def _group_typed(digits: str) -> str:
    """A number as typed, with thousands separators: "1024.50" -> "1,024.50"."""
    whole, dot, fraction = digits.partition(".")
    return f"{int(whole or 0):,}{dot}{fraction}"


def _round_money(value: Value) -> Decimal:
    exact = Fraction(value)
    amount = Decimal(exact.numerator) / Decimal(exact.denominator)
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _money(value: Value, currency: str) -> str:
    """Money as said: "$6.83" with a currency symbol, else plain with at most two decimals."""
    amount = _round_money(value)
    if not currency:
        return _group(Fraction(amount), 2)
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency}{abs(amount):,.2f}"


def _article(number_text: str) -> str:
    """The article for a number: "an" before 8, 11, 18, 80, 800, 11,000 (a vowel sound)."""
    return "an" if re.match(r"8|1[18](?!\d)", number_text) else "a"


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


def _say(node: Node) -> str:
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Unary):
        if isinstance(node.operand, Num):
            return f"-{node.operand.text}"
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
    text = _say(node)
    return f"({text})" if _precedence(node) < minimum else text


def _precedence(node: Node) -> int:
    if isinstance(node, Binary):
        return _PRECEDENCE[node.op]
    if isinstance(node, Unary):
        return 3
    return 5


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


# -- special forms: tips, splits, percentages, verbs --------------------------------------------

_COUNT_BEFORE = {"between", "among", "amongst", "by", "into"}
_COUNT_AFTER = {"ways", "way", "people", "persons", "friends", "guys"}
_SPLIT_WORDS = {"split", "splitting", "share", "shared"}
_TIP_OPTIONS = (15, 18, 20)  # offered when no rate is given


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
    value = count.value
    if not isinstance(value, Fraction) or value.denominator != 1 or value < 1:
        raise CalcError(BAD_SPLIT)
    return value.numerator


def _tip(tokens: list[Token]) -> str | None:
    if "tip" not in tokens:
        return None
    percents, counts, amounts = _roles(tokens)
    if len(amounts) != 1 or len(percents) > 1 or len(counts) > 1:
        return TIP_HELP
    currency = _currency(tokens)
    bill = amounts[0].value
    if not percents:
        low, mid, high = (_money(bill * rate / 100, currency) for rate in _TIP_OPTIONS)
        return f"On {_money(bill, currency)}, a 15% tip is {low}, 18% is {mid}, and 20% is {high}."
    rate = percents[0]
    tip = _round_money(bill * rate.value / 100)
    total = _round_money(bill) + tip
    answer = (
        f"{_article(rate.text)} {rate.text}% tip on {_money(bill, currency)} is "
        f"{_money(tip, currency)}, for a total of {_money(total, currency)}."
    )
    if counts:
        people = _people(counts[0])
        each = _money(Fraction(total) / people, currency)
        answer += f" Split {people} ways, that's {each} each."
    return answer[0].upper() + answer[1:]


def _split(tokens: list[Token]) -> str | None:
    words = {token for token in tokens if isinstance(token, str)}
    dividing = words & {"divide", "divided"} and words & (_COUNT_AFTER | {"between", "among"})
    each = "each" in words  # "210 on dinner for six, how much each"
    if not (words & _SPLIT_WORDS or dividing or each):
        return None
    percents, counts, amounts = _roles(tokens, _COUNT_BEFORE | {"for"} if each else _COUNT_BEFORE)
    if each and not counts and not words & _SPLIT_WORDS:
        return None
    if len(counts) != 1 or len(amounts) != 1 or percents:
        return SPLIT_HELP
    people = _people(counts[0])
    currency = _currency(tokens)
    amount = amounts[0].value
    each = _money(amount / people, currency)
    return f"{_money(amount, currency)} split {people} ways is {each} each."


def _shape(tokens: list[Token]) -> tuple[str, list[Num]]:
    """The tokens as a string with numbers as #0, #1... for the regular expressions below."""
    nums: list[Num] = []
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, Num):
            parts.append(f"#{len(nums)}")
            nums.append(token)
        else:
            parts.append(token)
    return " ".join(parts), nums


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


def _percent_forms(tokens: list[Token]) -> str | None:
    shape, nums = _shape(tokens)
    if match := _CHANGE_RE.fullmatch(shape):
        base, rate = nums[int(match["a"] or match["b"])], nums[int(match["p"])]
        up = (match["verb"] or match["verbed"]) in ("increase", "increased", "raise", "raised")
        result = base.value * (1 + rate.value / 100 if up else 1 - rate.value / 100)
        verb = "increased" if up else "decreased"
        return _sentence(f"{base.text} {verb} by {rate.text}% is {_result(result, tokens)}")
    if match := _DISCOUNT_RE.fullmatch(shape):
        rate, base = nums[int(match["p"])], nums[int(match["a"])]
        result = base.value * (1 - rate.value / 100)
        return _sentence(f"{rate.text}% off {base.text} is {_result(result, tokens)}")
    for pattern in _WHAT_PERCENT_RES:
        if match := pattern.fullmatch(shape):
            part, whole = nums[int(match["part"])], nums[int(match["whole"])]
            share = _divide(part.value, whole.value) * 100
            return _sentence(f"{part.text} is {_approx(share, 2)}% of {whole.text}")
    return None


def _average(tokens: list[Token]) -> str | None:
    shape, nums = _shape(tokens)
    match = _AVERAGE_RE.fullmatch(shape)
    if not match:
        return None
    values = [nums[int(index)] for index in re.findall(r"#(\d+)", match["list"])]
    mean = sum((num.value for num in values), Fraction(0)) / len(values)
    said = ", ".join(num.text for num in values[:-1]) + f" and {values[-1].text}"
    return _sentence(f"the average of {said} is {_result(mean, tokens)}")


def _verb_forms(tokens: list[Token]) -> list[Token] | None:
    """Verb phrasings ("add 5 and 3", "subtract 3 from 10") as plain expressions."""
    shape, nums = _shape(tokens)
    for pattern, op, reverse in _VERB_FORMS:
        if match := pattern.fullmatch(shape):
            left, right = (nums[int(group)] for group in match.groups() if group is not None)
            return [right, op, left] if reverse else [left, op, right]
    return None


def _result(value: Value, tokens: list[Token]) -> str:
    currency = _currency(tokens)
    return _money(value, currency) if currency else _approx(value)


def _approx(value: Value, decimals: int = 6) -> str:
    """The number as spoken, with "about" when it had to be rounded."""
    text, said = _render(value, decimals)
    return text if said == Fraction(_snap(value)) else f"about {text}"


def _expression(tokens: list[Token]) -> str | None:
    if any(isinstance(token, str) and token not in _OPERATORS for token in tokens):
        return None  # words that are not arithmetic: not for the calculator
    unsigned = list(itertools.dropwhile(lambda token: token in ("-", "+"), tokens))
    if all(isinstance(token, Num) for token in unsigned):
        return None  # numbers without arithmetic ("5", "minus 5") are not a question
    tree = _Parser(tokens).parse()
    value = evaluate(tree)
    return _sentence(f"{_say(tree)} is {_result(value, tokens)}")


_SPECIAL_FORMS: list[Callable[[list[Token]], str | None]] = [
    _tip,
    _split,
    _percent_forms,
    _average,
]
_ARITHMETIC_HINT = re.compile(r"\d|plus|minus|times|divided|power|root|percent")


def calculate(text: str) -> str | None:
    """Answer a spoken calculation in one sentence, or None when `text` is not arithmetic."""
    cleaned = _clean(text)
    if len(cleaned) > MAX_CHARS:
        return TOO_LONG if _ARITHMETIC_HINT.search(cleaned) else None
    words = _lex(cleaned)
    if words is None:
        return None
    tokens = _strip_fillers(_tokenise(numberize(words)))
    if not any(isinstance(token, Num) for token in tokens):
        return None
    try:
        for form in _SPECIAL_FORMS:
            answer = form(tokens)
            if answer is not None:
                return answer
        return _expression(_verb_forms(tokens) or tokens)
    except CalcError as error:
        return str(error)
