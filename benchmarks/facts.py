"""General-knowledge benchmark: how often the assistant's answers are right, per model and profile.

benchmarks/data/facts.jsonl holds short questions with a pattern a right answer contains
(`expect`) and one for the usual wrong answers (`reject`). Each question is asked through the
real app, as a first turn, so routing, skills and the reply rules all take part: "how many
grams in a pound" is answered by the utility skill, "who wrote Hamlet" by the LLM.

- per profile: each profile as shipped;
- per model: the balanced profile with each embedded model that is present, so models are
  compared on one set of settings.

An answer is right when `expect` matches and `reject` does not, unsure when it says it does
not know (better than a confident wrong answer, but not right), wrong otherwise. First-token
time is the turn's `first_token` mark; length is counted in words and sentences.

Run: .venv/bin/python -m benchmarks.facts [--profile P | --model M] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.llm_bench import load_jsonl

DATA = Path(__file__).parent / "data" / "facts.jsonl"
PROFILES = ("speed", "balanced", "quality")
QUICK_SAMPLE = 40
UNSURE = re.compile(
    r"\b(?:not sure|unsure|not certain|don't know|do not know|no idea|can't say|cannot say|"
    r"don't have (?:that|this|reliable) information|can't be certain)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…](?:[\"')\]]*)(?:\s|$)")


def load(quick: bool) -> list[dict]:
    rows = load_jsonl(DATA)
    return random.Random(11).sample(rows, QUICK_SAMPLE) if quick else rows


def grade(answer: str, row: dict) -> str:
    """'right', 'unsure' or 'wrong'."""
    rejected = row.get("reject") and re.search(row["reject"], answer, re.IGNORECASE)
    if re.search(row["expect"], answer, re.IGNORECASE) and not rejected:
        return "right"
    return "unsure" if UNSURE.search(answer) else "wrong"


def sentences(answer: str) -> int:
    return max(1, len(_SENTENCE_END.findall(answer.strip() + " ")))


def measure(profile: str, rows: list[dict], model: str | None = None) -> dict:
    """Ask every question through the app built from `profile` (with `model` as llm.model)."""
    from voice_agent.app import build
    from voice_agent.config import load_settings

    with tempfile.TemporaryDirectory(prefix="va-facts-") as tmp:
        overrides = [f"store.path={tmp}/va.db", f"agents.files_root={tmp}/files"]
        # The embedded model: Ollama, when one runs here, would answer instead.
        overrides += ["llm.backend=llamacpp"] + ([f"llm.model={model}"] if model else [])
        app = build(load_settings(profile, overrides))
        app.warmup()
        grades: Counter[str] = Counter()
        by_topic: dict[str, Counter[str]] = {}
        first_token, words, said, misses = [], [], [], []
        for row in rows:
            app.orchestrator.reset()  # each question on its own, as a first turn
            turn = app.ask(row["question"])
            verdict = grade(turn.answer, row)
            grades[verdict] += 1
            by_topic.setdefault(row["topic"], Counter())[verdict] += 1
            if "first_token" in turn.marks:
                first_token.append(turn.marks["first_token"] * 1000)
            words.append(len(turn.answer.split()))
            said.append(sentences(turn.answer))
            if verdict != "right":
                misses.append(
                    {"question": row["question"], "answer": turn.answer, "grade": verdict}
                )
        llm_name = app.llm_name
        app.close()
    n = len(rows)
    return {
        "profile": profile,
        "llm": llm_name,
        "questions": n,
        "right_pct": 100 * grades["right"] / n,
        "unsure_pct": 100 * grades["unsure"] / n,
        "wrong_pct": 100 * grades["wrong"] / n,
        "by_topic": {
            topic: round(100 * c["right"] / sum(c.values()), 1)
            for topic, c in sorted(by_topic.items())
        },
        "first_token_ms_p50": statistics.median(first_token) if first_token else None,
        "words_p50": statistics.median(words),
        "sentences_max": max(said),
        "misses": misses,
    }


def models_present() -> list[str]:
    """The embedded models ready to load (the tiny SmolLM2 is for tests, not answers)."""
    from voice_agent import models

    return [
        name
        for name in models.known("llm")
        if name != "smollm2-135m" and models.status("llm", name).present
    ]


def run(quick: bool, progress=None) -> dict:
    from voice_agent.config import load_settings

    rows = load(quick)
    profiles = ("balanced",) if quick else PROFILES
    names = [] if quick else models_present()
    task = progress.add_task("facts", total=len(profiles) + len(names)) if progress else None
    results: dict[str, dict] = {"profiles": {}, "models": {}, "questions": len(rows)}
    for profile in profiles:
        results["profiles"][profile] = measure(profile, rows)
        if progress:
            progress.advance(task)
    balanced = load_settings("balanced").llm.model
    for name in names:
        # The balanced profile with its own model was measured above.
        same = name == balanced and "balanced" in results["profiles"]
        results["models"][name] = (
            results["profiles"]["balanced"] if same else measure("balanced", rows, name)
        )
        if progress:
            progress.advance(task)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES)
    parser.add_argument("--model", help="an embedded model, run on the balanced profile")
    parser.add_argument("--quick", action="store_true", help=f"a sample of {QUICK_SAMPLE}")
    args = parser.parse_args()
    rows = load(args.quick)
    if args.model:
        out = measure(args.profile or "balanced", rows, args.model)
    elif args.profile:
        out = measure(args.profile, rows)
    else:
        out = run(args.quick)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
