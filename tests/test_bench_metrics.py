"""The benchmark maths against hand-computed cases."""

from __future__ import annotations

import pytest

from benchmarks.metrics import accuracy, confusion, macro_f1, per_label_prf, percentile

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
