"""Scoring maths shared by the benchmarks (kept free of heavy imports; unit-tested)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    if not truth:
        return 0.0
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def per_label_prf(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support for every label that occurs in truth or predictions."""
    pairs = list(zip(truth, predicted, strict=True))
    labels = sorted(set(truth) | set(predicted))
    result = {}
    for label in labels:
        tp = sum(t == label and p == label for t, p in pairs)
        fp = sum(t != label and p == label for t, p in pairs)
        fn = sum(t == label and p != label for t, p in pairs)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return result


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean F1 over the labels present in the truth."""
    scores = per_label_prf(truth, predicted)
    present = sorted(set(truth))
    return sum(scores[label]["f1"] for label in present) / len(present) if present else 0.0


def confusion(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, int]]:
    """truth label -> predicted label -> count."""
    counts = Counter(zip(truth, predicted, strict=True))
    labels = sorted(set(truth) | set(predicted))
    return {t: {p: counts[(t, p)] for p in labels} for t in labels}


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100] (numpy's default method)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
