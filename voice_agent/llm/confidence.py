"""How sure the model was of its answer, from the probabilities of the tokens it wrote.

A small model that does not know a fact still names someone, with the same fluent
sentence ("The Magic Flute was composed by Johann Sebastian Bach."); what differs is how
probable the name was to the model. On the facts bench (Qwen2.5-Coder 1.5B), the least
probable name or number in the first sentence was under 0.3 for 5 of its 22 wrong
answers and for 1 of its 187 right ones, while the least probable token of any kind is
low in most right answers too (there are many ways to phrase one). So an answer whose
first sentence holds a name or number the model gave less than `unsure_below` begins "I'm
not sure, but I think", and is said as the guess it is.

Names and numbers are the tokens starting with a capital or a digit, past the sentence's
first token (whose capital is the sentence's, and whose choice is phrasing).
"""

from __future__ import annotations

import math
import re

from voice_agent.llm.base import Token

HEDGE = "I'm not sure, but I think"
_NAME_OR_NUMBER = re.compile(r"\s*[A-Z0-9]")
# Words that start a sentence without being a name: lower-cased after the hedge.
_OPENERS = re.compile(
    r"(?:The|A|An|It|It's|Its|There|There's|This|That|These|Those|They|In|On|At|About|"
    r"Around|Roughly|Approximately|Some|Most|One)\b"
)
_SAYS_UNSURE = re.compile(r"\b(?:not sure|unsure|not certain|don't know|no idea)\b", re.I)


def least_sure(tokens: list[Token], sentence: str) -> float:
    """The lowest probability among the names and numbers of `sentence`, the first sentence
    of the answer whose `tokens` these are (1.0 when it has none, or no tokens are known)."""
    wanted = len(sentence.strip())
    text, lowest = "", 1.0
    for index, (piece, logprob) in enumerate(tokens):
        if len(text.strip()) >= wanted:
            break
        text += piece
        if index and _NAME_OR_NUMBER.match(piece):
            lowest = min(lowest, math.exp(logprob))
    return lowest


def hedged(sentence: str, tokens: list[Token], unsure_below: float) -> str:
    """`sentence`, the answer's first, said as a guess when the model was unsure of it."""
    if least_sure(tokens, sentence) >= unsure_below or _SAYS_UNSURE.search(sentence):
        return sentence
    opener = _OPENERS.match(sentence)
    if opener:
        sentence = sentence[0].lower() + sentence[1:]
    return f"{HEDGE} {sentence}"
