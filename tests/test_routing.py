"""Routers: rules, embeddings (real all-MiniLM-L6-v2) and hybrid, and the `route` command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from voice_agent.agents.registry import load_agents
from voice_agent.agents.spec import AgentSpec
from voice_agent.config import RoutingConfig, load_settings
from voice_agent.routing.embeddings import EmbeddingRouter, SentenceTransformerEncoder
from voice_agent.routing.factory import build_router
from voice_agent.routing.hybrid import HybridRouter
from voice_agent.routing.rules import RuleRouter

FILLER = [f"filler example {i}" for i in range(20)]


def spec(name: str, rules: list[dict], examples=FILLER, kind="skill") -> AgentSpec:
    return AgentSpec(
        name=name,
        description="x",
        kind=kind,
        skill=name if kind == "skill" else None,
        rules=rules,
        examples=examples,
        system_prompt="x",
    )


@pytest.fixture(scope="module")
def specs():
    return load_agents()


@pytest.fixture(scope="module")
def encoder():
    return SentenceTransformerEncoder("all-MiniLM-L6-v2")


class CountingEncoder:
    """Wraps the real encoder to count how many texts were embedded."""

    def __init__(self, inner):
        self.inner, self.name, self.texts = inner, inner.name, 0

    def encode(self, texts):
        self.texts += len(texts)
        return self.inner.encode(texts)


def test_rules_respect_word_boundaries():
    router = RuleRouter(
        {
            "greet": spec("greet", [{"pattern": r"\bhi\b"}]),
            "general": spec("general", [], kind="llm"),
        }
    )
    assert router.route("hi there").agent == "greet"
    this = router.route("this is a test")
    assert this.agent == "general" and this.fallback and this.confidence == 0.0


def test_rule_priority_and_confidence_reflect_the_match():
    router = RuleRouter(
        {
            "timer": spec("timer", [{"pattern": r"\btimer\b", "priority": 9, "confidence": 0.9}]),
            "stop": spec(
                "stop",
                [
                    {"pattern": r"\bstop\b", "priority": 5, "confidence": 0.9},
                    {"pattern": r"^stop$", "priority": 5, "confidence": 0.9},
                ],
            ),
            "general": spec("general", [], kind="llm"),
        }
    )
    both = router.route("stop the timer")
    assert both.agent == "timer", "the higher priority wins"
    alone = router.route("set a timer")
    assert both.confidence < alone.confidence == pytest.approx(0.9), "a rival match lowers it"
    assert router.route("stop").confidence > 0.9, "two rules of one agent raise it"
    assert set(both.scores) == {"timer", "stop", "general"}


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("what is 25 times 7", "utility"),
        ("what is 25 times tree", "utility"),  # the calculator asks for the number
        ("calculate a 15% tip on $45.50", "utility"),
        ("convert 5 miles to kilometers", "utility"),
        ("what time is it in Tokyo", "time"),
        ("Tokyo time", "time"),  # the place before "time"
        ("what's the hour in Lisbon", "time"),
        ("is it Christmas time yet", "general"),  # the season, not Christmas Island's clock
        ("set a timer for 10 minutes", "time"),
        ("what's the weather in London", "weather"),
        ("list the files in my notes folder", "files"),
        ("what can you do", "system"),
        ("switch to the speed profile", "system"),
        ("stop", "system"),
        ("stop the timer", "time"),
        ("how much time is left", "time"),  # on the timers
        ("how much longer", "time"),
        ("how much time is left until Christmas", "time"),
        ("how many days are there until Christmas", "time"),
        ("how many days are in a leap year", "utility"),
        ("who wrote Romeo and Juliet", "general"),
        ("turn off the kitchen lights", "limits"),
        ("dim the lights to 30 percent", "limits"),
        ("what time does the pharmacy close", "general"),
        ("what's a comfortable temperature for a bedroom", "general"),  # advice, not weather
        ("what's the temperature for tomorrow", "weather"),
        ("how cold is it in the spare bedroom", "limits"),  # no sensors indoors
        ("When is Thanksgiving?", "time"),  # the clock's own calendar reads the day
        ("what's next Tuesday", "time"),
        ("when is the last Friday in June", "time"),
        ("add eggs to my shopping list", "files"),
        ("what's on Friday", "general"),  # no day alone: something on a day
        ("explain how rain forms", "general"),  # how weather works, not a forecast
        ("why does it snow more in the mountains", "general"),
        ("how is hail made", "general"),
        ("will it rain tomorrow in Paris", "weather"),
        ("explain the forecast for tomorrow", "weather"),
        # what a thing the clock keeps is, or how it works: knowledge, not a command
        ("what's the difference between a timer and an alarm", "general"),
        ("how does a kitchen timer work", "general"),
        ("what is an alarm clock", "general"),
        ("why do alarms snooze for nine minutes", "general"),
        ("who invented the alarm clock", "general"),
        ("when was the calendar invented", "general"),
        ("what is an hour from now", "time"),
        ("how do I set a timer", "time"),
        ("how does this work", "system"),
        ("what's the time difference between London and Tokyo", "time"),
    ],
)
def test_rules_route_the_everyday_requests(specs, text, agent):
    decision = RuleRouter(specs).route(text)
    assert decision.agent == agent
    assert decision.strategy == "rules_only" and decision.elapsed_ms > 0


@pytest.mark.parametrize(
    ("heard", "agent"),
    [
        ("What is 25 times, 7?", "utility"),
        ("Set a timer for, 10 minutes.", "time"),
        ("Convert 5 miles, to kilometers.", "utility"),
        ("add 1,000 and 5", "utility"),
    ],
)
def test_rules_read_whisper_pause_commas_as_pauses(specs, heard, agent):
    """Whisper writes a pause as a comma; digit grouping commas still group digits."""
    assert RuleRouter(specs).route(heard).agent == agent


@pytest.mark.slow
def test_embeddings_route_by_nearest_examples_and_say_when_nothing_fits(specs, encoder, tmp_path):
    router = EmbeddingRouter(specs, encoder, top_k=3, threshold=0.4, cache_dir=tmp_path)
    rome = router.route("is it chilly over in rome at the moment")
    assert rome.agent == "weather" and not rome.fallback and rome.confidence >= 0.4
    assert set(rome.scores) == set(specs) and rome.scores["weather"] == max(rome.scores.values())
    assert router.route("show me what is inside my documents folder").agent == "files"
    nothing = router.route("order a large pepperoni pizza for delivery")
    assert nothing.agent == "general"
    assert router.route("xq zzv blorp").fallback, "gibberish matches no specialist"


@pytest.mark.slow
def test_exemplar_embeddings_are_cached_by_model_and_content(specs, encoder, tmp_path):
    first = CountingEncoder(encoder)
    EmbeddingRouter(specs, first, cache_dir=tmp_path).warmup()
    assert first.texts == sum(len(s.examples) for s in specs.values()) + 1
    cached = sorted(p.name for p in (tmp_path / "all-MiniLM-L6-v2").iterdir())
    assert len(cached) == len(specs) and all(p.endswith(".npy") for p in cached)

    second = CountingEncoder(encoder)
    EmbeddingRouter(specs, second, cache_dir=tmp_path).warmup()
    assert second.texts == 1, "only the warm-up sentence: the examples came from disk"

    changed = dict(specs)
    changed["weather"] = specs["weather"].model_copy(
        update={"examples": [*specs["weather"].examples, "is it muggy out"]}
    )
    third = CountingEncoder(encoder)
    EmbeddingRouter(changed, third, cache_dir=tmp_path).warmup()
    assert third.texts == len(changed["weather"].examples) + 1, "edited examples are re-embedded"


@pytest.mark.slow
def test_hybrid_answers_confident_rules_without_embeddings(specs, encoder, tmp_path):
    counting = CountingEncoder(encoder)
    embeddings = EmbeddingRouter(specs, counting, threshold=0.4, cache_dir=tmp_path)
    router = HybridRouter(RuleRouter(specs), embeddings, rule_confidence=0.8)
    decision = router.route("what is 25 times 7")
    assert decision.agent == "utility" and decision.method == "rules" and counting.texts == 0
    odd = router.route("gimme the outlook for lisbon this weekend")
    assert odd.agent == "weather" and odd.method in ("embeddings", "rules+embeddings")
    cannot = router.route("book me a table for two at that italian place")
    assert cannot.agent == "limits", "an action no agent takes is answered honestly"
    none = router.route("tell me a story about a brave little dragon")
    assert none.agent == "general" and none.strategy == "hybrid"


@pytest.mark.slow
def test_hybrid_needs_agreement_when_the_rule_is_weak(specs, encoder, tmp_path):
    embeddings = EmbeddingRouter(specs, encoder, threshold=0.4, cache_dir=tmp_path)
    router = HybridRouter(RuleRouter(specs), embeddings, rule_confidence=0.8)
    # "cold" is weak weather evidence: the nearest examples must agree.
    agreed = router.route("is it cold in oslo")
    assert agreed.agent == "weather" and agreed.method == "rules+embeddings"
    overruled = router.route("how do I treat a cold")
    assert overruled.agent == "general"


def test_build_router_follows_the_profile(specs):
    assert build_router(RoutingConfig(strategy="rules_only"), specs).strategy == "rules_only"
    assert build_router(RoutingConfig(), specs, "embeddings_only").strategy == "embeddings_only"
    assert build_router(load_settings("balanced").routing, specs).strategy == "hybrid"


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "voice_agent", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_route_command_json_and_explain():
    out = run_cli("route", "what's the weather in London", "--profile", "speed", "--json")
    record = json.loads(out.stdout)
    assert record["agent"] == "weather" and record["strategy"] == "rules_only"
    assert {"text", "agent", "confidence", "strategy", "scores", "elapsed_ms"} <= set(record)
    explain = run_cli("route", "set a timer for 10 minutes", "-p", "speed", "--explain")
    assert "time" in explain.stdout and "rule matched" in explain.stdout


@pytest.mark.slow
def test_route_file_from_stdin_one_json_per_line():
    lines = ["what is 25 times 7", "what's the weather in Paris", "play some jazz", "hi there"]
    out = run_cli("route", "--file", "-", "--strategy", "hybrid", "--json", stdin="\n".join(lines))
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in records] == lines
    assert [r["agent"] for r in records] == ["utility", "weather", "limits", "general"]
    assert all(r["strategy"] == "hybrid" and r["elapsed_ms"] > 0 for r in records)


def test_route_file_errors_are_one_line(tmp_path):
    out = run_cli("route", "--file", str(tmp_path / "missing.txt"))
    assert out.returncode == 2 and "cannot read" in out.stderr and "Traceback" not in out.stderr
    bad = run_cli("route", "hello", "--strategy", "magic")
    assert bad.returncode == 2 and "expected one of" in bad.stderr
