"""From what was said to tokens: numbers (with any currency) and operator symbols.

"twenty five times seven" becomes [Num(25), "*", Num(7)]; words that are not arithmetic are
kept as they are, for the special forms (tips, splits) to read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction

from voice_agent.language.numbers import numbers_to_digits

# A number as the calculator holds it: exact, or a float once exactness is lost (roots,
# non-integer powers).
Value = Fraction | float


@dataclass(frozen=True)
class Num:
    value: Value
    text: str  # how to say it back: "1,024", "pi", "2 thirds"; money is said from `currency`
    currency: str = ""


Token = Num | str

_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
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
    ("sqrt", "of"): "sqrt",
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


def tokens(text: str) -> list[Token] | None:
    """The tokens of `text` without leading fillers ("what is"), or None when it holds
    characters no calculation has."""
    words = _lex(_clean(text))
    if words is None:
        return None
    return _strip_fillers(_tokenise(numbers_to_digits(words)))


def is_whole(value: Value) -> bool:
    return isinstance(value, Fraction) and value.denominator == 1


def _clean(text: str) -> str:
    text = text.lower().translate(_UNICODE)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,024 -> 1024
    return re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # twenty-five -> twenty five


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


def _tokenise(words: list[str]) -> list[Token]:
    tokens: list[Token] = []
    currency = ""
    i = 0
    while i < len(words):
        word = words[i]
        length, symbol = _match_phrase(words, i)
        if word in _CURRENCY_SYMBOLS:
            currency = word
        elif _NUMBER_RE.fullmatch(word):
            tokens.append(Num(Fraction(word), _group_typed(word), currency))
            currency = ""
        elif word in _CURRENCY_WORDS and tokens and isinstance(tokens[-1], Num):
            tokens[-1] = replace(tokens[-1], currency=_CURRENCY_WORDS[word])
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


def _group_typed(digits: str) -> str:
    """A number as typed, with thousands separators: "1024.50" -> "1,024.50"."""
    whole, dot, fraction = digits.partition(".")
    return f"{int(whole or 0):,}{dot}{fraction}"


def _match_phrase(words: list[str], start: int) -> tuple[int, str]:
    for length in range(_LONGEST_PHRASE, 0, -1):
        symbol = _PHRASES.get(tuple(words[start : start + length]))
        if symbol is not None:
            return length, symbol
    return 0, ""


def _add_cents(tokens: list[Token], cents: Num) -> None:
    """Replace the last token, `cents`, by money: "50 cents" is $0.50, and "45 dollars and 50
    cents" one amount, $45.50."""
    tokens.pop()
    value, currency = cents.value / 100, "$"
    if len(tokens) > 1 and tokens[-1] == "and" and isinstance(whole := tokens[-2], Num):
        del tokens[-2:]
        value, currency = whole.value + value, whole.currency or "$"
    tokens.append(Num(value, "", currency))


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
        if isinstance(previous, Num) and is_whole(previous.value) and previous.value > 0:
            tokens.pop()  # "two thirds"
            return Num(previous.value / denominator, f"{previous.text} {word}")
        if previous in ("a", "an"):
            tokens.pop()
            return Num(Fraction(1, denominator), f"{previous} {word}")
        return Num(Fraction(1, denominator), word)
    return word


def _strip_fillers(tokens: list[Token]) -> list[Token]:
    tokens = [token for token in tokens if token != ""]
    start = 0
    while start < len(tokens) and tokens[start] in _LEADING_FILLERS:
        start += 1
    return tokens[start:]
