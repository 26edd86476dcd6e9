"""Whole conversations through the real CLI: typed with `chat --json`, spoken with `run --input`.

The conversations are benchmarks/data/conversations.yaml; the weather agent talks to a local
stand-in for Open-Meteo; everything else is the real assistant with the profile's models.
"""

from __future__ import annotations

import pytest
from audio_fixtures import piper

from benchmarks.conversations import cli, load, spoken, summarize, typed
from benchmarks.open_meteo import OpenMeteoServer

pytestmark = pytest.mark.slow

PROFILES = ("speed", "balanced")
CONVERSATIONS = load()


@pytest.fixture(scope="module")
def weather():
    with OpenMeteoServer() as server:
        yield server.settings


def report(profile: str, how: str, summary: dict) -> None:
    print(f"\n{how} conversations on {profile}: {summary['right']}/{summary['n']} right")
    for kind, (right, n) in summary["by_kind"].items():
        print(f"  {kind}: {right}/{n}")


def test_there_are_forty_conversations_of_every_kind():
    kinds = {c.kind for c in CONVERSATIONS}
    assert len(CONVERSATIONS) >= 40 and len({c.name for c in CONVERSATIONS}) == len(CONVERSATIONS)
    assert {"compound", "follow-up", "clarification", "memory", "one step"} <= kinds
    assert sum(c.spoken for c in CONVERSATIONS) >= 10
    assert any(len(c.turns[0].agents) == 3 for c in CONVERSATIONS), "a plan of three steps"


@pytest.mark.parametrize("profile", PROFILES)
def test_typed_conversations(profile, tmp_path, weather):
    summary = summarize(CONVERSATIONS, typed(profile, CONVERSATIONS, tmp_path, weather))
    report(profile, "typed", summary)
    assert not summary["wrong"], "\n".join(summary["wrong"])


@pytest.mark.parametrize("profile", PROFILES)
def test_spoken_conversations(profile, tmp_path, weather):
    voiced = [c for c in CONVERSATIONS if c.spoken]
    heard = spoken(profile, voiced, tmp_path, weather, lambda text: piper(text, tmp_path))
    summary = summarize(voiced, heard)
    report(profile, "spoken", summary)
    assert not summary["wrong"], "\n".join(summary["wrong"])
    assert summary["multi_step_first_audio_median_ms"] > 0


def test_memory_lasts_across_processes(tmp_path, weather):
    told = "remember that the boiler was serviced in March"
    first = cli(["ask", told, "--json", "-p", "speed"], tmp_path, weather)
    assert first[0]["agent"] == "memory"
    asked = cli(
        ["ask", "when was the boiler serviced?", "--json", "-p", "speed"], tmp_path, weather
    )
    assert asked[0]["agent"] == "memory" and "March" in asked[0]["answer"]


def test_a_named_session_continues_in_a_new_process(tmp_path, weather):
    args = ["chat", "--json", "--profile", "speed", "--session", "kitchen"]
    cli(args, tmp_path, weather, "what is 25 times 4\n")
    later = cli(args, tmp_path, weather, "now divide that by 5\nwhat was my last question\n")
    assert "20" in later[0]["answer"]
    assert "now divide that by 5" in later[1]["answer"] and later[1]["session"] == "kitchen"
