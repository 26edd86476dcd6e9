"""Timers, alarms and reminders by voice: set, list, time left and cancel, each answered
with a Result whose value is the timer (or timers) it is about."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from voice_agent.language.phrasing import capitalized, count, join_words, plural, with_article
from voice_agent.skills.base import Result
from voice_agent.skills.clock.dates import day_phrase
from voice_agent.skills.clock.durations import (
    Duration,
    parse_duration,
    parse_durations,
    spoken_duration,
    spoken_remaining,
)
from voice_agent.skills.clock.reminders import (
    REMINDER_TOPIC,
    SETS_REMINDER,
    read_reminder,
    with_names,
    yours,
)
from voice_agent.skills.clock.timers import KINDS, Timer, TimerStore, finished_phrase, timer_name
from voice_agent.skills.clock.times import (
    Clock,
    ClockTime,
    after,
    next_clock_time,
    parse_clock_time,
    spoken_time,
)
from voice_agent.skills.clock.words import normalize

MAX_TIMER_S = 7 * 86400
MAX_REMINDER_AHEAD = timedelta(days=366)
LIST_AT_MOST = 5  # timers read out in one answer; the rest are counted

TIMER_TOPIC = re.compile(r"\b(timers?|alarms?|count ?down(?! (to|until|till))|wake me|snooze)\b")
SNOOZE = timedelta(minutes=9)
SNOOZE_WITHIN = timedelta(minutes=30)  # what went off longer ago than this is not snoozed
# What "tell me when it's done" after setting one is answered with: they speak up by themselves.
_TELLS_WHEN = {
    "timer": "I'll tell you when it goes off.",
    "timers": "I'll tell you when each one goes off.",
    "reminder": "I'll tell you when it's time.",
}
# "Cancelled the cake timer.": Whisper's past tense of a command said quickly
_CANCEL = re.compile(r"\b(cancel(?:l?ed)?|stop|delete|remove|clear|kill|dismiss|turn off|"
                     r"switch off|get rid of)\b")  # fmt: skip
_SET = re.compile(r"\b(set|start|create|make|add|put|begin|wake me|remind me)\b")
_REMAINING = re.compile(
    r"\b(left|remaining|how long|how much time|how much longer|when (does|will|is)|go(es)? off)\b"
    r"|^(is|are|has|have)\b.*\b(done|finished|over|up|gone off)\b|\byet\b"  # "is it done yet"
)
# "how much time is left", "how much longer", "how much time do I have": the timers' time,
# though no timer is named;
# with "until", "before" or "since" it is about a date ("how much time is left until May").
_TIME_LEFT = re.compile(
    r"^(?!.*\b(?:until|till|til|before|since)\b)(?:and |so )?(?:(?:how much (?:more )?time|how "
    r"long)\b.*\b(?:left|remaining|to go)\b|how much longer\b"
    r"|how much (?:more )?time (?:do i have|have i got)$)"
)
_LIST = re.compile(r"\b(list|show|what|which|any|how many|do i have|are there|running|active)\b")
_ALL = re.compile(r"\b(all|every|everything|both)\b")
# "timer number 2", "alarm #2": the second as they are listed, soonest first.
_NUMBERED = re.compile(r"\b(timer|alarm|countdown)s? (?:number |no |#)(\d+)\b")
_NOUNS = {"timer", "timers", "alarm", "alarms", "countdown", "reminder", "reminders"}
# Words that put a label after the noun: "a timer for the pasta", "the reminder to call mom".
_LABEL_AFTER = {"timer": ("for",), "alarm": (), "reminder": ("to", "about", "that", "of")}
_LABEL_STOP = {
    "a", "an", "the", "my", "me", "your", "our", "this", "that", "those", "these", "for", "of",
    "on", "up", "off", "to", "and", "set", "start", "create", "make", "add", "put", "begin",
    "new", "another", "cancel", "stop", "delete", "remove", "clear", "kill", "dismiss", "turn",
    "switch", "get", "rid", "all", "every", "both", "wake", "remind", "please", "is", "are",
    "how", "much", "time", "left", "what", "whats", "what's", "when", "does", "do", "i", "have",
    "any", "which", "list", "show", "hey", "ok", "okay", "can", "could", "you", "would", "will",
    "about", "in", "at", "by", "with", "from", "into", "it",  # "set in alarm": Whisper's "an"
}  # fmt: skip


class TimerCommands:
    """What the clock skill does with a request about timers or alarms."""

    def __init__(
        self,
        timers: TimerStore,
        zone: tzinfo,
        now: Clock,
        on_change: Callable[[], None],
        announcing: Callable[[], bool],
    ) -> None:
        self._timers = timers
        self._zone = zone
        self._clock = now
        self._on_change = on_change  # wakes the timer service, so it re-plans its sleep
        self._announcing = announcing  # whether the timer service runs, to announce them

    def handle(self, text: str, words: list[str], said: str = "") -> Result:
        """`text` normalised (words.py), `words` its words; `said` as the user said it, for
        the capitals of names in what a reminder keeps."""
        finished = "" if self._announcing() else self._finish_overdue()
        result = self._command(text, words, said)
        return replace(result, spoken=f"{finished} {result.spoken}") if finished else result

    def _finish_overdue(self) -> str:
        """Timers that came due with no timer service running to announce them (`ask
        --json`, `chat --json`): said once, here, then done."""
        now = self._clock()
        overdue = [t for t in self._timers.pending() if t.due_at <= now]
        told = [t for t in overdue if self._timers.mark_fired(t.id)]
        return " ".join(f"{capitalized(finished_phrase(t, self._zone, now))}." for t in told)

    def _command(self, text: str, words: list[str], said: str) -> Result:
        kinds = _kinds(text)
        if kinds == ("reminder",) and SETS_REMINDER.search(text):
            return self._set_reminder(text, said)
        if re.search(r"\bsnooze\b", text):
            return self._snooze()
        if _CANCEL.search(text):
            return self._cancel(text, words, kinds)
        if _SET.search(text):
            return self._set(text, words, kinds, said)
        if _REMAINING.search(text):
            return self._remaining(text, words, kinds)
        if _LIST.search(text) or kinds == ("reminder",):  # "the reminder about the oven"
            return self._list(text, words, kinds)
        return self._set(text, words, kinds, said)

    def _now(self) -> datetime:
        return self._clock().astimezone(self._zone)

    def _value(self, timer: Timer) -> dict[str, Any]:
        return {
            "timer_id": timer.id,
            "kind": timer.kind,
            "label": timer.label,
            "duration_s": timer.duration_s,
            "due_at": timer.due_at.astimezone(self._zone).isoformat(),
        }

    def _set(self, text: str, words: list[str], kinds: tuple[str, ...], said: str) -> Result:
        if kinds == ("alarm",):
            return self._set_alarm(text, words)
        if kinds == ("reminder",):
            return self._set_reminder(text, said)
        duration = parse_duration(words)
        if duration is None:
            return Result(
                "How long should the timer be? Say, for example, set a timer for 10 minutes.",
                data={"action": "set", "kind": "timer"},
                status="ask",
            )
        durations = parse_durations(words)
        for each in durations:
            if refusal := _refuse(each.seconds):
                return refusal
        if len(durations) > 1:  # "a timer for 5 minutes and another for 10"
            return self._add_several(durations, _labels(words, durations))
        label = _label(words, duration, _LABEL_AFTER["timer"])
        due = after(self._clock(), duration.seconds)
        return self._add("timer", label, due, duration.seconds, spoken_duration(duration.seconds))

    def _snooze(self) -> Result:
        """What went off last, again in 9 minutes, as the same kind and with the same name."""
        now = self._clock()
        last = self._timers.last_fired(now - SNOOZE_WITHIN)
        if last is None:
            spoken = "Nothing has gone off in the last half hour, so there's nothing to snooze."
            return Result(spoken, data={"action": "snooze"}, status="failed")
        seconds = SNOOZE.total_seconds()
        again = self._timers.add(last.kind, last.label, after(now, seconds), last.duration_s)
        self._on_change()
        return Result(
            f"Snoozed: your {timer_name(again)} goes off again in {spoken_duration(seconds)}.",
            value=self._value(again),
            data={"action": "snooze", **self._refer_as([again])},
        )

    def _add_several(self, durations: list[Duration], labels: list[str]) -> Result:
        now = self._clock()
        lengths = [d.seconds for d in durations]
        named = list(zip(lengths, labels, strict=True))
        timers = [self._timers.add("timer", label, after(now, s), s) for s, label in named]
        self._on_change()
        if any(labels):  # "cake for 20 minutes and tea for 5 minutes"
            spoken = join_words(
                [f"{label or 'one'} for {spoken_duration(s)}" for s, label in named]
            )
        else:
            spoken = f"for {join_words([spoken_duration(s) for s in lengths])}"
        return Result(
            f"{len(timers)} timers set: {spoken}.",
            value=[self._value(t) for t in timers],
            data={"action": "set", "kind": "timer", "tells_when": _TELLS_WHEN["timers"]},
        )

    def _set_alarm(self, text: str, words: list[str]) -> Result:
        now = self._now()
        clock = parse_clock_time(text)
        duration = parse_duration(words)
        if clock is None and duration is not None:  # "wake me up in 20 minutes"
            if refusal := _refuse(duration.seconds):
                return refusal
            due = after(self._clock(), duration.seconds).astimezone(self._zone)
        elif clock is not None:
            due = next_clock_time(now, clock, prefer_morning="wake me" in text)
            if re.search(r"\btomorrow\b", text) and due.date() == now.date():
                due += timedelta(days=1)
        else:
            return Result(
                "What time should the alarm be for? Say, for example, set an alarm for 7 AM.",
                data={"action": "set", "kind": "alarm"},
                status="ask",
            )
        label = _label(words, duration, _LABEL_AFTER["alarm"])
        when = f"{spoken_time(due)} {day_phrase(due.date(), now.date())}"
        return self._add("alarm", label, due, None, when)

    def _set_reminder(self, text: str, said: str) -> Result:
        now = self._now()
        reminder = read_reminder(text, now)
        reminder = replace(reminder, task=with_names(reminder.task, said))
        asked = {"action": "set", "kind": "reminder"}
        if reminder.repeating:
            spoken = (
                "I can only set one-time reminders, not repeating ones. Tell me the next "
                "time, and I'll remind you then."
            )
            return Result(spoken, data=asked, status="failed")
        if not reminder.task:
            return Result("What should I remind you about?", data=asked, status="ask")
        if reminder.due is None:
            spoken = "When should I remind you? Say, for example, in 20 minutes or at 5 PM."
            return Result(spoken, data=asked, status="ask")
        when = f"{spoken_time(reminder.due)} {day_phrase(reminder.due.date(), now.date())}"
        if reminder.passed:
            return Result(f"{capitalized(when)} has already passed.", data=asked, status="failed")
        if reminder.due - now > MAX_REMINDER_AHEAD:
            spoken = "I can only set reminders up to a year ahead."
            return Result(spoken, data=asked, status="failed")
        timer = self._timers.add("reminder", reminder.task, reminder.due, None)
        self._on_change()
        when = f"at {when}"
        if reminder.after_s is not None:
            when = f"in {spoken_duration(reminder.after_s)}, at {spoken_time(reminder.due)}"
        return Result(
            f"Okay, I'll remind you {yours(reminder.task)} {when}.",
            value=self._value(timer),
            data={
                "action": "set",
                "kind": "reminder",
                "tells_when": _TELLS_WHEN["reminder"],
                **self._refer_as([timer]),
            },
        )

    def _add(
        self, kind: str, label: str, due: datetime, duration_s: float | None, when: str
    ) -> Result:
        """Keep a new timer or alarm, wake the service for it, and say it is set."""
        timer = self._timers.add(kind, label, due, duration_s)
        self._on_change()
        name = f"{label} {kind}" if label else kind
        return Result(
            f"{capitalized(name)} set for {when}.",
            value=self._value(timer),
            data={
                "action": "set",
                "kind": kind,
                "tells_when": _TELLS_WHEN["timer"],
                **self._refer_as([timer]),
            },
        )

    def _refer_as(self, timers: list[Timer]) -> dict[str, str]:
        """For an answer about one timer, the words that find it again in "cancel ..." or
        "how long is left on ...": "the pasta timer", "the 8 minute timer", "the 7:00 AM
        alarm"."""
        if len(timers) != 1:
            return {}
        timer = timers[0]
        if timer.kind == "alarm" and not timer.label:
            return {"refer_as": f"the {spoken_time(timer.due_at.astimezone(self._zone))} alarm"}
        return {"refer_as": f"the {timer_name(timer)}"}

    def _matching(
        self, text: str, words: list[str], kinds: tuple[str, ...]
    ) -> tuple[list[Timer], str]:
        """Pending timers of these kinds narrowed by what the user named: a number ("timer
        number 2"), a label, a length ("the 10 minute timer") or an alarm's time ("the 7 AM
        alarm"). Also returns what was named ("pasta timer"), for saying it is not there."""
        # A timer that came due is done (told above, or by the service any moment now), never
        # one with "1 second left".
        now = self._clock()
        timers = [t for t in self._timers.pending() if t.kind in kinds and t.due_at > now]
        if numbered := _NUMBERED.search(text):
            number = int(numbered[2])
            return timers[number - 1 : number] if number else [], f"{numbered[1]} number {number}"
        duration = parse_duration(words)
        label = _label(words, duration, _LABEL_AFTER[kinds[0]] if len(kinds) == 1 else ("for",))
        if label:
            named = set(yours(label).split())  # "my mom" is the "your mom" said back
            timers = [t for t in timers if named <= set(yours(t.label).lower().split())]
        if duration is not None:
            timers = [t for t in timers if abs((t.duration_s or 0) - duration.seconds) < 0.5]
        clock = parse_clock_time(text) if kinds == ("alarm",) else None
        if clock is not None:
            timers = [t for t in timers if self._shows(t, clock)]
        return timers, f"{label} {kinds[0]}" if label else ""

    def _not_found(self, named: str, kinds: tuple[str, ...]) -> str:
        """No timer by that name, and the ones there are: the name may have been misheard
        ("the T timer" for "the tea timer"), and the user learns what to ask for."""
        if not named:
            return _none_left(kinds)
        now = self._clock()
        others = [t for t in self._timers.pending() if t.kind in kinds and t.due_at > now]
        missing = f"You don't have {with_article(named)}."
        return f"{missing} You have {self._summary(others)}." if others else missing

    def _shows(self, timer: Timer, clock: ClockTime) -> bool:
        due = timer.due_at.astimezone(self._zone)
        hour = due.hour if clock.exact else due.hour % 12
        return (hour, due.minute) == (clock.hour if clock.exact else clock.hour % 12, clock.minute)

    def _describe(self, timer: Timer, now: datetime) -> str:
        """Says "a pasta timer with 7 minutes left" or "an alarm for 7:00 AM tomorrow"."""
        if timer.kind == "reminder":
            return f"{with_article(timer_name(timer))} at {self._alarm_time(timer, now)}"
        if timer.kind == "alarm":
            return f"{with_article(timer_name(timer))} for {self._alarm_time(timer, now)}"
        left = spoken_remaining((timer.due_at - now).total_seconds())
        return f"{with_article(timer_name(timer))} with {left} left"

    def _alarm_time(self, timer: Timer, now: datetime) -> str:
        due = timer.due_at.astimezone(self._zone)
        return f"{spoken_time(due)} {day_phrase(due.date(), now.date())}"

    def _list(self, text: str, words: list[str], kinds: tuple[str, ...]) -> Result:
        timers, named = self._matching(text, words, kinds)
        return self._listing(timers, named, kinds, "list")

    def _listing(
        self, timers: list[Timer], named: str, kinds: tuple[str, ...], action: str
    ) -> Result:
        spoken = f"You have {self._summary(timers)}." if timers else self._not_found(named, kinds)
        data = {"action": action, **self._refer_as(timers)}
        return Result(spoken, value=[self._value(t) for t in timers], data=data)

    def _summary(self, timers: list[Timer]) -> str:
        """One timer described, or "2 timers: a ... and an alarm for ...", at most 5 read out."""
        now = self._now()
        if len(timers) == 1:
            return self._describe(timers[0], now)
        items = [self._describe(t, now) for t in timers]
        return f"{_counted(timers)}: {join_words(items, most=LIST_AT_MOST)}"

    def _remaining(self, text: str, words: list[str], kinds: tuple[str, ...]) -> Result:
        timers, named = self._matching(text, words, kinds)
        if len(timers) != 1:
            return self._listing(timers, named, kinds, "remaining")
        timer, now = timers[0], self._now()
        left_s = (timer.due_at - now).total_seconds()
        if timer.kind in ("alarm", "reminder"):
            spoken = f"Your {timer_name(timer)} is set for {self._alarm_time(timer, now)}."
        else:
            spoken = f"Your {timer_name(timer)} has {spoken_remaining(left_s)} left."
        data = {"action": "remaining", "left_s": left_s, **self._refer_as(timers)}
        return Result(spoken, value=self._value(timer), data=data)

    def _cancel(self, text: str, words: list[str], kinds: tuple[str, ...]) -> Result:
        timers, named = self._matching(text, words, kinds)
        if not timers:
            spoken = self._not_found(named, kinds)
            return Result(spoken, data={"action": "cancel"}, status="failed")
        if len(timers) > 1 and not _ALL.search(text):
            return Result(
                f"You have {self._summary(timers)}. Which one should I cancel, or all of them?",
                value=[self._value(t) for t in timers],
                data={"action": "cancel"},
                status="ask",
            )
        now = self._now()
        cancelled = [t for t in timers if self._timers.cancel(t.id)]
        self._on_change()
        if not cancelled:
            return Result(_none_left(kinds), data={"action": "cancel"}, status="failed")
        if len(cancelled) > 1:
            spoken = f"Cancelled {_counted(cancelled)}."
        elif cancelled[0].kind in ("alarm", "reminder"):
            timer = cancelled[0]
            at = "at" if timer.kind == "reminder" else "for"
            spoken = f"Cancelled your {timer_name(timer)} {at} {self._alarm_time(timer, now)}."
        else:
            spoken = f"Cancelled your {timer_name(cancelled[0])}."
        return Result(spoken, value=[self._value(t) for t in cancelled], data={"action": "cancel"})


