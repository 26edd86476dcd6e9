"""Rules written in code: a recognizer asks a skill's own parser whether it reads a text, so
routing sends a skill everything it understands and nothing else. An agent file names one in
a rule (`recognizer: arithmetic`); it returns the text it recognised, or None."""

from __future__ import annotations

from collections.abc import Callable

from voice_agent.skills.calculator import arithmetic
from voice_agent.skills.clock.days import day_question
from voice_agent.skills.clock.places import place_before_time
from voice_agent.skills.clock.reminders import about_reminders
from voice_agent.skills.clock.timer_commands import asks_time_left

RECOGNIZERS: dict[str, Callable[[str], str | None]] = {
    "arithmetic": arithmetic,
    "day_question": day_question,
    "place_time": place_before_time,
    "reminder": about_reminders,
    "time_left": asks_time_left,
}
