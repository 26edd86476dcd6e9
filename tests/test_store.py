"""The SQLite store: real database files, real threads."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from voice_agent.errors import UserError
from voice_agent.store import SCHEMA_VERSION, Store

T0 = datetime(2026, 11, 21, 9, 5, tzinfo=timezone.utc)


def turn(n: int, answer: str | None = None) -> dict:
    return {
        "text": f"question {n}",
        "agent": "time",
        "profile": "balanced",
        "answer": f"answer {n}" if answer is None else answer,
        "timings": {"route_ms": 1.5, "total_ms": 20.25},
        "scores": {"time": 0.9, "general": 0.1},
        "ts": (T0 + timedelta(seconds=n)).isoformat(),
    }


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "deep" / "folder" / "va.db") as s:
        yield s


def test_creates_parent_folders_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "va.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"turns", "skill_migrations"} <= tables  # skills' own tables come with the skills


def test_wal_mode_is_on(store: Store) -> None:
    with sqlite3.connect(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_turn_round_trips_with_indexed_columns(store: Store) -> None:
    record = turn(1)
    row_id = store.add_turn(record)
    assert isinstance(row_id, int)
    assert store.recent_turns(1) == [record]
    with sqlite3.connect(store.path) as other:
        row = other.execute("SELECT ts, profile, agent, text, answer FROM turns").fetchone()
    assert row == ("2026-11-21T09:05:01+00:00", "balanced", "time", "question 1", "answer 1")


def test_turn_time_defaults_to_now_and_is_stored_in_utc(store: Store) -> None:
    store.add_turn({"text": "a", "agent": "x", "answer": "b", "timings": {}})
    store.add_turn({**turn(2), "ts": "2026-11-21T10:00:00+01:00"})
    with sqlite3.connect(store.path) as other:
        first, second = (r[0] for r in other.execute("SELECT ts FROM turns ORDER BY id"))
    age = datetime.now(timezone.utc) - datetime.fromisoformat(first)
    assert timedelta(0) <= age < timedelta(seconds=5)
    assert second == "2026-11-21T09:00:00+00:00"


def test_odd_values_do_not_cost_the_turn(store: Store) -> None:
    store.add_turn({**turn(1), "file": Path("/tmp/x")})
    assert store.recent_turns(1)[0]["file"] == "/tmp/x"


def test_recent_turns_are_the_newest_oldest_first(store: Store) -> None:
    for n in range(5):
        store.add_turn(turn(n))
    assert [t["text"] for t in store.recent_turns(3)] == ["question 2", "question 3", "question 4"]
    assert len(store.recent_turns(50)) == 5
    assert store.recent_turns(0) == []


def test_a_named_conversation_reads_back_only_its_own_turns(store: Store) -> None:
    store.add_turn({**turn(1), "session": "kitchen"})
    store.add_turn(turn(2))
    store.add_turn({**turn(3), "session": "kitchen"})
    assert [t["text"] for t in store.session_turns("kitchen", 10)] == ["question 1", "question 3"]
    assert [t["text"] for t in store.session_turns("kitchen", 1)] == ["question 3"]
    assert store.session_turns("garage", 10) == []


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    store = Store(path)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(worker: int) -> None:
        try:
            start.wait()
            for n in range(50):
                store.add_turn({**turn(n), "worker": worker})
                store.recent_turns(2)
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert errors == []
    with Store(path) as reopened:
        turns = reopened.recent_turns(1000)
        assert len(turns) == 400
        assert sorted((t["worker"], t["text"]) for t in turns) == sorted(
            (w, f"question {n}") for w in range(8) for n in range(50)
        )


def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    with Store(path) as store:
        store.add_turn(turn(1))
        store.add_turn(turn(2))
    with Store(path) as store:
        assert store.recent_turns(10) == [turn(1), turn(2)]
        store.add_turn(turn(3))
        assert store.recent_turns(1) == [turn(3)]


def test_a_file_that_is_not_a_database_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="not a usable voice-agent database"):
        Store(path)


def test_a_newer_schema_is_refused_not_clobbered(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UserError, match="newer than this voice-agent"):
        Store(path)
