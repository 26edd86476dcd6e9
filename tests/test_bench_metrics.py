"""The benchmark maths against hand-computed cases."""

from __future__ import annotations

import pytest

from benchmarks.metrics import (
    accuracy,
    confusion,
    corpus_wer,
    macro_f1,
    normalize_text,
    per_label_prf,
    percentile,
    wer,
    wer_counts,
)

TRUTH = ["a", "a", "a", "b", "b", "c"]
PRED = ["a", "a", "b", "b", "c", "c"]


def test_accuracy():
    assert accuracy(TRUTH, PRED) == pytest.approx(4 / 6)
    assert accuracy([], []) == 0.0


def test_per_label_precision_recall_f1_by_hand():
    scores = per_label_prf(TRUTH, PRED)
    # a: tp 2, fp 0, fn 1 -> p 1, r 2/3, f1 0.8
    assert scores["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    # b: tp 1, fp 1, fn 1 -> p 0.5, r 0.5, f1 0.5
    assert scores["b"]["f1"] == pytest.approx(0.5)
    # c: tp 1, fp 1, fn 0 -> p 0.5, r 1, f1 2/3
    assert scores["c"]["precision"] == pytest.approx(0.5)
    assert scores["c"]["f1"] == pytest.approx(2 / 3)


def test_macro_f1_is_the_unweighted_mean_over_true_labels():
    assert macro_f1(TRUTH, PRED) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # a label only ever predicted (never true) does not enter the mean
    assert macro_f1(["a", "a"], ["a", "z"]) == pytest.approx(2 / 3)


def test_confusion_counts_truth_rows_against_predictions():
    table = confusion(TRUTH, PRED)
    assert table["a"] == {"a": 2, "b": 1, "c": 0}
    assert table["b"] == {"a": 0, "b": 1, "c": 1}
    assert sum(sum(row.values()) for row in table.values()) == len(TRUTH)


def test_percentile_interpolates_like_numpy():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0
    assert percentile([], 50) == 0.0


# -- word error rate ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("What's 25 times 7?", ["what", "is", "25", "times", "7"]),
        ("what is twenty five times seven", ["what", "is", "25", "times", "7"]),
        ("twenty-five", ["25"]),
        ("one hundred and five", ["105"]),
        ("one hundred forty four", ["144"]),
        ("a thousand", ["1000"]),
        ("two thousand and twenty four", ["2024"]),
        ("1,234", ["1234"]),
        ("one thousand two hundred thirty four", ["1234"]),
        ("two point five", ["2.5"]),
        ("two and a half hours", ["2.5", "hours"]),  # as the calculator and the clock read it
        ("a dozen", ["12"]),
        ("one hundredth", ["100th"]),
        ("2.5", ["2.5"]),
        ("five five", ["5", "5"]),  # two numbers, not 10 or 55
        ("seven thirty", ["7", "30"]),
        ("7:30", ["7", "30"]),
        ("10:00", ["10"]),
        ("6.30 am", ["6", "30", "am"]),
        ("at 7.30", ["at", "7", "30"]),
        ("7.30 dollars", ["7.30", "dollar"]),
        ("ten o'clock", ["10"]),
        ("15%", ["15", "percent"]),
        ("fifteen per cent", ["15", "percent"]),
        ("$40", ["40", "dollar"]),
        ("forty dollars", ["40", "dollar"]),
        ("$6.00", ["6", "dollar"]),
        ("December twenty fifth", ["december", "25th"]),
        ("December 25th", ["december", "25th"]),
        ("7 a.m.", ["7", "am"]),
        ("7am", ["7", "am"]),
        ("Mr. Dashwood's ill-disposed", ["mister", "dashwoods", "ill", "disposed"]),
        (
            "I can't, it won't, they don't",
            ["i", "can", "not", "it", "will", "not", "they", "do", "not"],
        ),
        ("whats up", ["what", "is", "up"]),
        ("", []),
    ],
)
def test_normalize_text_spells_numbers_and_contractions_one_way(text, words):
    assert normalize_text(text) == words


def test_wer_counts_substitutions_deletions_and_insertions_by_hand():
    # one substitution (b -> x), one insertion (e)
    assert wer_counts("a b c d", "a x c d e") == (1, 0, 1, 4)
    # one deletion (b)
    assert wer_counts("a b c", "a c") == (0, 1, 0, 3)
    # everything wrong: 2 substitutions and a deletion beat 3 deletions + 2 insertions
    assert wer_counts("a b c", "x y") == (2, 1, 0, 3)
    # formatting is not an error: numbers, case and punctuation are normalised first
    assert wer_counts("what is twenty five times seven", "What's 25 times 7?") == (0, 0, 0, 5)
    assert wer("a b c d", "a x c d e") == pytest.approx(0.5)


def test_wer_with_an_empty_reference_or_hypothesis():
    assert wer_counts("", "a b") == (0, 0, 2, 0)
    assert wer("", "") == 0.0
    assert wer("", "a b") == 1.0  # no denominator: capped at one rather than infinite
    assert wer("a b", "") == 1.0
    assert wer_counts("a b", "") == (0, 2, 0, 2)


def test_corpus_wer_weighs_by_reference_length():
    # 1 edit in 4 words and 1 edit in 1 word: 2/5, not the mean of 0.25 and 1
    assert corpus_wer(["a b c d", "e"], ["a b c x", "f"]) == pytest.approx(2 / 5)
    assert corpus_wer([], []) == 0.0
