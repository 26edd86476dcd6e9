"""SQLite store (WAL): conversation turns and timers.

One connection guarded by a lock: turns are recorded on the main thread while
timers fire on a background thread. Every write commits on its own, so a crash
loses at most the write in progress.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from voice_agent.errors import UserError

# Each entry moves the schema one version up; PRAGMA user_version says how many ran.
# Append new migrations, never edit shipped ones.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        profile TEXT,
        agent TEXT,
        text TEXT,
        answer TEXT,
        record TEXT NOT NULL
    );
    CREATE INDEX turns_ts ON turns (ts);
    CREATE INDEX turns_agent ON turns (agent);
    CREATE TABLE timers (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('timer', 'alarm')),
        label TEXT NOT NULL DEFAULT '',
        due_at REAL NOT NULL,
        duration_s REAL,
        created_at REAL NOT NULL,
        fired_at REAL,
        cancelled_at REAL
    );
    CREATE INDEX timers_pending ON timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str  # "timer" | "alarm"
    label: str  # "" when the user gave none
    due_at: datetime  # UTC, timezone-aware
    duration_s: float | None  # None for alarms
    created_at: datetime  # UTC, timezone-aware


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL syncs the WAL on every commit: a power cut keeps what was said.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise UserError(
                f"{self.path}: not a usable voice-agent database ({exc}); "
                "move it aside or set store.path to another file"
            ) from None

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this voice-agent ({SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            # executescript commits first; BEGIN..COMMIT makes each migration all-or-nothing.
            self._conn.executescript(
                f"BEGIN; {MIGRATIONS[number]} PRAGMA user_version = {number + 1}; COMMIT;"
            )

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._lock, self._conn:  # the connection context manager commits or rolls back
            return self._conn.execute(sql, params)

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- turns ------------------------------------------------------------------------------
    def add_turn(self, record: dict[str, Any]) -> int:
        """Store one turn record; returns its row id."""
        # default=str: an odd value (a Path, a datetime) must not cost the user their turn.
        data = json.dumps(record, default=str, ensure_ascii=False)
        cursor = self._write(
            "INSERT INTO turns (ts, profile, agent, text, answer, record) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                _turn_ts(record.get("ts")),
                record.get("profile"),
                record.get("agent"),
                record.get("text"),
                record.get("answer"),
                data,
            ),
        )
        return int(cursor.lastrowid)

    def recent_turns(self, limit: int) -> list[dict[str, Any]]:
        """The last `limit` turn records, oldest first."""
        rows = self._read("SELECT record FROM turns ORDER BY id DESC LIMIT ?", (max(limit, 0),))
        return [json.loads(row[0]) for row in reversed(rows)]

    def last_answer(self) -> str | None:
        rows = self._read(
            "SELECT answer FROM turns WHERE answer IS NOT NULL AND answer != '' "
            "ORDER BY id DESC LIMIT 1"
        )
        return rows[0][0] if rows else None

    # -- timers -----------------------------------------------------------------------------
    def add_timer(self, kind: str, label: str, due_at: datetime, duration_s: float | None) -> Timer:
        if kind not in ("timer", "alarm"):
            raise ValueError(f"timer kind must be 'timer' or 'alarm', not {kind!r}")
        if due_at.tzinfo is None or due_at.utcoffset() is None:
            raise ValueError("due_at must be timezone-aware")
        created = datetime.now(timezone.utc)
        cursor = self._write(
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

    def pending_timers(self) -> list[Timer]:
        """Timers and alarms neither fired nor cancelled, soonest first (overdue ones included)."""
        rows = self._read(
            "SELECT id, kind, label, due_at, duration_s, created_at FROM timers "
            "WHERE fired_at IS NULL AND cancelled_at IS NULL ORDER BY due_at, id"
        )
        return [
            Timer(id, kind, label, _utc(due), duration, _utc(created))
            for id, kind, label, due, duration, created in rows
        ]

    def cancel_timer(self, timer_id: int) -> bool:
        """True when a pending timer was cancelled; False if unknown, fired or already cancelled."""
        cursor = self._write(
            "UPDATE timers SET cancelled_at = ? "
            "WHERE id = ? AND fired_at IS NULL AND cancelled_at IS NULL",
            (_now_ts(), timer_id),
        )
        return cursor.rowcount == 1

    def mark_fired(self, timer_id: int) -> None:
        self._write(
            "UPDATE timers SET fired_at = ? WHERE id = ? AND fired_at IS NULL",
            (_now_ts(), timer_id),
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now_ts() -> float:
    return datetime.now(timezone.utc).timestamp()


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def _turn_ts(value: Any) -> str:
    """The record's own time as UTC ISO text (sortable), or now when it has none we can read."""
    moment: datetime | None = None
    if isinstance(value, (int, float)):
        moment = _utc(float(value))
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        moment = datetime.now(timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is the machine's local time
    return moment.astimezone(timezone.utc).isoformat()
