"""Spoken answers from a language model: plain sentences, a few of them, never cut mid-word.

Small models write markdown, lists and code blocks, and ramble until the token cap cuts
them off mid-word. A voice answer must be sentences a person can listen to, so the reply is
passed on sentence by sentence (`SentenceChunker`: markdown removed, list items and headings
become sentences), code blocks are left out with one sentence saying so, the answer stops
after `max_sentences` unless the user asked for more, and when the token cap ended the
answer its unfinished last sentence is dropped. A sentence with a blank in it ("[insert
date]") ends the answer: a first one is said as not knowing.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator

from voice_agent.llm.base import Token
from voice_agent.llm.confidence import hedged
from voice_agent.tts.chunker import SentenceChunker

CODE_LEFT_OUT = "I've left out a code example: code doesn't read well aloud."
DONT_KNOW = "I don't know that."
# A blank left for someone to fill in ("The next Tuesday is on [insert date].", "<city>"):
# what a small model writes for a fact it does not have. Said aloud it is no answer.
_PLACEHOLDER = re.compile(r"[\[<{]\s*[a-z][a-z' _-]{0,39}[\]>}]", re.I)
TOKEN_CAP = "length"  # what a backend's stream returns when the token cap ended the answer

# Requests for a long answer: no sentence limit then, only the token cap.
_WANTS_MORE = re.compile(
    r"\b(?:in (?:\w+ )?detail|detailed|at length|step[- ]by[- ]step|(?:the |all the )?steps|"
    r"tell me (?:a |more|everything)|story|poem|recipe|instructions|list|explain (?:everything|"
    r"fully|thoroughly)|long(?:er)? (?:answer|version|explanation)|(?:\w+ )?paragraphs?)\b",
    re.IGNORECASE,
)
_ENDINGS = tuple(".!?…,;:—\"')”’")
_FENCE = re.compile(r"[ \t]*(?:```|~~~)")


def sentence_limit(request: str, max_sentences: int) -> int | None:
    """How many sentences answer `request`: None (no limit) when it asks for a long answer."""
    return None if _WANTS_MORE.search(request) else max_sentences


def spoken(
    stream: Iterator[str], max_sentences: int | None, unsure_below: float = 0.0
) -> Generator[str, None, None]:
    """The reply in `stream` as speakable sentences, each followed by a space.

    `stream` is a backend's `stream_chat` generator; it is closed (generation stops) as
    soon as the answer has its sentences, and its return value tells whether the token
    cap ended it. When its pieces carry token probabilities, a first sentence the model
    was unsure of is said as a guess (`llm/confidence.py`).
    """
    chunker = SentenceChunker()
    code = _CodeBlocks()
    count = 0
    tokens: list[Token] = []
    try:
        while True:
            try:
                piece = next(stream)
            except StopIteration as stop:
                capped = stop.value == TOKEN_CAP
                break
            if count == 0:
                tokens += getattr(piece, "tokens", ())
            for sentence in chunker.feed(code.strip(piece)):
                if _PLACEHOLDER.search(sentence):
                    if count == 0:
                        yield DONT_KNOW + " "
                    return  # what follows a blank builds on it
                if count == 0:
                    sentence = hedged(sentence, tokens, unsure_below)
                yield _ended(sentence) + " "
                count += 1
                if max_sentences is not None and count >= max_sentences:
                    return
        tail = " ".join(chunker.feed(code.strip("", end=True)) + chunker.flush())
        if tail and capped:
            if count:
                return  # an unfinished sentence after whole ones: leave it out
            tail = _whole_words(tail)
        if tail and _PLACEHOLDER.search(tail):
            tail = "" if count else DONT_KNOW
        elif tail and not count:
            tail = hedged(tail, tokens, unsure_below)
        if tail:
            yield tail
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _ended(sentence: str) -> str:
    """A heading or list item ends with a full stop, so it is heard as a sentence of its own."""
    return sentence if sentence.endswith(_ENDINGS) else sentence + "."


def _whole_words(cut: str) -> str:
    """A lone sentence the cap cut: its last (maybe partial) word dropped, marked unfinished."""
    words = cut.split()
    kept = " ".join(words[:-1]) if len(words) > 1 else cut
    return kept.rstrip(",;:—-– ") + "…"


class _CodeBlocks:
    """Removes fenced code blocks from streamed text; says once that code was left out.

    Works line by line: a line that may still become a fence ("``" waiting for its third
    backtick) or that is inside a block is held until it ends; other text passes at once.
    """

    def __init__(self) -> None:
        self._held = ""  # the start of a line not yet decided
        self._mid_line = False  # part of the current line was passed on: it is text
        self._inside = False
        self._told = False

    def strip(self, piece: str, end: bool = False) -> str:
        text, self._held = self._held + piece, ""
        out: list[str] = []
        while text:
            newline = text.find("\n") + 1
            if self._mid_line:
                out.append(text[:newline] if newline else text)
                self._mid_line = not newline
                text = text[newline:] if newline else ""
            elif newline:
                out.append(self._line(text[:newline]))
                text = text[newline:]
            elif end:
                out.append(self._line(text))
                text = ""
            elif self._inside or _may_be_fence(text):
                self._held, text = text, ""
            else:
                out.append(text)
                self._mid_line, text = True, ""
        return "".join(out)

    def _line(self, line: str) -> str:
        if _FENCE.match(line):
            self._inside = not self._inside
            if self._inside and not self._told:
                self._told = True
                return f"\n{CODE_LEFT_OUT}\n"
            return ""
        return "" if self._inside else line


def _may_be_fence(start: str) -> bool:
    """Whether a line beginning `start` may turn out to be a fence."""
    mark = start.lstrip(" \t")
    return mark[:3] in ("```"[: len(mark[:3])], "~~~"[: len(mark[:3])])
