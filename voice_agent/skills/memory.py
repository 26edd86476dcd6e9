"""The memory skill: facts the user tells it, kept across sessions and recalled when asked.

"remember that my passport is in the top drawer" keeps the user's own words; they are
spoken back from the assistant's side ("Okay, I'll remember that your passport is in the
top drawer."). Facts are found by sentence embeddings when the profile loads them, else by
the content words they share with the question, so the speed profile (no torch) recalls too.
A fact is only ever quoted, never guessed at: nothing found is said as such.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from voice_agent.language.phrasing import join_words
from voice_agent.routing.embeddings import EmbeddingsUnavailable
from voice_agent.skills.base import Request, Result, SkillContext, Told
from voice_agent.skills.registry import skill
from voice_agent.store import Store

if TYPE_CHECKING:
    from voice_agent.routing.embeddings import Encoder

# Append new migrations, never edit shipped ones. The model is kept with each embedding so
# that a profile with another encoder re-embeds the facts instead of comparing across models.
MIGRATIONS = (
    """
    CREATE TABLE memory_facts (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        created_at REAL NOT NULL,
        embedding BLOB,
        embedding_model TEXT
    );
    """,
)


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    similarity: float = Field(
        0.45, ge=0, le=1, description="embedding similarity a fact needs to be recalled"
    )
    claim_similarity: float = Field(
        0.55, ge=0, le=1, description="embedding similarity to answer a question no agent took"
    )
    overlap: float = Field(
        0.5, gt=0, le=1, description="without embeddings: share of the asked-about words a fact has"
    )
    margin: float = Field(0.15, ge=0, le=1, description="facts this close to the best one come too")
    most: int = Field(5, ge=1, description="facts said in one answer; the rest are counted")


_POLITE = re.compile(
    r"^(?:(?:please|hey|ok|okay|so|now|and|also|oh|can you|could you|would you|will you|"
    r"i want you to|i'd like you to|i need you to)[\s,]+)+",
    re.IGNORECASE,
)
# "remember to buy milk" is a reminder and "remember when ..." a chat, not facts to keep.
_REMEMBER = re.compile(
    r"^(?:remember|don'?t forget|do not forget|never forget|keep in mind|bear in mind|"
    r"note that|memori[sz]e)\b[\s,:]*(?:that\b[\s,:]*|this[\s,]*:\s*)?"
    r"(?P<fact>(?!(?:to|when|how|why|what|who|me)\b|down$)\S.*)?$",
    re.IGNORECASE,
)
_FORGET = re.compile(
    r"^(?:forget|delete|erase|remove)\s+(?:"
    r"(?:what|everything|anything|all)\s+(?:i\s+(?:told|tell|said|say)(?:\s+to)?\s+you|"
    r"you\s+(?:know|remember))\s+about\s+(?P<about>.+)|"
    r"(?:about\s+)?(?:the fact\s+)?that\s+(?P<that>\S+\s+\S.*)|"
    r"(?:about\s+)?(?P<subject>(?:my|our)\s+.+)|"
    r"about\s+(?P<thing>(?!(?:it|that|this)$).+))$",
    re.IGNORECASE,
)
# "what did I ask you to remember (about ...)": a question about the memory itself.
_ASKED_TO_KEEP = (
    r"what\s+(?:have|had|did)\s+i\s+(?:ask(?:ed)?|want(?:ed)?|told|tell)\s+you\s+to\s+"
    r"(?:remember|keep\s+in\s+mind|memori[sz]e|not\s+forget)"
)
_LIST = re.compile(
    r"^(?:what|tell me what)\s+(?:do|did|can)\s+you\s+(?:remember|know|recall)"
    r"(?:\s+about\s+(?:me|myself|us))?(?:\s+so far)?$|"
    r"^what\s+(?:have|did)\s+i\s+(?:told|tell)\s+you(?:\s+so far)?$|"
    rf"^{_ASKED_TO_KEEP}(?:\s+so far)?$|"
    r"^(?:list|show me|tell me)\s+(?:everything|all|what)\s+(?:that\s+)?you\s+(?:remember|know)"
    r"(?:\s+about\s+(?:me|myself))?$",
    re.IGNORECASE,
)
_RECALL = re.compile(
    r"^(?:(?:what|tell me what)\s+(?:do|did|can)\s+you\s+(?:remember|know|recall)|"
    r"what\s+(?:have|did)\s+i\s+(?:told|tell|said|say)(?:\s+to)?(?:\s+you)?|"
    rf"{_ASKED_TO_KEEP})\s+about\s+(?P<about>.+)$|"
    r"^(?:do|can|did)\s+you\s+(?:still\s+)?(?:remember|recall)\s+(?:anything\s+)?"
    r"(?:about\s+(?P<subject>.+)|(?P<clause>.+))$|"
    r"^did\s+i\s+(?:tell|mention\s+to)\s+you\s+(?:anything\s+)?about\s+(?P<mentioned>.+)$",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"^(?:what|what's|whats|when|when's|where|where's|who|who's|whose|which|how|is|are|am|"
    r"was|were|do|does|did|have|has|had|can|could|will|would|should)\b",
    re.IGNORECASE,
)
# "what is a plumber?", "what does plumber mean": about the word, not the user's plumber.
_DEFINITION = re.compile(
    r"^(?:what|who)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?:a|an)\b|\bmeans?$|^define\b",
    re.IGNORECASE,
)
_WH = re.compile(r"^(?:what|when|where|who|whose|which|why|how|if|whether)\b", re.IGNORECASE)

# Words that say how a question is asked, not what about: "when is the plumber coming" is
# about {plumber, com}. Contractions ("I'm", "don't") are dropped on the way (see _stems).
_FILLER = frozenset(
    """
    a an the and or but of to in on at for with from by about into onto up down out over as
    is are am was were be been being do does did done have has had will would shall should
    can could may might must i me my mine myself you your yours yourself we us our ours they
    them their it its this that these those there here what when where who whom whose which
    why how tell told say said know knew remember recall remind forget please again just still
    anything something everything nothing thing things any some put left leave keep kept get
    got go going gonna supposed ok okay hey so now then also very too if than not no yes let
    """.split()
)
# The user's words turned to the assistant's side, and back; "you" is done apart (_flip).
_SWAPS = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "i'm": "you're", "i've": "you've", "i'll": "you'll", "i'd": "you'd",
    "we": "you", "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves",
    "we're": "you're", "we've": "you've", "we'll": "you'll", "we'd": "you'd",
    "your": "my", "yours": "mine", "yourself": "myself",
    "you're": "I'm", "you've": "I've", "you'll": "I'll", "you'd": "I'd",
}  # fmt: skip
_VERBS = {("you", "am"): "are", ("you", "was"): "were", ("i", "are"): "am", ("i", "were"): "was"}
_CLAUSE_START = frozenset(
    "that and but or if when because so then where while since until before after".split()
)
_SUBJECT_NEXT = frozenset(
    """
    are were have had will would can could should must do did don't didn't can't won't owe
    owed said promised know need want like wanted asked told gave lent borrowed
    """.split()
)

ASK_FORGET = "What should I forget? Say, for example, forget what I told you about the plumber."

Action = Literal["remember", "recall", "forget", "list"]


@dataclass(frozen=True)
class Fact:
    id: int
    text: str  # the user's own words: "my passport is in the top drawer"
    said_at: float  # when they last said it (Unix time)
    embedding: np.ndarray | None  # from the current encoder, or None until computed


class MemorySkill:
    def __init__(self, store: Store, config: MemoryConfig, encoder: Encoder | None = None) -> None:
        self._store = store
        self._config = config
        self._encoder = encoder

    def handle(self, request: Request) -> Result | None:
        return self._by_words_without_embeddings(self._handle, request)

    def kept_words(self, text: str) -> str | None:
        """The fact a "remember that ..." keeps, as `text` says it."""
        text = _normalize(text)
        if _FORGET.match(text) or _LIST.match(text) or _RECALL.match(text):
            return None
        match = _REMEMBER.match(text)
        return match.group("fact") if match else None

    def claim(self, request: Request) -> Result | None:
        """An answer from memory to a question no agent took (see `_claim`)."""
        return self._by_words_without_embeddings(self._claim, request)

    def _by_words_without_embeddings(
        self, answer: Callable[[Request], Result | None], request: Request
    ) -> Result | None:
        """`answer(request)`; if the encoder's model cannot be loaded (it warned), answered
        again by shared words from now on. Nothing is written before the encoder is asked."""
        try:
            return answer(request)
        except EmbeddingsUnavailable:
            self._encoder = None
            return answer(request)

    def _handle(self, request: Request) -> Result | None:
        text = _normalize(request.text)
        if match := _FORGET.match(text):
            return self._forget(*_topic(match))
        if _LIST.match(text):
            return self._list()
        if match := _RECALL.match(text):
            topic, said = _topic(match)
            if topic.lower() in ("me", "myself", "us"):
                return self._list()
            return self._recall(topic, said)
        if match := _REMEMBER.match(text):
            return self._remember(match.group("fact") or "")
        # Routed here by likeness alone ("where's my passport?"): answer only from a fact.
        return self._claim(request)

    def _claim(self, request: Request) -> Result | None:
        """An answer from memory to a question no agent took, when a saved fact clearly is
        what it asks about: every content word of the question is in the fact (so "who wrote
        Hamlet" is not answered from "my favourite book is Hamlet"), it does not ask what a
        word means, and, with embeddings, the two mean much the same."""
        text = _normalize(request.text)
        asked = _stems(text)
        question = _QUESTION.match(text) or request.text.rstrip().endswith("?")
        if not asked or not question or _DEFINITION.search(text):
            return None
        facts = [fact for fact in self._facts() if asked <= _stems(fact.text)]
        if facts and self._encoder is not None:
            facts = self._best(text, facts, self._config.claim_similarity)
        return self._said("You told me", facts, "recall") if facts else None

    # -- intents ----------------------------------------------------------------------------
    def _remember(self, said: str) -> Result:
        fact = _unquote(said)
        if fact.lower() in ("", "it", "that", "this", "everything"):
            return _nothing("What should I remember?", "remember", "ask")
        known = [f for f in self._facts() if f.text.casefold() == fact.casefold()]
        if known:  # said again: "my appointment is tomorrow" is now of today's tomorrow
            self._store.execute(
                "UPDATE memory_facts SET created_at = ? WHERE id = ?", (time.time(), known[0].id)
            )
        else:
            vectors = self._embed([fact])
            embedding = _blob(vectors[0]) if vectors is not None else None
            self._store.execute(
                "INSERT INTO memory_facts (text, created_at, embedding, embedding_model) "
                "VALUES (?, ?, ?, ?)",
                (fact, time.time(), embedding, self._model),
            )
        return Result(
            f"Okay, I'll remember that {_flip(fact)}.",
            value=fact,
            data={"action": "remember", "facts": [fact]},
        )

    def facts_about(self, topic: str) -> list[Told]:
        """What the user told about `topic`, best first (for other skills)."""
        return [
            Told(fact.text, datetime.fromtimestamp(fact.said_at, timezone.utc))
            for fact in self._matching(topic)
        ]

    def _recall(self, topic: str, said: str) -> Result:
        facts = self._matching(topic)
        if not facts:
            return _nothing(f"You haven't told me {_flip(said)}.", "recall", "failed")
        return self._said("You told me", facts, "recall")

    def _forget(self, topic: str, said: str) -> Result:
        if not _stems(topic):  # "forget everything about me": one thing at a time, by name
            return _nothing(ASK_FORGET, "forget", "ask")
        facts = self._matching(topic)
        if not facts:
            spoken = f"You haven't told me {_flip(said)}, so there's nothing to forget."
            return _nothing(spoken, "forget", "failed")
        for fact in facts:
            self._store.execute("DELETE FROM memory_facts WHERE id = ?", (fact.id,))
        return self._said("Okay, I've forgotten", facts, "forget")

    def _list(self) -> Result:
        facts = self._facts()
        if not facts:
            return _nothing("You haven't told me anything to remember yet.", "list", "done")
        return self._said("You told me", facts, "list")

    def _said(self, lead: str, facts: list[Fact], action: Action) -> Result:
        """ "You told me that A, that B and 3 more."; the value is the fact, or the list."""
        texts = [fact.text for fact in facts]
        said = join_words([f"that {_flip(text)}" for text in texts], most=self._config.most)
        one = len(texts) == 1 and action != "list"
        return Result(
            f"{lead} {said}.",
            value=texts[0] if one else texts,
            data={"action": action, "facts": texts},
        )

    # -- finding facts ----------------------------------------------------------------------
    @property
    def _model(self) -> str | None:
        return self._encoder.name if self._encoder is not None else None

    def _facts(self) -> list[Fact]:
        """Every fact, newest first; embeddings only from the encoder in use."""
        rows = self._store.query(
            "SELECT id, text, created_at, embedding, embedding_model FROM memory_facts "
            "ORDER BY id DESC"
        )
        return [
            Fact(id, text, said_at, _vector(blob) if model == self._model else None)
            for id, text, said_at, blob, model in rows
        ]

    def _matching(self, topic: str) -> list[Fact]:
        """The facts about `topic`, best first: by embeddings, else by shared content words."""
        facts = self._facts()
        if self._encoder is not None:
            return self._best(topic, facts, self._config.similarity)
        asked = _stems(topic)
        if not asked:
            return []
        scores = [len(asked & _stems(fact.text)) / len(asked) for fact in facts]
        return _select(facts, scores, self._config.overlap, self._config.margin)

    def _best(self, query: str, facts: list[Fact], needed: float) -> list[Fact]:
        if not facts:
            return []
        facts = self._embedded(facts)
        vectors = np.stack([fact.embedding for fact in facts])
        scores = vectors @ self._embed([query])[0]
        return _select(facts, [float(s) for s in scores], needed, self._config.margin)

    def _embedded(self, facts: list[Fact]) -> list[Fact]:
        """The facts with embeddings, computing and keeping the ones that lack them (facts
        saved without an encoder, or with another one)."""
        missing = [fact for fact in facts if fact.embedding is None]
        if not missing:
            return facts
        vectors = self._embed([fact.text for fact in missing])
        filled = {}
        for fact, vector in zip(missing, vectors, strict=True):
            self._store.execute(
                "UPDATE memory_facts SET embedding = ?, embedding_model = ? WHERE id = ?",
                (_blob(vector), self._model, fact.id),
            )
            filled[fact.id] = replace(fact, embedding=vector)
        return [filled.get(fact.id, fact) for fact in facts]

    def _embed(self, texts: list[str]) -> np.ndarray | None:
        if self._encoder is None:
            return None
        return np.asarray(self._encoder.encode(texts), dtype=np.float32)


def _nothing(spoken: str, action: Action, status: Literal["done", "ask", "failed"]) -> Result:
    """An answer with no fact in it: none saved, none matched, or one needed first."""
    return Result(spoken, data={"action": action, "facts": []}, status=status)


# -- text helpers ---------------------------------------------------------------------------


def _normalize(text: str) -> str:
    text = " ".join(text.replace("’", "'").split())
    text = _POLITE.sub("", text)
    return re.sub(r"[\s,]*\bplease$", "", text, flags=re.IGNORECASE).rstrip("?!. ")


def _unquote(text: str) -> str:
    return text.strip().strip("\"'“”‘’").strip()


def _topic(match: re.Match[str]) -> tuple[str, str]:
    """What a recall or forget request is about, and how to say it after "You haven't told
    me": "anything about the plumber", "where my passport is", "that my passport is ..."."""
    groups = match.groupdict()
    if groups.get("that"):
        return groups["that"], f"that {groups['that']}"
    if groups.get("clause") and _WH.match(groups["clause"]):
        return groups["clause"], groups["clause"]
    topic = next(value for value in groups.values() if value)
    return topic, f"anything about {topic}"


def _stems(text: str) -> set[str]:
    """Content words, lightly stemmed: "when is the plumber coming" -> {"plumber", "com"}."""
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)*", text.lower())
    words = [w.removesuffix("'s") for w in words]
    return {_stem(w) for w in words if "'" not in w and w not in _FILLER}


