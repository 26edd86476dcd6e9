"""SQLite store (WAL): conversation turns and timers.

One connection guarded by a lock: turns are recorded on the main thread while
timers fire on a background thread. Every write commits on its own, so a crash
loses at most the write in progress.

Every SQLite failure leaves here as a `StoreError` whose message says what happened in
words a user can act on (the disk is full, the folder is read-only, the file belongs to
another program): callers decide whether that ends a command or only costs a write.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
# Below this much free space an I/O error on the database is the disk being full: SQLite
# reports a -shm or -wal file it could not create as "disk I/O error", not as SQLITE_FULL.
_NEARLY_FULL = 1 << 20
_ANOTHER_FILE = "set store.path to another file"


class StoreError(UserError):
    """The database cannot be opened, read or written; the message says why and what to do."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self._check_path()
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
        except sqlite3.Error as exc:
            raise StoreError(self._cannot_open(exc)) from None
        try:
            self._check_ours()  # before WAL mode and migrations change anything in the file
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL syncs the WAL on every commit: a power cut keeps what was said.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(self._cannot_open(exc)) from None
        except StoreError:
            self._conn.close()
            raise

    def _check_path(self) -> None:
        """A folder or a place nobody may write to: said before SQLite's "unable to open
        database file"."""
        if self.path.is_dir():
            raise StoreError(
                f"store.path {self.path} is a folder: set it to a database file inside it, "
                f"such as {self.path / 'voice-agent.db'}"
            )
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"store.path {self.path}: cannot create the folder {folder} ({exc.strerror}); "
                f"{_ANOTHER_FILE}"
            ) from None
        # SQLite writes -wal and -shm files beside the database, so the folder must be writable.
        if not all(os.access(p, os.W_OK) for p in (folder, self.path) if p.exists()):
            why = (
                "is on a read-only file system"
                if os.statvfs(folder).f_flag & os.ST_RDONLY
                else "is in a folder or file this user may not write to"
            )
            raise StoreError(f"store.path {self.path} {why}: {_ANOTHER_FILE} on a writable disk")

    def _check_ours(self) -> None:
        """Refuse another program's SQLite file rather than add our tables to it."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        tables = sorted(
            name
            for (name,) in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        )
        if (version == 0 and tables) or (version and "turns" not in tables):
            raise StoreError(
                f"{self.path} is another program's SQLite database (its tables: "
                f"{', '.join(tables[:5])}), not voice-agent's: {_ANOTHER_FILE}"
            )

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: its schema version {version} is newer than this voice-agent "
                f"({SCHEMA_VERSION}): upgrade voice-agent or {_ANOTHER_FILE}"
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
        with self._lock, self._failures():
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
        # The connection's context manager commits or rolls back.
        with self._lock, self._failures(), self._conn:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        with self._lock, self._failures():
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            if self._conn.in_transaction:  # a script cut short (a migration) must not commit later
                self._conn.rollback()
            raise StoreError(self._cannot_write(exc)) from None

    def _cannot_write(self, exc: sqlite3.Error) -> str:
        if self._disk_full(exc):
            return f"disk full: {self.path} can't be written to until some space is freed"
        if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
            return f"{self.path} has become read-only"
        return f"{self.path}: {exc}"

    def _disk_full(self, exc: sqlite3.Error) -> bool:
        name = getattr(exc, "sqlite_errorname", "")
        if name == "SQLITE_FULL":
            return True
        return name.startswith("SQLITE_IOERR") and self._free_space() < _NEARLY_FULL

    def _free_space(self) -> int:
        try:
            return shutil.disk_usage(self.path.parent).free
        except OSError:
            return _NEARLY_FULL

    def _cannot_open(self, exc: sqlite3.Error) -> str:
        if self._disk_full(exc):
            return (
                f"disk full: {self.path} can't be opened with {self._free_space() >> 10} KiB "
                "free on its disk; free some space, or set store.path to a file on another disk"
            )
        if getattr(exc, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return (
                f"{self.path}: not a usable voice-agent database ({exc}); "
                f"move it aside or {_ANOTHER_FILE}"
            )
        return f"{self.path}: cannot open the database ({exc}); {_ANOTHER_FILE}"

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
