"""LLM benchmark: load time, first-token latency, decode rate, answers and tool-call JSON.

Every embedded llama.cpp model that is present, and Ollama's models when a server
answers. Each model answers benchmarks/data/llm_prompts.jsonl with the `general`
agent's system prompt (temperature 0, at most 64 tokens), once cold (the first
request after loading) and then warm (after `warmup()`, as the app runs), and turns
benchmarks/data/tool_calls.jsonl into tool-call JSON by prompt plus json.loads
(`ask_json`, no grammar: a grammar halves decode speed).

In tool_calls.jsonl an expected string argument may be a list of accepted spellings
("mi", "mile", "miles"); strings compare case-insensitively, numbers numerically.

Run: .venv/bin/python -m benchmarks.llm_bench [--quick] [--errors]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from benchmarks.metrics import percentile
from voice_agent import models
from voice_agent.agents.registry import load_agents
from voice_agent.config import PROFILE_NAMES, LlmConfig, load_settings
from voice_agent.errors import UserError
from voice_agent.llm.base import LLM, ChatMessage, LLMError, ask_json

DATA = Path(__file__).parent / "data"
PROMPTS = DATA / "llm_prompts.jsonl"
TOOL_CALLS = DATA / "tool_calls.jsonl"
DEFAULT_PROFILE = "balanced"
MAX_TOKENS = 64
# The cold request is not one of the measured prompts: llama.cpp's reuse of an evaluated
# prefix would make asking it again later look faster than any new question.
COLD_PROMPT = "hello, can you hear me?"
QUICK_PROMPTS = 3
QUICK_TOOL_CALLS = 5
OLLAMA_PROBE_S = 1.0
TOKENS_COUNTED = (
    "streamed pieces after the first (one token each, but for split UTF-8 characters), "
    "over the time from the first piece to the last; median over the answers"
)

# name -> (what it does, argument -> Python type); the instruction is written from this.
TOOLS: dict[str, tuple[str, dict[str, type]]] = {
    "get_weather": ("the weather now in a city", {"city": str}),
    "get_time": ("the local time in a city", {"city": str}),
    "set_timer": ("a countdown; turn hours and seconds into minutes", {"minutes": float}),
    "convert_units": (
        "convert a quantity, units like km, mi, kg, lb, celsius, fahrenheit",
        {"value": float, "from_unit": str, "to_unit": str},
    ),
    "add_to_list": ("add one item to a named list", {"list": str, "item": str}),
}
_TYPE_NAMES = {str: "string", float: "number"}


# --- data ---------------------------------------------------------------------------------


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def answer_is_right(text: str, expect: str | list[str] | None) -> bool | None:
    """Whether `text` contains one of the expected words (whole words, any case); None if none."""
    if expect is None:
        return None
    accepted = [expect] if isinstance(expect, str) else expect
    return any(re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) for word in accepted)


# --- timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamTiming:
    text: str
    pieces: int
    ttft_s: float | None  # None when nothing was streamed
    decode_s: float  # from the first piece to the last

    @property
    def tokens_per_s(self) -> float | None:
        """Pieces after the first over the time after the first; None if too short to tell."""
        if self.pieces < 2 or self.decode_s <= 0:
            return None
        return (self.pieces - 1) / self.decode_s


def time_stream(
    pieces: Iterable[str], clock: Callable[[], float] = time.perf_counter
) -> StreamTiming:
    """Consume a stream, timing its first piece and the pieces after it.

    Pass the generator before it has started: its first step (prompt evaluation) is timed.
    """
    start = clock()
    first = last = None
    parts: list[str] = []
    for piece in pieces:
        last = clock()
        first = last if first is None else first
        parts.append(piece)
    if first is None or last is None:
        return StreamTiming("", 0, None, 0.0)
    return StreamTiming("".join(parts), len(parts), first - start, last - first)


# --- tool calls ---------------------------------------------------------------------------


def tool_instruction() -> str:
    lines = ["You turn a spoken request into one tool call. The tools and their arguments:"]
    for name, (purpose, arguments) in TOOLS.items():
        schema = ", ".join(f'"{arg}": {_TYPE_NAMES[kind]}' for arg, kind in arguments.items())
        lines.append(f"- {name}: {{{schema}}} ({purpose})")
    lines.append('Answer {"tool": name, "arguments": {...}} with the arguments the tool takes.')
    lines.append(
        'Example: "how is the weather in Paris" -> '
        '{"tool": "get_weather", "arguments": {"city": "Paris"}}'
    )
    return "\n".join(lines)


def _has_type(value: Any, kind: type) -> bool:
    if kind is float:  # JSON numbers; bool is an int subclass but not a number here
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def well_formed(call: dict) -> dict | None:
    """The call when it names a known tool with exactly its arguments, each of the right type."""
    if set(call) != {"tool", "arguments"} or call["tool"] not in TOOLS:
        return None
    arguments, schema = call["arguments"], TOOLS[call["tool"]][1]
    if not isinstance(arguments, dict) or set(arguments) != set(schema):
        return None
    return call if all(_has_type(arguments[k], kind) for k, kind in schema.items()) else None


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, list):  # accepted spellings
        return any(_same(value, option) for option in expected)
    if isinstance(expected, str):
        return isinstance(value, str) and value.strip().casefold() == expected.casefold()
    return _has_type(value, float) and abs(value - expected) < 1e-9


def is_correct(call: dict, item: dict) -> bool:
    """A well-formed call with the item's tool and every argument as expected."""
    return call["tool"] == item["tool"] and all(
        _same(call["arguments"][arg], expected) for arg, expected in item["arguments"].items()
    )


