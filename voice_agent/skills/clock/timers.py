"""Timers, alarms and reminders kept in the store, so they outlive a restart."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from voice_agent.skills.clock.dates import day_phrase
from voice_agent.skills.clock.durations import spoken_duration
from voice_agent.skills.clock.reminders import yours
from voice_agent.skills.clock.times import spoken_time
from voice_agent.store import Store, StoreError

log = logging.getLogger(__name__)

# The clock plugin's migration. Databases made before skills had their own migrations already
# have this table from the core's first one, hence IF NOT EXISTS; the columns are the same.
TIMERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('timer', 'alarm')),
    label TEXT NOT NULL DEFAULT '',
    due_at REAL NOT NULL,
    duration_s REAL,
    created_at REAL NOT NULL,
    fired_at REAL,
    cancelled_at REAL
);
CREATE INDEX IF NOT EXISTS timers_pending ON timers (due_at)
    WHERE fired_at IS NULL AND cancelled_at IS NULL;
"""
# Reminders: SQLite cannot change a CHECK constraint, so the table is built again.
REMINDERS = """
CREATE TABLE timers_new (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('timer', 'alarm', 'reminder')),
    label TEXT NOT NULL DEFAULT '',
    due_at REAL NOT NULL,
    duration_s REAL,
    created_at REAL NOT NULL,
    fired_at REAL,
    cancelled_at REAL
);
INSERT INTO timers_new SELECT id, kind, label, due_at, duration_s, created_at, fired_at,
    cancelled_at FROM timers;
DROP TABLE timers;
ALTER TABLE timers_new RENAME TO timers;
CREATE INDEX timers_pending ON timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
"""
MIGRATIONS = (TIMERS_SCHEMA, REMINDERS)
KINDS = ("timer", "alarm", "reminder")


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str  # "timer" | "alarm" | "reminder"
    label: str  # "" when the user gave none; a reminder's task ("to call my mom")
    due_at: datetime  # UTC, timezone-aware
    duration_s: float | None  # None for alarms
    created_at: datetime  # UTC, timezone-aware


class TimerStore:
    """The timers table, through the store's own connection and lock."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Timers told this session: kept here too, so one the store could not mark (a full
        # disk) is not told again and again.
        self._fired: set[int] = set()
        self._lock = threading.Lock()

    def add(self, kind: str, label: str, due_at: datetime, duration_s: float | None) -> Timer:
        if kind not in KINDS:
            raise ValueError(f"timer kind must be one of {KINDS}, not {kind!r}")
        if due_at.tzinfo is None or due_at.utcoffset() is None:
            raise ValueError("due_at must be timezone-aware")
        created = datetime.now(timezone.utc)
        cursor = self._store.execute(
            "INSERT INTO timers (kind, label, due_at, duration_s, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, label, due_at.timestamp(), duration_s, created.timestamp()),
        )
        return Timer(
            id=int(cursor.lastrowid),
            kind=kind,
            label=label,
            due_at=due_at.astimezone(timezone.utc),
            duration_s=duration_s,
            created_at=created,
        )

    def pending(self) -> list[Timer]:
        """Timers and alarms neither fired nor cancelled, soonest first (overdue ones included)."""
        rows = self._store.query(
            "SELECT id, kind, label, due_at, duration_s, created_at FROM timers "
            "WHERE fired_at IS NULL AND cancelled_at IS NULL ORDER BY due_at, id"
        )
        return [
            Timer(id, kind, label, _utc(due), duration, _utc(created))
            for id, kind, label, due, duration, created in rows
            if id not in self._fired
        ]

    def last_fired(self, since: datetime) -> Timer | None:
        """The timer, alarm or reminder told most recently, if it was told after `since`."""
        rows = self._store.query(
            "SELECT id, kind, label, due_at, duration_s, created_at FROM timers "
            "WHERE fired_at >= ? ORDER BY fired_at DESC, id DESC LIMIT 1",
            (since.timestamp(),),
        )
        return next(
            (
                Timer(id, kind, label, _utc(due), d, _utc(made))
                for id, kind, label, due, d, made in rows
            ),
            None,
        )

    def cancel(self, timer_id: int) -> bool:
        """True when a pending timer was cancelled; False if unknown, fired or already cancelled."""
        cursor = self._store.execute(
            "UPDATE timers SET cancelled_at = ? "
            "WHERE id = ? AND fired_at IS NULL AND cancelled_at IS NULL",
            (_now_ts(), timer_id),
        )
        return cursor.rowcount == 1

    def mark_fired(self, timer_id: int) -> bool:
        """Record that a timer was told: True when this call did, False if it was told (or
        cancelled) before. A store that cannot record it costs a log line, not a repeat."""
        with self._lock:
            if timer_id in self._fired:
                return False
            self._fired.add(timer_id)
        try:
            cursor = self._store.execute(
                "UPDATE timers SET fired_at = ? "
                "WHERE id = ? AND fired_at IS NULL AND cancelled_at IS NULL",
                (_now_ts(), timer_id),
            )
        except StoreError as exc:
            log.warning("could not record that timer %d went off: %s", timer_id, exc)
            return True
        return cursor.rowcount == 1


def timer_name(timer: Timer) -> str:
    """How a timer is called: "pasta timer", "10 minute timer", "gym alarm", "alarm",
    "reminder to call your mom"."""
    if timer.kind == "reminder":
        return f"reminder {yours(timer.label)}".strip()
    if timer.label:
        return f"{timer.label} {timer.kind}"
    if timer.kind == "timer" and timer.duration_s:
        return f"{spoken_duration(timer.duration_s, adjective=True)} timer"
    return timer.kind


def finished_phrase(timer: Timer, zone: tzinfo, now: datetime) -> str:
    """Says "your pasta timer finished at 10:02 AM" or "your alarm went off at 7:00 AM
    yesterday", for a timer that came due with nobody told."""
    due = timer.due_at.astimezone(zone)
    day = day_phrase(due.date(), now.astimezone(zone).date())
    when = spoken_time(due) + ("" if day == "today" else f" {day}")
    verb = {"alarm": "went off", "reminder": "was due"}.get(timer.kind, "finished")
    return f"your {timer_name(timer)} {verb} at {when}"


def _now_ts() -> float:
    return datetime.now(timezone.utc).timestamp()


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)
