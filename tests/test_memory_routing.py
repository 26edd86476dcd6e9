"""Rules for the memory agent and the files agent's "save it": what they take, and the
neighbouring intents they must leave alone (stop, reminders, timers, notes)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voice_agent.agents.registry import load_agents
from voice_agent.routing.rules import RuleRouter


@pytest.fixture(scope="module")
def route():
    return RuleRouter(load_agents()).route


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("remember that the plumber comes on Thursday", "memory"),
        ("Remember, my locker number is 42.", "memory"),
        ("don't forget my passport is in the top drawer", "memory"),
        ("note that the bins go out on Monday", "memory"),
        ("please remember that I'm allergic to penicillin", "memory"),
        ("hey can you remember that the gate code is 1234", "memory"),
        ("keep in mind that my sister is vegetarian", "memory"),
        ("what do you remember about the plumber", "memory"),
        ("what do you know about my passport", "memory"),
        ("do you remember where my passport is", "memory"),
        ("what did I tell you about the timer", "memory"),
        ("What did I ask you to remember?", "memory"),
        ("what have I asked you to keep in mind", "memory"),
        ("what do you know about me", "memory"),
        ("what do you remember", "memory"),
        ("forget what I told you about the plumber", "memory"),
        ("forget that my passport is in the drawer", "memory"),
        ("forget about my locker number", "memory"),
        ("save it", "files"),
        ("Save that, please.", "files"),
        ("save that to a note called Tokyo weather", "files"),
        ("save the result in my notes", "files"),
        ("write that down", "files"),
        ("and then write it down", "files"),
        ("put it in a note called trip", "files"),
        ("save the weather to a note", "files"),
        ("add that to my groceries list", "files"),
    ],
)
def test_told_asked_and_saved_go_to_memory_and_files(route, text, agent):
    """What the user tells or asks the memory, and "save it" (an earlier result into a note)."""
    decision = route(text)
    assert decision.agent == agent, decision.reason
    assert decision.confidence >= 0.85


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("forget it", "system"),
        ("forget that", "system"),
        ("forget about it", "system"),
        ("never mind", "system"),
        ("okay, never mind", "system"),
        ("what did you say", "system"),
        ("what did I ask you", "system"),
        ("what do you know how to do", "system"),
        ("remind me to call mom", "time"),  # a reminder, not a fact to keep
        ("remember to call mom", "general"),
        ("don't let me forget to water the plants", "time"),
        ("set a timer for 10 minutes", "time"),
        ("cancel the timer", "time"),
        ("make a note called groceries", "files"),
        ("take a note buy eggs", "files"),
        ("make a note that I parked on level 3", "files"),
        ("note that down", "files"),
        ("what do you know about black holes", "general"),
    ],
)
def test_memory_leaves_its_neighbours_alone(route, text, agent):
    assert route(text).agent == agent


def test_route_explain_names_the_memory_rule():
    out = subprocess.run(
        [sys.executable, "-m", "voice_agent", "route", "remember that the plumber comes on "
         "Thursday", "--profile", "speed", "--explain"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "memory" in out.stdout and "rule matched" in out.stdout