class _Tap:
    """An LLM passed through, keeping the last answer's text for the failure report."""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.name = llm.name
        self.last = ""

    def stream_chat(self, messages: list[ChatMessage], **options: Any) -> Iterator[str]:
        parts: list[str] = []
        for piece in self.llm.stream_chat(messages, **options):
            parts.append(piece)
            yield piece
        self.last = "".join(parts)

    def warmup(self, system_prompts: Iterable[str] = ()) -> None:
        self.llm.warmup(list(system_prompts))


def score_tool_call(llm: LLM, item: dict, instruction: str | None = None) -> dict:
    """Ask for the item's tool call the way the app asks: {valid, correct, ms, raw}."""
    tap = _Tap(llm)
    start = time.perf_counter()
    call = ask_json(tap, instruction or tool_instruction(), item["text"], well_formed)
    ms = (time.perf_counter() - start) * 1000
    correct = call is not None and is_correct(call, item)
    return {"valid": call is not None, "correct": correct, "ms": ms, "raw": tap.last}


# --- one model ----------------------------------------------------------------------------


def _chat(system_prompt: str, text: str) -> list[ChatMessage]:
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": text}]


def _ask(llm: LLM, system_prompt: str, text: str) -> StreamTiming:
    return time_stream(
        llm.stream_chat(_chat(system_prompt, text), max_tokens=MAX_TOKENS, temperature=0.0)
    )


def measure(
    llm: LLM,
    system_prompt: str,
    prompts: list[dict],
    tool_calls: list[dict],
    advance: Callable[[], None],
) -> dict:
    """Cold first request, warm-up, the prompts, the tool calls; the model is loaded already."""
    cold = _ask(llm, system_prompt, COLD_PROMPT)
    advance()
    llm.warmup([system_prompt])
    answers = []
    for prompt in prompts:
        answers.append(_ask(llm, system_prompt, prompt["text"]))
        advance()
    instruction = tool_instruction()
    calls = []
    for item in tool_calls:
        calls.append(score_tool_call(llm, item, instruction))
        advance()
    # llama.cpp's threads wait on each other: a busy machine slows it many times over.
    return {
        **summarize(cold, prompts, answers, tool_calls, calls),
        "load_avg_1m": os.getloadavg()[0],
    }


