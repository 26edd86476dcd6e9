"""Streaming sentence chunker, and the `speakable` normaliser for all text sent to TTS.

The chunker turns LLM tokens into whole sentences as early as possible: a sentence is
released the moment the whitespace after its full stop (or a newline) arrives, so the
first sentence is being synthesized while the LLM writes the second.

Its output never depends on how the text was split into pieces: every decision looks only
at the text up to the point where it is certain (it waits for one more character rather
than guessing), so feeding a reply whole, character by character or as LLM tokens gives
the same sentences.

There is deliberately no minimum first-chunk length. Holding back a short opener such as
"Sure." to merge it with the next sentence would delay first audio by the time the LLM
needs for that sentence (about 0.5 s for 16 words at 44 tokens/s), while synthesizing it
alone costs 15 ms (pyttsx3) to 0.1 s (Piper), and its playback hides the next synthesis.
"""

from __future__ import annotations

import re
import unicodedata

_TERMINATORS = ".!?…"
_CLOSERS = "\"'”’)]}»*_`"  # may follow a full stop: quotes, brackets, markdown emphasis
_OPENERS = "\"'“‘([{«*_`"
_CLAUSE_BREAKS = ",;:—"

# Words before a "." that never end a sentence ("Dr. Smith", "e.g. dogs").
_NEVER_END = frozenset(
    "mr mrs ms dr prof st mt sgt capt lt col gen rev hon vs e.g i.e cf approx dept fig "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# Words that end a sentence only when a capital follows ("at 9 a.m. Then" but "9 a.m. today").
_MAY_END = frozenset("etc al jr sr inc ltd co corp ph.d".split())
_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")  # u.s, a.m, p.m: the final "." is excluded


class SentenceChunker:
    """Feed streamed text, get speakable sentences; `flush()` at the end of the stream.

    Boundaries: ". ! ? …" (with any closing quotes or brackets) followed by whitespace, and
    newlines (list items and headings are their own sentences). A sentence still running
    after `soft_limit` characters is cut at the next comma, semicolon, colon or dash, and
    after `hard_limit` at the next space, so a long unpunctuated reply still starts early.
    """

    def __init__(self, soft_limit: int = 200, hard_limit: int = 400) -> None:
        self._soft_limit = soft_limit
        self._hard_limit = hard_limit
        self._buffer = ""  # text of the sentence in progress (and what follows it)
        self._pos = 0  # next character of the buffer to examine
        self._line_start = True  # the buffer begins a line: "1." there is a list marker

    def feed(self, piece: str) -> list[str]:
        """Add streamed text; return the sentences it completed (usually none or one)."""
        self._buffer += piece
        sentences: list[str] = []
        while self._pos < len(self._buffer):
            end, cut = self._examine(self._pos)
            if end is None:
                break  # undecidable until more text arrives
            if cut:
                self._cut(end, sentences)
            else:
                self._pos = end
        return sentences

    def flush(self) -> list[str]:
        """End of stream: the rest as a sentence (if it has anything to say); resets."""
        sentences: list[str] = []
        self._cut(len(self._buffer), sentences)
        self._line_start = True
        return sentences

    def _cut(self, end: int, sentences: list[str]) -> None:
        raw = self._buffer[:end]
        self._buffer = self._buffer[end:]
        self._pos = 0
        self._line_start = raw.endswith("\n")
        text = speakable(raw)
        if text:
            sentences.append(text)

    def _examine(self, i: int) -> tuple[int | None, bool]:
        """(where to go on, whether the buffer up to there is a sentence); None: wait."""
        char = self._buffer[i]
        if char == "\n":
            return i + 1, True
        if char in _TERMINATORS:
            return self._after_terminators(i)
        if char in _CLAUSE_BREAKS and i >= self._soft_limit:
            return self._followed_by_space(i + 1)
        if char.isspace() and i >= self._hard_limit:
            return i, True
        return i + 1, False

    def _followed_by_space(self, end: int) -> tuple[int | None, bool]:
        if end == len(self._buffer):
            return None, False
        return end, self._buffer[end].isspace()

    def _after_terminators(self, i: int) -> tuple[int | None, bool]:
        buffer = self._buffer
        run_end = _skip(buffer, i, _TERMINATORS)
        end = _skip(buffer, run_end, _CLOSERS)
        if end == len(buffer):
            return None, False
        if not buffer[end].isspace():
            return run_end, False  # "3.14", "e.g", "example.com", "wait...what"
        run = buffer[i:run_end]
        if "?" in run or "!" in run:
            return end, True
        if run == ".":
            rule = self._full_stop_rule(i)
        else:
            rule = "capital"  # an ellipsis: "Well... I see" ends, "Well... maybe" goes on
        if rule == "capital":
            return self._capital_follows(end)
        return end, rule == "end"

    def _full_stop_rule(self, i: int) -> str:
        """'end', 'never' or 'capital' (ends only if a capital letter follows)."""
        words = self._buffer[:i].split()
        word = words[-1].lstrip(_OPENERS).lower() if words else ""
        if word.isdigit() and self._line_start and len(words) == 1:
            return "never"  # "1. Preheat the oven": a list marker
        if word in _NEVER_END or (len(word) == 1 and word.isalpha()):
            return "never"  # titles, "e.g.", initials as in "J. R. R. Tolkien"
        if word in _MAY_END or _ACRONYM.fullmatch(word):
            return "capital"
        return "end"

    def _capital_follows(self, end: int) -> tuple[int | None, bool]:
        buffer = self._buffer
        nxt = end
        while nxt < len(buffer) and buffer[nxt].isspace():
            if buffer[nxt] == "\n":
                return end, True  # the line ends here anyway: no reason to wait
            nxt += 1
        nxt = _skip(buffer, nxt, _OPENERS)
        if nxt == len(buffer):
            return None, False
        return end, buffer[nxt].isupper()


def _skip(text: str, i: int, chars: str) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


_FENCE = re.compile(r"^[ \t]*(?:```|~~~).*$", re.M)
_RULE = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.M)
_LINE_MARKUP = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?)*(?:(?:[-*+•]|\d{1,3}[.)])[ \t]+)?", re.M
)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"\bhttps?://(?:www\.)?([^/\s]+)\S*")
_TIMES = re.compile(r"(?<=\d)[ \t]*[*×][ \t]*(?=\d)")
_EMPHASIS = re.compile(r"\*+|`+|(?<![^\W_])_+|_+(?![^\W_])")  # keeps snake_case intact
_MONEY = re.compile(
    r"([$€£])[ \t]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"  # symbol, whole, fraction
    r"(?:[ \t]?(thousand|million|billion|trillion)\b)?"
)
_CURRENCY = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_SYMBOLS = (
    (re.compile(r"[ \t]*°[ \t]?C\b"), " degrees Celsius"),
    (re.compile(r"[ \t]*°[ \t]?F\b"), " degrees Fahrenheit"),
    (re.compile(r"[ \t]*°"), " degrees"),
    (re.compile(r"[ \t]*%"), " percent"),
    (re.compile(r"[ \t]*&[ \t]*"), " and "),
    (re.compile(r"(?<=\d)[ \t]*–[ \t]*(?=\d)"), " to "),  # an en dash range: "10–20"
    (re.compile(r"[ \t]*(?:→|->|=>)[ \t]*"), " to "),
    (re.compile(r"~(?=[ \t]?\d)"), "about "),
    (re.compile(r"#(?=\d)"), "number "),
)
_INVISIBLE = re.compile(r"[\u200b-\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")  # and skin tones
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\S) +([.,;:!?…])")  # left by a dropped emoji or symbol
_LINE_END = tuple(_TERMINATORS + ",;:")