def _refuse(seconds: float) -> Result | None:
    if seconds <= 0:
        spoken = "I can only set a timer for a length above zero."
    elif seconds > MAX_TIMER_S:
        spoken = "I can only set timers for up to a week."
    else:
        return None
    return Result(spoken, data={"action": "set", "duration_s": seconds}, status="failed")


def _clean_label(words: list[str]) -> str:
    while words and words[0] in _LABEL_STOP:
        words = words[1:]
    while words and words[-1] in _LABEL_STOP | _NOUNS:
        words = words[:-1]
    return " ".join(words[:4])


def _label(words: list[str], duration: Duration | None, after: tuple[str, ...]) -> str:
    """The user's name for a timer: "pasta" in "set a pasta timer" or "... for the pasta"
    (after the noun, one of the words in `after` brings it)."""
    text = " ".join(words)
    if m := re.search(r"\b(?:called|named|labell?ed)\s+(.+)$", text):
        return _clean_label(m[1].split())
    noun = next((i for i, word in enumerate(words) if word in _NOUNS), None)
    if noun is None:
        return ""
    skip = range(duration.start, duration.end) if duration else range(0)
    start = noun
    while start > 0 and _label_word(words[start - 1]) and start - 1 not in skip:
        start -= 1
    if before := words[max(start, noun - 3) : noun]:
        return " ".join(before)
    tail = words[max(noun + 1, duration.end if duration else 0) :]
    if tail[:1] and tail[0] in after:
        return _clean_label(tail[1:])
    return ""


