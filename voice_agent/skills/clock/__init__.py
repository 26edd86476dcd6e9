"""The clock skill: the time here and in places, days until a date, timers, alarms and
reminders.

Importing this package registers the `clock` skill (skill.py).
"""

from voice_agent.skills.clock.durations import parse_duration, parse_durations
from voice_agent.skills.clock.service import TimerService
from voice_agent.skills.clock.skill import ClockSkill
from voice_agent.skills.clock.timers import MIGRATIONS, TIMERS_SCHEMA, Timer, TimerStore
from voice_agent.skills.clock.times import spoken_time
from voice_agent.skills.clock.words import normalize

__all__ = [
    "MIGRATIONS",
    "TIMERS_SCHEMA",
    "ClockSkill",
    "Timer",
    "TimerService",
    "TimerStore",
    "normalize",
    "parse_duration",
    "parse_durations",
    "spoken_time",
]
