"""The `time` agent's skill: the time here and in places, how long until a date or a time,
timers, alarms and reminders.

Answers are short sentences for TTS. Speech recognition writes numbers either as digits or as
words ("ten minutes"), so the text is normalised first (words.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from voice_agent.language.phrasing import capitalized
from voice_agent.skills.base import Request, Result, Service, SkillContext, Told
from voice_agent.skills.clock.dates import (
    DAY_NAMES,
    MONTH_NAMES,
    day_phrase,
    parse_target_date,
    remembered,
    spoken_date,
)
from voice_agent.skills.clock.days import answer_calendar
from voice_agent.skills.clock.durations import parse_duration, spoken_duration
from voice_agent.skills.clock.places import (
    NoSuchOffset,
    find_place,
    place_before_time,
    resolve_zone,
    spoken_offset,
)
from voice_agent.skills.clock.reminders import REMINDER_TOPIC, reminder_words
from voice_agent.skills.clock.service import TimerService
from voice_agent.skills.clock.timer_commands import (
    TIMER_TOPIC,
    TimerCommands,
    asks_time_left,
    timer_words,
)
from voice_agent.skills.clock.timers import MIGRATIONS, TimerStore
from voice_agent.skills.clock.times import Clock, after, spoken_time, utc_now
from voice_agent.skills.clock.until import answer_until
from voice_agent.skills.clock.words import normalize
from voice_agent.skills.registry import NoConfig, skill
from voice_agent.store import Store

log = logging.getLogger(__name__)

_TRAILING_FILLER = r"(\s+(right now|now|today|at the moment|currently|please))+$"
_WANTS_TIME = re.compile(
    r"\btime\b(?!\s+(?:[a-z']+\s+){0,3}?(?:until|till|til|before|since)\b)"
    r"|\bwhat(?:'s| is) the hour\b|\bwhat hour\b"
    r"|\bis it (?:morning|night|evening|afternoon|late|early)\b"
)
_DIFFERENCE = re.compile(r"\btime difference between (.+?) and (.+)$")
_FROM_NOW = re.compile(
    r"^(?:.*?\b(?:be|is|it's|what's|whats|what is)\s+)?(?:in )?(.+?) (?:from now|later|hence)\b"
)


class ClockSkill:
    """Time and date here or in a place, days until a date, and timers, alarms and reminders.

    It owns the timer service that announces them (see `services`), and wakes it whenever a
    timer is set or cancelled.
    """

    def __init__(
        self,
        store: Store,
        timezone: str | None = None,
        now: Clock | None = None,
        announce: Callable[[str], None] | None = None,
        recall: Callable[[str], list[Told]] | None = None,
    ) -> None:
        self._zone = resolve_zone(timezone)
        # "how many days until my sister's birthday": the date she was told, from memory
        self._dates = remembered(recall, self._zone) if recall is not None else parse_target_date
        self._clock = now or utc_now
        timers = TimerStore(store)
        self._service = TimerService(timers, announce or _unheard, self._zone, self._clock)
        self._timers = TimerCommands(
            timers, self._zone, self._clock, self._service.wake, lambda: self._service.running
        )

    def services(self) -> list[Service]:
        return [self._service]

    def kept_words(self, text: str) -> str | None:
        """A reminder's task and time, or the lengths of timers, as `text` says them."""
        return reminder_words(text) or timer_words(text)

    def handle(self, request: Request) -> Result | None:
        norm = normalize(request.text)
        if TIMER_TOPIC.search(norm) or REMINDER_TOPIC.search(norm):
            return self._timers.handle(norm, norm.split(), request.text)
        now = self._now()
        answer = answer_until(norm, now, self._dates) or answer_calendar(
            norm, now.date(), self._dates
        )
        if answer is None and asks_time_left(norm):
            return self._timers.handle(norm, norm.split())
        return answer if answer is not None else self._time_query(norm)

    def _now(self) -> datetime:
        return self._clock().astimezone(self._zone)

    def _here(self, **more: Any) -> dict[str, Any]:
        return {"zone": _zone_name(self._zone), **more}

    # -- the time and date ------------------------------------------------------------------
    def _time_query(self, text: str) -> Result | None:
        if ahead := _FROM_NOW.search(text):  # "what time will it be 45 minutes from now"
            later = parse_duration(ahead[1].split())
            if later is not None and later.end == len(ahead[1].split()) and later.seconds > 0:
                return self._later(self._now(), later.seconds)
        wants_time = bool(_WANTS_TIME.search(text))
        wants_date = bool(
            re.search(r"\b(date|what day|which day|day of the week|day is it)\b", text)
        )
        now = self._now()
        if not (wants_time or wants_date):
            if re.search(r"\bwhat year\b", text):
                return Result(f"It's {now.year}.", value=now.year, data=self._here())
            if re.search(r"\bwhat month\b", text):
                month = MONTH_NAMES[now.month - 1]
                return Result(f"It's {month}.", value=now.strftime("%Y-%m"), data=self._here())
            return None
        if pair := _DIFFERENCE.search(text):
            return self._difference(now, pair[1], pair[2])
        where = re.search(r"\bin (.+)$", text)
        if where is None:
            named = place_before_time(text)  # "Tokyo time", "what's the New York time"
            if named is None:
                return self._local(now, wants_time, wants_date)
            return self._elsewhere(now, named, wants_time, wants_date)
        phrase = re.sub(_TRAILING_FILLER, "", where[1])
        later = parse_duration(phrase.split())
        if later is not None and later.start == 0 and later.end == len(phrase.split()):
            return self._later(now, later.seconds)  # "what time will it be in 3 hours"
        return self._elsewhere(now, phrase, wants_time, wants_date)

    def _local(self, now: datetime, wants_time: bool, wants_date: bool) -> Result:
        if wants_time and wants_date:
            spoken = f"It's {spoken_time(now)} on {spoken_date(now.date())}."
        elif wants_date:
            spoken = f"Today is {spoken_date(now.date(), year=True)}."
        else:
            spoken = f"It's {spoken_time(now)}."
        value = now.isoformat() if wants_time else now.date().isoformat()
        return Result(spoken, value=value, data=self._here())

    def _later(self, now: datetime, seconds: float) -> Result:
        moment = after(self._clock(), seconds).astimezone(self._zone)
        day = day_phrase(moment.date(), now.date())
        day = "" if day == "today" else f" {day}"
        return Result(
            f"In {spoken_duration(seconds)} it will be {spoken_time(moment)}{day}.",
            value=moment.isoformat(),
            data=self._here(in_s=seconds),
        )

    def _difference(self, now: datetime, first: str, second: str) -> Result:
        """How far the clock in `second` is from the one in `first`."""
        places = []
        for phrase in (first, second):
            try:
                place = find_place(phrase)
            except NoSuchOffset as exc:
                return Result(str(exc), data={"place": phrase}, status="failed")
            if place is None or place.zone is None:
                spoken = f"I don't know the time zone for {phrase.title()}."
                return Result(spoken, data={"place": phrase}, status="failed")
            places.append(place)
        a, b = (now.astimezone(p.tz).utcoffset() for p in places)
        minutes = int((b - a).total_seconds() // 60)
        names = [capitalized(p.display) for p in places]
        if minutes == 0:
            spoken = f"{names[0]} and {places[1].display} keep the same time."
        else:
            spoken = f"{names[1]} is {spoken_offset(minutes, places[0].display)}."
        data = {"places": [p.display for p in places], "minutes": minutes}
        return Result(spoken, value=minutes, data=data)

    def _elsewhere(self, now: datetime, phrase: str, wants_time: bool, wants_date: bool) -> Result:
        try:
            place = find_place(phrase)
        except NoSuchOffset as exc:
            return Result(str(exc), data={"place": phrase}, status="failed")
        if place is None:
            return Result(
                f"I don't know the time zone for {phrase.title()}.",
                data={"place": phrase},
                status="failed",
            )
        if place.zone is None:
            return Result(
                f"{capitalized(place.display)} spans several time zones; ask me about a city, "
                f"like {place.suggestion}.",
                data={"place": place.display},
                status="ask",
            )
        there = now.astimezone(place.tz)
        data = {"place": place.display, "zone": place.zone}
        if not wants_time:
            spoken = f"In {place.display} it's {spoken_date(there.date())}."
            return Result(spoken, value=there.date().isoformat(), data=data)
        spoken = f"It's {spoken_time(there)}"
        if wants_date:
            spoken += f" on {spoken_date(there.date())}"
        elif there.date() != now.date():
            spoken += f" on {DAY_NAMES[there.weekday()]}"
        spoken += f" in {place.display}"
        offset = int((there.utcoffset() - now.utcoffset()).total_seconds() // 60)
        spoken += f", {spoken_offset(offset)}." if offset else "."
        return Result(spoken, value=there.isoformat(), data=data)


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def _unheard(message: str) -> None:
    log.info("a timer went off with nobody to tell: %s", message)


@skill("clock", migrations=MIGRATIONS)
def make(ctx: SkillContext, config: NoConfig) -> ClockSkill:
    return ClockSkill(
        ctx.store, ctx.settings.agents.timezone, announce=ctx.announce, recall=ctx.recall
    )
