"""Scoring maths shared by the benchmarks (kept free of heavy imports; unit-tested)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from voice_agent.language.numbers import ORDINALS, numbers_to_digits


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


# -- word error rate --------------------------------------------------------------------------
# Both sides of a comparison go through normalize_text, so a mapping only has to be consistent,
# not linguistically right: "one" -> "1" everywhere is harmless, and it makes "25",
# "twenty five" and "twenty-five" the same word.

_SPELLINGS = {
    "mr": "mister",
    "mrs": "missus",
    "dr": "doctor",
    "ok": "okay",
    "whats": "what is",
    "todo": "to do",
    "dollars": "dollar",  # "$90 jacket" is read "90 dollars jacket"
}
_IS_CONTRACTIONS = "what|it|that|there|where|how|who|here|he|she|when|why"
_REWRITES = (
    (r"[‘’`]", "'"),
    (r"\$(\d[\d,]*(?:\.\d+)?)", r"\1 dollars"),
    (r"(\d)\s*%", r"\1 percent"),
    (r"\bper cent\b", "percent"),
    (r"(?<=\d),(?=\d{3}\b)", ""),  # 1,000 -> 1000
    (r"(\d)\.00\b", r"\1"),  # $6.00 -> 6 dollars, as "six dollars" becomes
    (r"\b(\d{1,2}):00\b", r"\1"),  # 10:00 -> 10, as "ten o'clock" becomes
    (r"\b(\d{1,2}):(\d\d)\b", r"\1 \2"),  # 10:30 -> 10 30, as "ten thirty" becomes
    (r"\b(\d{1,2})\.([0-5]\d)(?=\s*[ap]\.?m\b)", r"\1 \2"),  # Whisper's 6.30 am
    (r"\b(at|until|till|by) (\d{1,2})\.([0-5]\d)\b", r"\1 \2 \3"),  # and "at 7.30"
    (r"\bo'?clock\b", ""),
    (r"(\d)([ap]m)\b", r"\1 \2"),
    (rf"\b({_IS_CONTRACTIONS})'s\b", r"\1 is"),
    (r"\bcan't\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bwon't\b", "will not"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"\bi'm\b", "i am"),
    (r"'ll\b", " will"),
    (r"'ve\b", " have"),
    (r"\blet's\b", "let us"),
    (r"[-–—/]", " "),
    (r"(?<!\d)\.|\.(?!\d)", ""),  # a.m. -> am, but 2.5 stays
    (r"[^a-z0-9. ]", ""),  # every other mark, apostrophes of possessives included
)


def normalize_text(text: str) -> list[str]:
    """Words to compare for WER: lower case, no punctuation, contractions and numbers
    spelled one way (digits), so that formatting choices are not counted as errors."""
    text = text.lower()
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement, text)
    tokens = [t for word in text.split() for t in _SPELLINGS.get(word, word).split()]
    return numbers_to_digits(tokens, ORDINALS)


def wer_counts(reference: str, hypothesis: str) -> tuple[int, int, int, int]:
    """(substitutions, deletions, insertions, reference words) of the cheapest word alignment
    of the normalised texts; on ties substitutions are preferred, then deletions."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    # cell: (edits, substitutions, deletions, insertions) to turn ref[:i] into hyp[:j]
    previous = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        row = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            miss = ref[i - 1] != hyp[j - 1]
            e, s, d, ins = previous[j - 1]
            options = [(e + miss, s + miss, d, ins)]
            e, s, d, ins = previous[j]
            options.append((e + 1, s, d + 1, ins))
            e, s, d, ins = row[j - 1]
            options.append((e + 1, s, d, ins + 1))
            row.append(min(options, key=lambda cell: cell[0]))  # first minimum wins the tie
        previous = row
    _, substitutions, deletions, insertions = previous[-1]
    return substitutions, deletions, insertions, len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one utterance; an empty reference scores 0 if nothing was heard and
    1 otherwise (every word heard is wrong, but the rate has no denominator)."""
    return corpus_wer([reference], [hypothesis])


def corpus_wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Total edits over total reference words: long utterances weigh more, as they should."""
    edits = words = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        s, d, i, n = wer_counts(reference, hypothesis)
        edits, words = edits + s + d + i, words + n
    if words == 0:
        return 1.0 if edits else 0.0
    return edits / words
