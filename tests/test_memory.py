"""The memory skill on a real SQLite store in tmp_path: keywords without an encoder, and the
packaged all-MiniLM-L6-v2 for the embedding path (slow)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from voice_agent.agents.registry import load_agents
from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.routing.embeddings import SentenceTransformerEncoder
from voice_agent.skills.base import Request, Result
from voice_agent.skills.memory import ASK_FORGET, MIGRATIONS, MemoryConfig, MemorySkill
from voice_agent.skills.registry import find_skill
from voice_agent.store import Store

PLUMBER = "remember that the plumber comes on Thursday"
PASSPORT = "don't forget my passport is in the top drawer"


def open_store(path: Path) -> Store:
    """A store with the memory plugin's table, as the app sets it up."""
    store = Store(path)
    store.migrate("memory", MIGRATIONS)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "va.db") as s:
        yield s


@pytest.fixture
def memory(store: Store) -> MemorySkill:
    return MemorySkill(store, MemoryConfig())


def say(skill: MemorySkill, text: str) -> str | None:
    result = skill.handle(Request(text))
    return None if result is None else result.spoken


def claimed(skill: MemorySkill, text: str) -> str | None:
    result = skill.claim(Request(text))
    return None if result is None else result.spoken


def saved(store: Store) -> list[str]:
    return [row[0] for row in store.query("SELECT text FROM memory_facts ORDER BY id")]


def told(skill: MemorySkill, *facts: str) -> MemorySkill:
    for fact in facts:
        skill.handle(Request(fact))
    return skill


# --- remembering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fact", "answer"),
    [
        (PLUMBER, "the plumber comes on Thursday", "the plumber comes on Thursday"),
        (PASSPORT, "my passport is in the top drawer", "your passport is in the top drawer"),
        ("Note that I'm allergic to nuts.", "I'm allergic to nuts", "you're allergic to nuts"),
        ("please remember I was born in Leeds", "I was born in Leeds", "you were born in Leeds"),
        ("Remember, you owe me five dollars.", "you owe me five dollars", "I owe you five dollars"),
        ("keep in mind that we are out of milk", "we are out of milk", "you are out of milk"),
        ("can you remember that my sister's flat is above mine",
         "my sister's flat is above mine", "your sister's flat is above yours"),
    ],
)  # fmt: skip
def test_remember_keeps_the_words_and_says_them_back_from_its_side(
    store: Store, memory: MemorySkill, text: str, fact: str, answer: str
) -> None:
    result = memory.handle(Request(text))
    assert result.spoken == f"Okay, I'll remember that {answer}."
    assert (result.status, result.value) == ("done", fact)
    assert result.data == {"action": "remember", "facts": [fact]}
    assert saved(store) == [fact]


def test_the_same_fact_is_kept_once(store: Store, memory: MemorySkill) -> None:
    told(memory, PLUMBER, "remember that the plumber comes on thursday")
    assert saved(store) == ["the plumber comes on Thursday"]


def test_remember_without_a_fact_asks(memory: MemorySkill) -> None:
    result = memory.handle(Request("remember"))
    assert (result.spoken, result.status) == ("What should I remember?", "ask")


@pytest.mark.parametrize(
    "text",
    [
        "remember to buy milk",
        "don't forget to water the plants",
        "remember when we went to Rome",
        "forget it",
        "forget that",
        "forget about it",
        "never mind",
        "what's the weather in London",
    ],
)
def test_not_for_memory(store: Store, memory: MemorySkill, text: str) -> None:
    told(memory, PLUMBER)
    assert memory.handle(Request(text)) is None
    assert saved(store) == ["the plumber comes on Thursday"]


def test_facts_outlive_the_session(tmp_path: Path) -> None:
    with open_store(tmp_path / "va.db") as first:
        told(MemorySkill(first, MemoryConfig()), PASSPORT)
    with open_store(tmp_path / "va.db") as second:
        assert say(MemorySkill(second, MemoryConfig()), "where is my passport?") == (
            "You told me that your passport is in the top drawer."
        )