def speakable(text: str) -> str:
    """Text as it should be spoken: markdown removed, symbols in words, one line.

    Numbers stay digits (espeak-ng and Piper read them). Lines become sentences. Returns ""
    when nothing is left to say (only punctuation or whitespace). Idempotent.
    """
    text = _FENCE.sub("", text)
    text = _RULE.sub("", text)
    text = _LINE_MARKUP.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(r"\1", text)
    text = _TIMES.sub(" times ", text)
    text = _EMPHASIS.sub("", text)
    text = _MONEY.sub(_money, text)
    for pattern, words in _SYMBOLS:
        text = pattern.sub(words, text)
    text = _drop_pictographs(_INVISIBLE.sub("", text))
    return _join_lines(text)


def _money(match: re.Match[str]) -> str:
    """Say "$45.50" as "45 dollars 50 cents" (espeak-ng: "dollar forty five point five zero")."""
    one, many, minor_one, minor_many = _CURRENCY[match[1]]
    whole, fraction, scale = match[2], match[3], match[4]
    if scale:
        return f"{whole}.{fraction} {scale} {many}" if fraction else f"{whole} {scale} {many}"
    if fraction and len(fraction) != 2:
        return f"{whole}.{fraction} {many}"
    words = f"{whole} {one if whole == '1' else many}"
    if fraction and fraction != "00":
        cents = int(fraction)
        words += f" {cents} {minor_one if cents == 1 else minor_many}"
    return words


def _drop_pictographs(text: str) -> str:
    """Emoji and other pictographs: espeak-ng would read their names ("grinning face")."""
    return "".join(c for c in text if unicodedata.category(c) != "So")


def _join_lines(text: str) -> str:
    lines = [_SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(line.split())) for line in text.splitlines()]
    spoken = ""
    for line in filter(None, lines):
        if spoken:
            spoken += " " if spoken.endswith(_LINE_END) else ". "
        spoken += line
    return spoken if any(c.isalnum() for c in spoken) else ""
