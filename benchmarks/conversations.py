"""Conversation benchmark: whole conversations through the real CLI, typed and spoken.

Typed with `chat --json` (one process per profile, `/new` between conversations),
spoken with `run --input` over Piper recordings; the weather agent talks to a local
stand-in for Open-Meteo. Per profile: the share of conversations right (by kind) and
the median time to the first reply audio of multi-step turns.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data" / "conversations.yaml"
PROFILES = ("speed", "balanced", "quality")
GAP_S = 14.0  # between spoken sentences: room for the reply (the assistant is half-duplex)


@dataclass(frozen=True)
class Say:
    text: str
    agents: tuple[str, ...]  # the steps' agents, in order
    answer: str  # a regular expression the answer must match (case-insensitive)


@dataclass(frozen=True)
class Conversation:
    name: str
    kind: str
    turns: tuple[Say, ...]
    spoken: bool = False


def load(path: Path = DATA) -> list[Conversation]:
    return [
        Conversation(
            item["name"],
            item["kind"],
            tuple(Say(t["say"], tuple(t["agents"]), t["answer"]) for t in item["turns"]),
            item.get("spoken", False),
        )
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))
    ]


def check(conversation: Conversation, records: list[dict]) -> list[str]:
    """What went wrong in one conversation, turn by turn (empty when it went right)."""
    wrong = []
    for say, record in zip(conversation.turns, records, strict=False):
        agents = tuple(step["agent"] for step in record["steps"])
        if agents != say.agents or not re.search(say.answer, record["answer"], re.I | re.S):
            heard = record.get("transcript") or record["text"]
            wrong.append(
                f"{conversation.name}: {say.text!r} heard as {heard!r} → {agents} "
                f"{record['answer']!r} (expected {say.agents} /{say.answer}/)"
            )
    if len(records) != len(conversation.turns):
        wrong.append(f"{conversation.name}: {len(records)} turns for {len(conversation.turns)}")
    return wrong


def cli(args: list[str], work: Path, settings: list[str], stdin: str | None = None) -> list[dict]:
    """voice-agent with this run's store, sandbox and weather service; its JSON turns."""
    base = [f"store.path={work / 'va.db'}", f"agents.files_root={work / 'files'}", *settings]
    for item in ["llm.temperature=0", *base]:
        args = [*args, "--set", item]
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"voice-agent {args[0]} failed: {done.stderr[-2000:]}")
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [r for r in records if "announcement" not in r]


def typed(
    profile: str, conversations: list[Conversation], work: Path, settings: list[str]
) -> dict[str, list[dict]]:
    """Every conversation typed into one `chat --json`, each after a `/new`."""
    lines = []
    for conversation in conversations:
        lines += ["/new", *(say.text for say in conversation.turns)]
    records = iter(
        cli(["chat", "--json", "--profile", profile], work, settings, "\n".join(lines) + "\n")
    )
    return {c.name: [next(records) for _ in c.turns] for c in conversations}


def spoken(
    profile: str, conversations: list[Conversation], work: Path, settings: list[str], speak
) -> dict[str, list[dict]]:
    """Each conversation said aloud (`speak(text) -> 16 kHz int16 samples`), a recording each,
    all through one run --input (each recording a new conversation, as `/new` types one)."""
    import numpy as np

    from benchmarks.e2e import write_wav

    args, names = ["run", "--json", "--profile", profile], {}
    for number, conversation in enumerate(conversations):
        silence = np.zeros(int(16000 * GAP_S), dtype=np.int16)
        parts = [np.zeros(8000, dtype=np.int16)]
        for say in conversation.turns:
            parts += [speak(say.text), silence]
        wav = write_wav(np.concatenate(parts), work / f"conversation-{number}.wav")
        args += ["--input", str(wav)]
        names[str(wav)] = conversation.name
    # A recording has no echo, so barge-in only matters when a slow machine places a
    # reply so late that it would still be playing at the next sentence: then the
    # sentence must still be heard, as a person talking over the reply would be.
    out: dict[str, list[dict]] = {name: [] for name in names.values()}
    for record in cli(args, work, [*settings, "audio.barge_in=true"]):
        out[names[record.get("input") or str(wav)]].append(record)
    return out


def summarize(conversations: list[Conversation], records: dict[str, list[dict]]) -> dict:
    asked = [c for c in conversations if c.name in records]
    wrong = {c.name: check(c, records[c.name]) for c in asked}
    kinds = sorted({c.kind for c in asked})
    multi = [r for c in asked for r in records[c.name] if len(r.get("steps") or []) > 1]
    first_audio = [
        r["timings"]["first_audio_ms"] for r in multi if "first_audio_ms" in r["timings"]
    ]
    total = [r["timings"]["total_ms"] for r in multi if "total_ms" in r["timings"]]
    return {
        "n": len(asked),
        "right": sum(not w for w in wrong.values()),
        "by_kind": {
            kind: [
                sum(not wrong[c.name] for c in asked if c.kind == kind),
                sum(c.kind == kind for c in asked),
            ]
            for kind in kinds
        },
        "multi_step_turns": len(multi),
        "multi_step_first_audio_median_ms": statistics.median(first_audio) if first_audio else None,
        "multi_step_total_median_ms": statistics.median(total) if total else None,
        "wrong": [line for lines in wrong.values() for line in lines],
    }


def run(quick: bool, progress=None) -> dict:
    from benchmarks.open_meteo import OpenMeteoServer
    from benchmarks.speech import speak

    conversations = load()
    profiles = ("speed",) if quick else PROFILES
    task = progress.add_task("conversations", total=2 * len(profiles)) if progress else None
    results: dict[str, dict] = {}
    with OpenMeteoServer() as weather:
        for profile in profiles:
            results[profile] = {}
            with tempfile.TemporaryDirectory(prefix="va-conv-") as tmp:
                said = typed(profile, conversations, Path(tmp), weather.settings)
                results[profile]["typed"] = summarize(conversations, said)
            if progress:
                progress.advance(task)
            with tempfile.TemporaryDirectory(prefix="va-conv-") as tmp:
                voiced = [c for c in conversations if c.spoken]
                heard = spoken(
                    profile,
                    voiced,
                    Path(tmp),
                    weather.settings,
                    lambda text: speak(text, "piper"),
                )
                results[profile]["spoken"] = summarize(voiced, heard)
            if progress:
                progress.advance(task)
    return {"profiles": results, "conversations": len(conversations)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the speed profile only")
    args = parser.parse_args()
    print(json.dumps(run(args.quick), indent=2))


if __name__ == "__main__":
    main()
