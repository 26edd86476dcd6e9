"""Spoken arithmetic: "twenty five times seven", "a 15% tip on $45.50", "split 120 between 4".

The words become tokens (tokens.py), a small parser builds the expression (parser.py), and it is
evaluated exactly (evaluate.py) and said back (spoken.py); tips, splits and percentages have
their own forms (forms.py). Nothing is ever passed to eval/exec, and every step is bounded.
"""

from __future__ import annotations

import re

from voice_agent.skills.base import Request, Result
from voice_agent.skills.calculator.errors import TOO_LONG, CalcError, NeedsMore, NotUnderstood
from voice_agent.skills.calculator.forms import answer
from voice_agent.skills.calculator.spoken import format_number, format_scientific
from voice_agent.skills.calculator.tokens import Num, Token, tokens

__all__ = ["arithmetic", "calculate", "format_number", "format_scientific", "misheard_number"]

MAX_CHARS = 300  # nobody speaks a longer sum; also bounds parser recursion
_OPERATORS = {"+", "-", "*", "/", "^"}
_ARITHMETIC_HINT = re.compile(r"\d|plus|minus|times|divided|power|root|percent")


def calculate(request: Request) -> Result | None:
    """Answer a spoken calculation in one sentence, or None when it is not arithmetic."""
    if len(request.text) > MAX_CHARS:
        if not _ARITHMETIC_HINT.search(request.text.lower()):
            return None
        return Result(TOO_LONG, status="failed")
    found = _numbered(request.text)
    if found is None:
        return None
    try:
        return answer(found)
    except NotUnderstood:
        if found[-1] in _OPERATORS:  # "what is 5 plus": cut off before its number
            return Result(
                "Sorry, I didn't catch the last number. What was it?",
                data={"blank": [request.text.strip().rstrip("?.!,…- "), ""]},
                status="ask",
            )
        return request.say_again()
    except CalcError as error:
        return Result(str(error), status=error.status)


def misheard_number(request: Request) -> Result | None:
    """A calculation with one word where a number belongs ("what's 15% of maybe dollars":
    the recogniser's "maybe" for "eighty") asks for that number again, rather than leaving
    the words to an LLM that answers with one it made up. The question's `blank` is the
    request around the word, for the answer to fill."""
    text = request.text
    found = _numbered(text) if len(text) <= MAX_CHARS else None
    if found is None:
        return None
    for word in dict.fromkeys(t for t in found if isinstance(t, str) and t.isalpha()):
        at = re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE)
        trial = _numbered(f"{text[: at.start()]}1{text[at.end() :]}") if at else None
        try:
            if trial is None or answer(trial) is None:
                continue
        except CalcError:
            continue
        blank = [text[: at.start()].strip(), text[at.end() :].strip()]
        return Result(
            f'Sorry, I didn\'t catch the number where I heard "{at.group()}". What was it?',
            data={"blank": blank},
            status="ask",
        )
    return None


def arithmetic(text: str) -> str | None:
    """`text` if the calculator reads it -- an expression in any form the parser accepts
    ("2 ** 10", "5 mod 3", "sqrt of 2"), a tip, a split, a percentage -- else None. Routing
    asks this (agents/utility.yaml), so every form the calculator reads reaches it. A request
    it would only answer with a question ("5 plus", "split the photos") is not claimed."""
    found = _numbered(text) if len(text) <= MAX_CHARS else None
    if found is None:
        return None
    try:
        return text.strip() if answer(found) is not None else None
    except (NotUnderstood, NeedsMore):
        return None
    except CalcError:  # a refusal about the numbers ("I can't divide by zero") is its answer
        return text.strip()


def _numbered(text: str) -> list[Token] | None:
    """The tokens of `text` when it holds a number and nothing no calculation has."""
    found = tokens(text)
    if found is None or not any(isinstance(token, Num) for token in found):
        return None
    return found
