"""What the calculator says when it cannot answer: each message is spoken as it is."""

from __future__ import annotations

from typing import Literal

DIVIDE_BY_ZERO = "I can't divide by zero."
TOO_LARGE = "That number is too large for me to work out."
TOO_SMALL = "That number is too close to zero for me to say."
NO_REAL_ANSWER = "That has no real-number answer."
# Not "i": the calculator works in real numbers, so a complex root could go no further (into a
# tip, a sum, a conversion); saying why is more use than an answer nothing else here can take.
NO_REAL_ROOT = (
    "{number} has no real square root: its square roots are imaginary, "
    "and I only work with real numbers."
)
NEGATIVE_TIP = "A bill and a tip can't be negative, so there's no tip to work out on that."
TOO_LONG = "That's too long for me to work out. Try a shorter calculation."
BAD_FACTORIAL = "I can only take the factorial of a whole number that isn't negative."
TIP_HELP = "Tell me the bill and the tip, like: a 15 percent tip on 45 dollars."
SPLIT_HELP = "Tell me the amount and how many ways to split it, like: split 120 between 4."
BAD_SPLIT = "I can only split between a whole number of people, at least one."


class CalcError(Exception):
    """A calculation the user asked for but that has no sayable answer; the message is spoken."""

    status: Literal["ask", "failed"] = "failed"


class NeedsMore(CalcError):
    """The user left out something the answer needs (the bill, the number of people)."""

    status = "ask"


class NotUnderstood(CalcError):
    """Arithmetic words that do not make an expression ("5 plus"): said as the request's
    own "didn't catch that"."""

    status = "ask"