def summarize(
    cold: StreamTiming,
    prompts: list[dict],
    answers: list[StreamTiming],
    tool_calls: list[dict],
    calls: list[dict],
) -> dict:
    ttfts = [a.ttft_s * 1000 for a in answers if a.ttft_s is not None]
    rates = [r for r in (a.tokens_per_s for a in answers) if r is not None]
    checks = [
        answer_is_right(a.text, p.get("expect")) for p, a in zip(prompts, answers, strict=True)
    ]
    graded = [c for c in checks if c is not None]
    n = len(calls)
    return {
        "ttft_cold_ms": cold.ttft_s * 1000 if cold.ttft_s is not None else None,
        "ttft_p50_ms": statistics.median(ttfts) if ttfts else None,
        "ttft_p95_ms": percentile(ttfts, 95) if ttfts else None,
        "tokens_per_s": statistics.median(rates) if rates else None,
        "answers_correct": f"{sum(graded)}/{len(graded)}",
        "tool_json_valid": sum(c["valid"] for c in calls) / n if n else None,
        "tool_json_correct": sum(c["correct"] for c in calls) / n if n else None,
        "tool_call_p50_ms": statistics.median([c["ms"] for c in calls]) if n else None,
        "answer_failures": [
            {"text": p["text"], "answer": a.text}
            for p, a, ok in zip(prompts, answers, checks, strict=True)
            if ok is False
        ],
        "tool_failures": [
            {"text": item["text"], "valid": c["valid"], "answer": c["raw"]}
            for item, c in zip(tool_calls, calls, strict=True)
            if not c["correct"]
        ],
    }


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def bench_llamacpp(
    profile: str,
    config: LlmConfig,
    system_prompt: str,
    prompts: list[dict],
    tool_calls: list[dict],
    advance: Callable[[], None],
) -> dict:
    from voice_agent.llm.llamacpp_backend import LlamaCppLLM

    before = _rss_mb()
    llm = LlamaCppLLM(config)
    llm.warmup([])  # loads the weights and nothing else: the next request is cold
    advance()
    loaded = _rss_mb()
    result = measure(llm, system_prompt, prompts, tool_calls, advance)
    return {
        "backend": "llamacpp",
        "model": config.model,
        "profile": profile,
        "load_s": llm.load_seconds,
        **result,
        "rss_mb_after_load": loaded - before,
        # Growth over the run: the KV cache, plus ~2 MB per answer that llama-cpp-python
        # 0.3.36 keeps natively.
        "rss_mb_after_run": _rss_mb() - before,
    }


def bench_ollama(
    profile: str,
    config: LlmConfig,
    system_prompt: str,
    prompts: list[dict],
    tool_calls: list[dict],
    advance: Callable[[], None],
) -> dict:
    from voice_agent.llm.ollama_backend import OllamaLLM

    llm = OllamaLLM(config)
    try:
        start = time.perf_counter()
        llm.warmup([])  # a chat with no messages: the server loads the model
        load_s = time.perf_counter() - start
        advance()
        result = measure(llm, system_prompt, prompts, tool_calls, advance)
    finally:
        llm.close()
    # The weights live in the server process: this process's RSS says nothing about them.
    return {
        "backend": "ollama",
        "model": config.ollama_model,
        "profile": profile,
        "load_s": load_s,
        **result,
        "rss_mb_after_load": None,
    }


# --- which models -------------------------------------------------------------------------


def llm_settings() -> dict[str, LlmConfig]:
    """Profile -> its LLM settings, the default profile first."""
    return {p: load_settings(p).llm for p in dict.fromkeys((DEFAULT_PROFILE, *PROFILE_NAMES))}


def embedded_models(settings: dict[str, LlmConfig], quick: bool) -> list[tuple[str, LlmConfig]]:
    """(profile, LLM settings) per embedded model: a model runs with the settings of the
    first profile that names it; a model no profile names, with the default profile's."""
    default = settings[DEFAULT_PROFILE]
    if quick:
        return [(DEFAULT_PROFILE, default)]
    chosen: dict[str, tuple[str, LlmConfig]] = {}
    for profile, config in settings.items():
        chosen.setdefault(config.model, (profile, config))
    for name in models.known("llm"):
        chosen.setdefault(name, (DEFAULT_PROFILE, default.model_copy(update={"model": name})))
    return list(chosen.values())


def ollama_models(settings: dict[str, LlmConfig], quick: bool) -> list[tuple[str, LlmConfig]]:
    """(profile, LLM settings) per distinct Ollama model; only the default profile's if quick."""
    chosen: dict[str, tuple[str, LlmConfig]] = {}
    for profile, config in list(settings.items())[: 1 if quick else None]:
        chosen.setdefault(config.ollama_model, (profile, config))
    return list(chosen.values())


def ollama_unavailable(config: LlmConfig) -> str | None:
    from voice_agent.llm.ollama_backend import OllamaLLM

    llm = OllamaLLM(config)
    try:
        ok, reason = llm.available(OLLAMA_PROBE_S)
    finally:
        llm.close()
    return None if ok else reason


# --- the run ------------------------------------------------------------------------------


