"""SQLite store (WAL): conversation turns and timers.

One connection guarded by a lock: turns are recorded on the main thread while
timers fire on a background thread. Every write commits on its own, so a crash
loses at most the write in progress.
"""

from __future__ import annotations

import json
import sqlite3
import threading
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
    # Skills bring their own tables (skills/registry.py); this counts each one's migrations.
    """
    CREATE TABLE skill_migrations (
        skill TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    );
    """,
    # Named conversations (`chat --session NAME`) pick up where they stopped.
    """
    ALTER TABLE turns ADD COLUMN session TEXT;
    CREATE INDEX turns_session ON turns (session, id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


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

    def migrate(self, skill: str, migrations: tuple[str, ...]) -> None:
        """Apply a skill's migrations that have not run yet, each all-or-nothing.

        Like the core's: append new ones, never edit shipped ones.
        """
        if not skill.isidentifier():  # it is written into the script below
            raise ValueError(f"a skill name must be an identifier, not {skill!r}")
        with self._lock:
            row = self._conn.execute(
                "SELECT version FROM skill_migrations WHERE skill = ?", (skill,)
            ).fetchone()
            done = row[0] if row else 0
            if done > len(migrations):
                raise UserError(
                    f"{self.path}: the {skill} skill's tables are newer than this voice-agent "
                    f"(version {done}, this one knows {len(migrations)}); upgrade voice-agent"
                )
            for number in range(done, len(migrations)):
                self._conn.executescript(
                    f"BEGIN; {migrations[number]}; "
                    "INSERT INTO skill_migrations (skill, version) "
                    f"VALUES ('{skill}', {number + 1}) "
                    f"ON CONFLICT (skill) DO UPDATE SET version = {number + 1}; COMMIT;"
                )

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One write, committed on its own (rolled back if it fails)."""
        with self._lock, self._conn:  # the connection context manager commits or rolls back
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- turns ------------------------------------------------------------------------------
    def add_turn(self, record: dict[str, Any]) -> int:
        """Store one turn record; returns its row id."""
        # default=str: an odd value (a Path, a datetime) must not cost the user their turn.
        data = json.dumps(record, default=str, ensure_ascii=False)
        cursor = self.execute(
            "INSERT INTO turns (ts, profile, agent, text, answer, record, session) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _turn_ts(record.get("ts")),
                record.get("profile"),
                record.get("agent"),
                record.get("text"),
                record.get("answer"),
                data,
                record.get("session"),
            ),
        )
        return int(cursor.lastrowid)

    def recent_turns(self, limit: int) -> list[dict[str, Any]]:
        """The last `limit` turn records, oldest first."""
        rows = self.query("SELECT record FROM turns ORDER BY id DESC LIMIT ?", (max(limit, 0),))
        return [json.loads(row[0]) for row in reversed(rows)]

    def session_turns(self, session: str, limit: int) -> list[dict[str, Any]]:
        """The last `limit` turns of a named conversation, oldest first."""
        rows = self.query(
            "SELECT record FROM turns WHERE session = ? ORDER BY id DESC LIMIT ?",
            (session, max(limit, 0)),
        )
        return [json.loads(row[0]) for row in reversed(rows)]

    def purge_turns(self, before: datetime | None = None) -> int:
        """Delete stored turns older than `before` (all of them when None); how many went."""
        if before is None:
            cursor = self.execute("DELETE FROM turns")
        else:
            stamp = before.astimezone(timezone.utc).isoformat()
            cursor = self.execute("DELETE FROM turns WHERE ts < ?", (stamp,))
        return cursor.rowcount

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