# --- recalling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what do you remember about the plumber", "the plumber comes on Thursday"),
        ("What did I tell you about the plumber?", "the plumber comes on Thursday"),
        ("what do you know about my passport", "your passport is in the top drawer"),
        ("do you remember where my passport is", "your passport is in the top drawer"),
        ("did I tell you about my passport", "your passport is in the top drawer"),
    ],
)
def test_recall_quotes_what_was_saved(memory: MemorySkill, question: str, answer: str) -> None:
    told(memory, PLUMBER, PASSPORT, "remember that my bike lock code is 4512")
    result = memory.handle(Request(question))
    assert result.spoken == f"You told me that {answer}."
    assert result.data["action"] == "recall" and len(result.data["facts"]) == 1


def test_recall_of_two_facts_about_one_thing(memory: MemorySkill) -> None:
    told(memory, PLUMBER, "remember that the plumber's number is 555 0192", PASSPORT)
    result = memory.handle(Request("what do you remember about the plumber"))
    assert result.spoken == (
        "You told me that the plumber's number is 555 0192 and that the plumber comes on Thursday."
    )
    assert result.value == ["the plumber's number is 555 0192", "the plumber comes on Thursday"]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what do you remember about the electrician", "anything about the electrician"),
        ("do you remember where my car is", "where your car is"),
        ("what do you know about my passport", "anything about your passport"),
        ("what did I ask you to remember about the electrician", "anything about the electrician"),
    ],
)
def test_nothing_saved_is_said_and_nothing_invented(
    memory: MemorySkill, question: str, answer: str
) -> None:
    told(memory, PLUMBER)
    result = memory.handle(Request(question))
    assert (result.spoken, result.status) == (f"You haven't told me {answer}.", "failed")
    assert result.data == {"action": "recall", "facts": []}


@pytest.mark.parametrize(
    "question",
    ["what do you know about me", "what do you remember", "What did I ask you to remember?"],
)
def test_list_says_five_then_counts(memory: MemorySkill, question: str) -> None:
    assert say(memory, question) == "You haven't told me anything to remember yet."
    things = ["my locker is 42", "the bins go out on Monday", "my sister is vegetarian",
              "the spare key is under the pot", "the gate code is 1234", "my car is blue",
              "I'm allergic to penicillin"]  # fmt: skip
    told(memory, *(f"remember that {thing}" for thing in things))
    result = memory.handle(Request(question))
    assert result.spoken == (
        "You told me that you're allergic to penicillin, that your car is blue, that the gate "
        "code is 1234, that the spare key is under the pot, that your sister is vegetarian "
        "and 2 more."
    )
    assert result.value == things[::-1] and result.data["action"] == "list"


# --- forgetting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "forgotten", "kept"),
    [
        ("forget what I told you about the plumber", "the plumber comes on Thursday",
         "my passport is in the top drawer"),
        ("forget that my passport is in the drawer", "your passport is in the top drawer",
         "the plumber comes on Thursday"),
        ("Forget about my passport.", "your passport is in the top drawer",
         "the plumber comes on Thursday"),
        ("forget my passport", "your passport is in the top drawer",
         "the plumber comes on Thursday"),
    ],
)  # fmt: skip
def test_forget_deletes_the_fact_and_says_which(
    store: Store, memory: MemorySkill, command: str, forgotten: str, kept: str
) -> None:
    told(memory, PLUMBER, PASSPORT)
    result = memory.handle(Request(command))
    assert result.spoken == f"Okay, I've forgotten that {forgotten}."
    assert result.data["action"] == "forget"
    assert saved(store) == [kept]


def test_forget_what_was_never_said(store: Store, memory: MemorySkill) -> None:
    told(memory, PLUMBER)
    result = memory.handle(Request("forget what I told you about the dentist"))
    assert result.spoken == (
        "You haven't told me anything about the dentist, so there's nothing to forget."
    )
    assert result.status == "failed" and saved(store) == ["the plumber comes on Thursday"]
    everything = memory.handle(Request("forget everything you know about me"))
    assert (everything.spoken, everything.status) == (ASK_FORGET, "ask")
    assert saved(store) == ["the plumber comes on Thursday"]