def _stem(word: str) -> str:
    """ "comes", "coming", "come" -> "com"; "batteries" -> "battery"; "glasses" -> "glass"."""
    for suffix, replacement in (("ies", "y"), ("ied", "y")):
        if word.endswith(suffix) and len(word) > 4:
            return word[: -len(suffix)] + replacement
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _select(facts: list[Fact], scores: list[float], needed: float, margin: float) -> list[Fact]:
    """The facts scoring at least `needed` and within `margin` of the best, best first (the
    newest first among equals: `facts` come newest first and the sort is stable)."""
    best = max(scores, default=0.0)
    if best < needed:
        return []
    ranked = sorted(zip(scores, facts, strict=True), key=lambda pair: -pair[0])
    return [fact for score, fact in ranked if score >= max(needed, best - margin)]


def _flip(text: str) -> str:
    """The user's words as the assistant says them: "my passport" -> "your passport", "I am"
    -> "you are", "you owe me" -> "I owe you"."""
    parts = re.split(r"([A-Za-z]+(?:'[A-Za-z]+)?)", text)
    words = [part.lower() for part in parts[1::2]]
    out: list[str] = []
    for i, word in enumerate(words):
        if word == "you":
            subject = (
                i == 0
                or words[i - 1] in _CLAUSE_START
                or (i + 1 < len(words) and words[i + 1] in _SUBJECT_NEXT)
            )
            new = "I" if subject else "me"
        else:
            before = out[-1].lower() if out else ""
            new = _VERBS.get((before, word)) or _SWAPS.get(word) or parts[2 * i + 1]
        out.append(new)
    parts[1::2] = out
    return "".join(parts)


def _vector(blob: bytes | None) -> np.ndarray | None:
    return np.frombuffer(blob, dtype=np.float32) if blob is not None else None


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


@skill("memory", config=MemoryConfig, migrations=MIGRATIONS)
def make(ctx: SkillContext, config: MemoryConfig) -> MemorySkill:
    return MemorySkill(ctx.store, config, ctx.encoder)
