"""Sentence chunking of streamed LLM text, and the speakable normaliser."""

from __future__ import annotations

import random

import pytest

from voice_agent.tts.chunker import SentenceChunker, speakable


def pieces(text: str, seed: int) -> list[str]:
    """Irregular 1-4 character pieces, like LLM tokens."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        size = rng.randint(1, 4)
        out.append(text[i : i + size])
        i += size
    return out


def chunk(parts: list[str]) -> list[str]:
    chunker = SentenceChunker()
    sentences = [s for part in parts for s in chunker.feed(part)]
    return sentences + chunker.flush()


CASES = [
    ("Hello there. How are you? I'm fine!", ["Hello there.", "How are you?", "I'm fine!"]),
    (
        "Dr. Smith met Mr. and Mrs. Jones on Main St. yesterday. They talked.",
        ["Dr. Smith met Mr. and Mrs. Jones on Main St. yesterday.", "They talked."],
    ),
    (
        "Pets, e.g. dogs, i.e. friends, etc. are fine. Really.",
        ["Pets, e.g. dogs, i.e. friends, etc. are fine.", "Really."],
    ),
    ("Bring apples, pears, etc. Then go home.", ["Bring apples, pears, etc.", "Then go home."]),
    ("It's Rust vs. Go. Choose one.", ["It's Rust vs. Go.", "Choose one."]),
    (
        "I live in the U.S. It is big. The U.S. economy grew.",
        ["I live in the U.S.", "It is big.", "The U.S. economy grew."],
    ),
    (
        "The meeting is at 9 a.m. tomorrow. Lunch is at 1 p.m. Dinner follows.",
        ["The meeting is at 9 a.m. tomorrow.", "Lunch is at 1 p.m.", "Dinner follows."],
    ),
    (
        "Pi is 3.14 roughly. It costs $45.50 today. Use version 2.0. Done.",
        ["Pi is 3.14 roughly.", "It costs 45 dollars 50 cents today.", "Use version 2.0.", "Done."],
    ),
    (
        "Here is how:\n1. Preheat the oven\n2. Mix the flour.\n3. Bake for 20 minutes.\n",
        ["Here is how:", "Preheat the oven", "Mix the flour.", "Bake for 20 minutes."],
    ),
    (
        "Steps:\n1) Chop\n10. Fry\n- Serve hot\n+ Eat\n• Relax",
        ["Steps:", "Chop", "Fry", "Serve hot", "Eat", "Relax"],
    ),
    (
        "## Steps\n- **Chop** the onions.\n* Fry them in `oil`.\n> _Enjoy_ it!\n",
        ["Steps", "Chop the onions.", "Fry them in oil.", "Enjoy it!"],
    ),
    ("**Note.** This matters.", ["Note.", "This matters."]),
    (
        "Well... I think so. Hmm… let me check. Wait...what?",
        ["Well...", "I think so.", "Hmm… let me check.", "Wait...what?"],
    ),
    (
        "He said \"stop.\" Then he left. (It was late.) We slept. She said 'no.' Fine.",
        [
            'He said "stop."',
            "Then he left.",
            "(It was late.)",
            "We slept.",
            "She said 'no.'",
            "Fine.",
        ],
    ),
    ("Really?! Yes!!! Okay.", ["Really?!", "Yes!!!", "Okay."]),
    ("First line\nSecond line\n\n\nThird", ["First line", "Second line", "Third"]),
    ("Hi.\n...\n---\n* \n!!\n```\n", ["Hi."]),
    ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
    ("Count to 3. Then stop.", ["Count to 3.", "Then stop."]),
    ("It was 5 p.m.\nThen dark.", ["It was 5 p.m.", "Then dark."]),
    ("See example.com. It works.", ["See example.com.", "It works."]),
    (
        "It is 20°C & 45% humid 😀. Nice.",
        ["It is 20 degrees Celsius and 45 percent humid.", "Nice."],
    ),
    ("Sure. ", ["Sure."]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_sentences_from_tokens(text, expected):
    assert chunk(pieces(text, seed=1)) == expected


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:30] for c in CASES])
def test_same_sentences_however_the_text_is_split(text, expected):
    assert chunk([text]) == expected
    assert chunk(list(text)) == expected
    for seed in range(2, 8):
        assert chunk(pieces(text, seed)) == expected


def emitted_at(text: str) -> list[tuple[int, str]]:
    """(index of the character whose arrival released each sentence, sentence)."""
    chunker = SentenceChunker()
    return [(i, s) for i, char in enumerate(text) for s in chunker.feed(char)]


def test_sentence_released_when_the_space_after_its_stop_arrives():
    text = 'One here. Two there? Three "quoted." Four!\nFive'
    assert emitted_at(text) == [
        (text.index(" Two"), "One here."),
        (text.index(" Three"), "Two there?"),
        (text.index(" Four"), 'Three "quoted."'),
        (text.index("\nFive"), "Four!"),
    ]


def test_nothing_released_before_the_following_space():
    chunker = SentenceChunker()
    assert chunker.feed("Hello world.") == []
    assert chunker.feed(" ") == ["Hello world."]
    assert chunker.feed("It costs 3.") == []
    assert chunker.feed("50 now") == []
    assert chunker.flush() == ["It costs 3.50 now"]


def test_newline_releases_a_list_item_at_once():
    chunker = SentenceChunker()
    assert chunker.feed("1. Preheat the oven") == []
    assert chunker.feed("\n") == ["Preheat the oven"]
    assert chunker.feed("2. Mix") == []
    assert chunker.flush() == ["Mix"]


def test_ambiguous_abbreviation_waits_for_the_next_letter():
    chunker = SentenceChunker()
    assert chunker.feed("Lunch is at 1 p.m. ") == []
    assert chunker.feed("D") == ["Lunch is at 1 p.m."]
    assert chunker.feed("inner at 6 p.m. ") == []
    assert chunker.feed("sharp.") == []
    assert chunker.flush() == ["Dinner at 6 p.m. sharp."]


def test_flush_resets_for_the_next_reply():
    chunker = SentenceChunker()
    assert chunker.feed("1. One\n2. Two") == ["One"]
    assert chunker.flush() == ["Two"]
    assert chunker.flush() == []
    assert chunker.feed("3. Three\n") == ["Three"]


def test_long_sentence_is_cut_at_the_first_clause_break_after_200_chars():
    head = "word " * 30 + "early, comma " + "more " * 30  # 218 characters
    text = head + "here, and the rest; of it. Next one."
    assert len(head) > 200 and head.index("early,") < 200
    expected = [(head + "here,").strip(), "and the rest; of it.", "Next one."]
    assert chunk(pieces(text, 3)) == expected
    assert emitted_at(text)[0] == (len(head) + len("here,"), expected[0])


def test_unpunctuated_run_is_cut_at_a_space_after_400_chars():
    text = "blah " * 100  # 500 characters, not one comma
    first, second = chunk(pieces(text, 4))
    assert len(first) == 404  # the first space at or after character 400
    assert len(first) + len(second) + 1 == len(text.strip())


def test_custom_limits():
    chunker = SentenceChunker(soft_limit=10, hard_limit=30)
    assert chunker.feed("Short, then a longer clause, and more ") == [
        "Short, then a longer clause,"
    ]


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("**Bold** and *italic* and __strong__ and _em_", "Bold and italic and strong and em"),
        ("Run `ls -la` in my_project_dir", "Run ls -la in my_project_dir"),
        ("# Title\nBody text", "Title. Body text"),
        ("Intro:\n- one\n- two.\n- three", "Intro: one. two. three"),
        ("See [the docs](https://example.com/x) now", "See the docs now"),
        ("Visit https://www.python.org/downloads/ today.", "Visit python.org today."),
        ("It is 45% done", "It is 45 percent done"),
        (
            "It is 20°C, or 68 °F; 5° colder",
            "It is 20 degrees Celsius, or 68 degrees Fahrenheit; 5 degrees colder",
        ),
        ("Tom & Jerry, R&D", "Tom and Jerry, R and D"),
        (
            "$45.50, $1, $1.01, $3.5, $2,000",
            "45 dollars 50 cents, 1 dollar, 1 dollar 1 cent, 3.5 dollars, 2,000 dollars",
        ),
        (
            "€20 and £5.50 and $4.5 million",
            "20 euros and 5 pounds 50 pence and 4.5 million dollars",
        ),
        ("3 * 4 = 12, 2×3", "3 times 4 = 12, 2 times 3"),
        ("10–20 minutes, ~5 km, #1 hit", "10 to 20 minutes, about 5 km, number 1 hit"),
        ("Paris → Lyon", "Paris to Lyon"),
        ("Great job 🎉👍🏽!", "Great job!"),
        ("Version 2.0 costs 3.14", "Version 2.0 costs 3.14"),
        ("```python\nprint(1)\n```", "print(1)"),
        ("...", ""),
        ("  \n---\n** **\n", ""),
    ],
)
def test_speakable(text, spoken):
    assert speakable(text) == spoken
    assert speakable(spoken) == spoken  # idempotent: engines apply it to chunker output again