# --- claiming what no agent took -------------------------------------------------------------


@pytest.fixture
def full(memory: MemorySkill) -> MemorySkill:
    return told(
        memory,
        PLUMBER,
        PASSPORT,
        "remember that my favourite book is Hamlet",
        "remember that my grandfather fought in World War 2",
        "remember that the wifi password is on the fridge",
    )


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("when is the plumber coming?", "the plumber comes on Thursday"),
        ("Where is my passport?", "your passport is in the top drawer"),
        ("what's the wifi password", "the wifi password is on the fridge"),
    ],
)
def test_claims_a_personal_question_a_fact_answers(
    full: MemorySkill, question: str, answer: str
) -> None:
    result = full.claim(Request(question))
    assert result.spoken == f"You told me that {answer}."
    assert result.data["action"] == "recall"


@pytest.mark.parametrize(
    "question",
    [
        "when did World War 2 end?",
        "who wrote Hamlet",
        "when is the electrician coming?",
        "what's the capital of France?",
        "what is a plumber?",
        "what does plumber mean",
        "the plumber is late",  # not a question
    ],
)
def test_leaves_general_questions_to_the_llm(full: MemorySkill, question: str) -> None:
    assert full.claim(Request(question)) is None


def test_claims_nothing_with_nothing_saved(memory: MemorySkill) -> None:
    assert memory.claim(Request("when is the plumber coming?")) is None


def test_routed_here_by_likeness_answers_only_from_a_fact(full: MemorySkill) -> None:
    assert (
        say(full, "where's my passport") == "You told me that your passport is in the top drawer."
    )
    assert say(full, "where are my keys") is None  # the agent's LLM fallback answers


# --- the plugin ------------------------------------------------------------------------------


def test_the_bundled_agent_configures_the_plugin(store: Store) -> None:
    spec = load_agents()["memory"]
    plugin = find_skill("memory")
    config = plugin.config_model.model_validate(spec.skill_config)
    assert isinstance(config, MemoryConfig) and spec.llm_fallback
    assert plugin.migrations == MIGRATIONS
    skill = plugin.factory(SimpleNamespace(store=store, encoder=None), config)
    assert say(skill, PLUMBER) == "Okay, I'll remember that the plumber comes on Thursday."


def test_the_app_recalls_in_a_later_session_what_it_was_told(tmp_path: Path) -> None:
    overrides = [f"store.path={tmp_path / 'va.db'}"]
    first = build(load_settings("speed", overrides))
    record = first.ask("Remember that the plumber comes on Thursday.")
    assert record.agent == "memory" and "I'll remember" in record.answer
    first.close()
    second = build(load_settings("speed", overrides))
    record = second.ask("When is the plumber coming?")
    assert record.agent == "memory", record.first_step.decision.reason
    assert record.answer == "You told me that the plumber comes on Thursday."
    second.close()


def test_a_fact_answers_a_question_that_would_otherwise_be_declined(tmp_path: Path) -> None:
    app = build(load_settings("speed", [f"store.path={tmp_path / 'va.db'}"]))
    assert app.ask("When is my next appointment?").agent == "limits"  # nothing told yet
    app.ask("Remember that my next appointment is with the dentist on Tuesday at 3.")
    record = app.ask("When is my next appointment?")
    assert record.agent == "memory", record.first_step.decision.reason
    assert record.answer == (
        "You told me that your next appointment is with the dentist on Tuesday at 3."
    )
    assert app.ask("Turn on the kitchen lights.").agent == "limits"
    app.close()


# --- embeddings (the packaged model) ---------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder("all-MiniLM-L6-v2")


@pytest.fixture
def embedded(store: Store, encoder: SentenceTransformerEncoder) -> MemorySkill:
    return MemorySkill(store, MemoryConfig(), encoder)