def _labels(words: list[str], durations: list[Duration]) -> list[str]:
    """Each timer's name in "a timer for 20 minutes for the cake and another for 5 minutes
    for the tea", or "a cake timer for 20 minutes and a tea timer for 5": the words between
    one duration and the next ("" where there is none)."""
    labels = []
    for i, duration in enumerate(durations):
        start = durations[i - 1].end if i else 0
        end = durations[i + 1].start if i + 1 < len(durations) else len(words)
        label = _label(words[start : duration.start], None, ())
        rest = words[duration.end : end]
        if not label and rest[:1] == ["for"]:
            cut = next((j for j, w in enumerate(rest) if w in ("and", "another", "then")), None)
            label = _clean_label(rest[1:cut])
        labels.append(label)
    return labels


def _label_word(word: str) -> bool:
    """Not a command word, and not part of a time ("the 7 am alarm" has no label)."""
    return word not in _LABEL_STOP and word not in ("am", "pm") and not re.search(r"\d", word)


def _kinds(text: str) -> tuple[str, ...]:
    """The kinds a request is about: those it names, or all of them."""
    named = (
        re.search(r"\b(timers?|countdown|count down)\b", text),
        re.search(r"\b(alarms?|wake me)\b", text),
        REMINDER_TOPIC.search(text),
    )
    kinds = tuple(kind for kind, found in zip(KINDS, named, strict=True) if found)
    return kinds or KINDS


def _none_left(kinds: tuple[str, ...]) -> str:
    return f"You have no {join_words([plural(kind) for kind in kinds], 'or')}."


def _counted(timers: list[Timer]) -> str:
    """Counts by kind: "2 timers and 1 alarm"."""
    counts = [(sum(t.kind == kind for t in timers), kind) for kind in KINDS]
    return join_words([count(n, kind) for n, kind in counts if n])


def timer_words(text: str) -> str | None:
    """What a command that sets timers keeps whole, as said, when it ends on a duration: "for
    5 minutes and another for 10 minutes", "for a minute and a half"."""
    norm = normalize(text)
    words = norm.split()
    if not (_SET.search(norm) and re.search(r"\btimers?\b", norm)):
        return None
    durations = parse_durations(words)
    if not durations or words[durations[-1].end :] not in ([], ["please"]):
        return None  # "a timer for 5 minutes and tell my wife": the rest is a request
    noun = re.search(r"\btimers?\b", text, re.IGNORECASE)
    return text[noun.end() :].strip() if noun else None


def asks_time_left(text: str) -> str | None:
    """`text` if it asks what the timers have left without naming them, else None: the
    clock's own check, and routing's recognizer."""
    return text if _TIME_LEFT.search(normalize(text)) else None