def run(quick: bool, progress: Progress | None = None) -> dict:
    prompts = load_jsonl(PROMPTS)[: QUICK_PROMPTS if quick else None]
    tool_calls = load_jsonl(TOOL_CALLS)[: QUICK_TOOL_CALLS if quick else None]
    system_prompt = load_agents()["general"].system_prompt.strip()  # as the agent sends it
    settings = llm_settings()
    steps = 2 + len(prompts) + len(tool_calls)
    results: list[dict] = []
    skipped: list[dict] = []

    for profile, config in embedded_models(settings, quick):
        found = models.status("llm", config.model)
        if not found.present:
            skipped.append({"backend": "llamacpp", "model": config.model, "reason": found.detail})
            continue
        advance = _advancer(progress, f"llamacpp {config.model}", steps)
        try:
            results.append(
                bench_llamacpp(profile, config, system_prompt, prompts, tool_calls, advance)
            )
        except (UserError, LLMError) as exc:
            skipped.append({"backend": "llamacpp", "model": config.model, "reason": str(exc)})
        gc.collect()  # the model is unreferenced now: free it before loading the next

    for profile, config in ollama_models(settings, quick):
        reason = ollama_unavailable(config)
        if reason is not None:
            skipped.append({"backend": "ollama", "model": config.ollama_model, "reason": reason})
            continue
        advance = _advancer(progress, f"ollama {config.ollama_model}", steps)
        try:
            results.append(
                bench_ollama(profile, config, system_prompt, prompts, tool_calls, advance)
            )
        except LLMError as exc:
            skipped.append({"backend": "ollama", "model": config.ollama_model, "reason": str(exc)})

    return {
        "models": results,
        "skipped": skipped,
        "prompts": len(prompts),
        "tool_calls": len(tool_calls),
        "max_tokens": MAX_TOKENS,
        "tokens_counted": TOKENS_COUNTED,
    }


def _advancer(progress: Progress | None, label: str, total: int) -> Callable[[], None]:
    if progress is None:
        return lambda: None
    task: TaskID = progress.add_task(label, total=total)
    return lambda: progress.advance(task)


# --- report -------------------------------------------------------------------------------


def _fmt(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def print_report(console: Console, result: dict, errors: bool = False) -> None:
    table = Table(
        title=f"LLM ({result['prompts']} prompts, {result['tool_calls']} tool calls)",
        show_edge=False,
    )
    columns = ("model", "profile", "load s", "TTFT cold ms", "TTFT p50 ms", "TTFT p95 ms")
    columns += ("tok/s", "answers", "tool valid", "tool correct", "tool p50 ms", "RSS MB")
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "profile") else "right")
    for m in result["models"]:
        table.add_row(
            f"{m['backend']}:{m['model']}",
            m["profile"],
            _fmt(m["load_s"], ".2f"),
            _fmt(m["ttft_cold_ms"], ".0f"),
            _fmt(m["ttft_p50_ms"], ".0f"),
            _fmt(m["ttft_p95_ms"], ".0f"),
            _fmt(m["tokens_per_s"], ".1f"),
            m["answers_correct"],
            _fmt(m["tool_json_valid"], ".0%"),
            _fmt(m["tool_json_correct"], ".0%"),
            _fmt(m["tool_call_p50_ms"], ".0f"),
            _fmt(m["rss_mb_after_load"], ".0f"),
        )
    console.print(table)
    console.print(f"[dim]tok/s counts {result['tokens_counted']}[/]")
    for s in result["skipped"]:
        console.print(f"skipped {s['backend']}:{s['model']}: {s['reason']}", markup=False)
    if errors:
        _print_failures(console, result["models"])


def _print_failures(console: Console, results: list[dict]) -> None:
    for m in results:
        console.rule(f"{m['backend']}:{m['model']}")
        for f in m["answer_failures"]:
            console.print(f"answer  {f['text']!r} → {f['answer']!r}", markup=False)
        for f in m["tool_failures"]:
            kind = "wrong" if f["valid"] else "invalid"
            console.print(f"{kind:<7} {f['text']!r} → {f['answer']!r}", markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the default model, fewer prompts")
    parser.add_argument("--errors", action="store_true", help="print wrong answers and calls")
    args = parser.parse_args()
    console = Console()
    with Progress(console=console, transient=True) as progress:
        result = run(args.quick, progress)
    print_report(console, result, args.errors)


if __name__ == "__main__":
    main()