@pytest.mark.slow
def test_facts_are_kept_with_their_embedding(store: Store, embedded: MemorySkill) -> None:
    told(embedded, PLUMBER)
    ((blob, model),) = store.query("SELECT embedding, embedding_model FROM memory_facts")
    vector = np.frombuffer(blob, dtype=np.float32)
    assert model == "all-MiniLM-L6-v2" and vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what do you remember about the plumber", "the plumber comes on Thursday"),
        ("do you remember where my passport is", "your passport is in the top drawer"),
        ("what did I tell you about my travel documents", "your passport is in the top drawer"),
    ],
)
def test_recall_by_meaning(embedded: MemorySkill, question: str, answer: str) -> None:
    told(embedded, PLUMBER, PASSPORT, "remember that my bike lock code is 4512")
    assert say(embedded, question) == f"You told me that {answer}."


@pytest.mark.slow
def test_embeddings_claim_personal_questions_only(embedded: MemorySkill) -> None:
    told(
        embedded,
        PLUMBER,
        PASSPORT,
        "remember that my favourite book is Hamlet",
        "remember that my grandfather fought in World War 2",
    )
    assert claimed(embedded, "when is the plumber coming?") == (
        "You told me that the plumber comes on Thursday."
    )
    assert claimed(embedded, "where is my passport?") == (
        "You told me that your passport is in the top drawer."
    )
    for general in ("when did World War 2 end?", "who wrote Hamlet", "what is a plumber?"):
        assert claimed(embedded, general) is None, general


@pytest.mark.slow
def test_forget_by_meaning(store: Store, embedded: MemorySkill) -> None:
    told(embedded, PLUMBER, PASSPORT)
    assert say(embedded, "forget that my passport is in the drawer") == (
        "Okay, I've forgotten that your passport is in the top drawer."
    )
    assert saved(store) == ["the plumber comes on Thursday"]
    assert say(embedded, "forget about the dentist") == (
        "You haven't told me anything about the dentist, so there's nothing to forget."
    )


@pytest.mark.slow
def test_facts_saved_without_an_encoder_are_embedded_when_one_comes(
    store: Store, memory: MemorySkill, encoder: SentenceTransformerEncoder
) -> None:
    told(memory, PLUMBER)  # the speed profile: no embeddings
    assert store.query("SELECT embedding FROM memory_facts") == [(None,)]
    later = MemorySkill(store, MemoryConfig(), encoder)
    assert say(later, "what do you remember about the plumber") == (
        "You told me that the plumber comes on Thursday."
    )
    ((model,),) = store.query("SELECT embedding_model FROM memory_facts")
    assert model == "all-MiniLM-L6-v2"


@pytest.mark.slow
def test_embeddings_from_another_model_are_not_compared(
    store: Store, encoder: SentenceTransformerEncoder
) -> None:
    class Other:
        name = "other-model"

        def encode(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)

    told(MemorySkill(store, MemoryConfig(), Other()), PLUMBER)
    assert say(MemorySkill(store, MemoryConfig(), encoder), "what do you know about the plumber")
    ((model,),) = store.query("SELECT embedding_model FROM memory_facts")
    assert model == "all-MiniLM-L6-v2"


def test_results_are_structured(memory: MemorySkill) -> None:
    remembered = memory.handle(Request(PLUMBER))
    assert isinstance(remembered, Result) and remembered.to_dict() == {
        "spoken": "Okay, I'll remember that the plumber comes on Thursday.",
        "status": "done",
        "value": "the plumber comes on Thursday",
        "data": {"action": "remember", "facts": ["the plumber comes on Thursday"]},
    }
    forgotten = memory.handle(Request("forget what I told you about the plumber"))
    assert forgotten.data == {"action": "forget", "facts": ["the plumber comes on Thursday"]}
    missing = memory.handle(Request("forget what I told you about the plumber"))
    assert (missing.status, missing.data["facts"]) == ("failed", [])
