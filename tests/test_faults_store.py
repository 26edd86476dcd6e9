"""Failing storage and interrupted answers, as a user meets them: a disk that fills up, a
store path that is wrong, Ctrl+C while the answer is still being worked out, model files
damaged in place, a new home directory, timers that ran out while nobody listened.

Full and read-only disks are real: a small tmpfs mounted for the test (root only; skipped,
with the reason, where it cannot be mounted).
"""

from __future__ import annotations

import _thread
import hashlib
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rich.console import Console
from stages import cli

from voice_agent import models
from voice_agent.app import build
from voice_agent.chat import Chat
from voice_agent.config import load_settings
from voice_agent.skills.base import Request
from voice_agent.skills.clock import MIGRATIONS, ClockSkill, TimerStore, spoken_time
from voice_agent.skills.files import FilesSkill
from voice_agent.store import Store, StoreError

REPO = Path(__file__).resolve().parents[1]


class SmallDisk:
    """A 1 MiB tmpfs: `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / ".filler"

    def fill(self) -> None:
        with self._filler.open("ab", buffering=0) as f:
            try:
                while f.write(b"\0" * 4096):
                    pass
            except OSError:
                pass
        assert os.statvfs(self.root).f_bavail == 0

    def free(self) -> None:
        self._filler.unlink()

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.root)], check=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The one line a user mistake ends with: exit 2, no traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    return line


class JsonChat:
    """`voice-agent chat --json` in a real process, one request at a time."""

    def __init__(self, *args: str, data: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voice_agent", "chat", "--json", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "VOICE_AGENT_DATA_DIR": str(data)},
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)

    def say(self, text: str, timeout: float = 60) -> tuple[list[str], dict]:
        """The announcements printed while answering `text`, and its turn record."""
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        told = []
        while True:
            line = json.loads(self._lines.get(timeout=timeout))
            if "announcement" not in line:
                return told, line
            told.append(line["announcement"])

    def close(self) -> tuple[int, str]:
        _, err = self.process.communicate("exit\n", timeout=30)
        return self.process.returncode, err


# -- item 4: a full disk ----------------------------------------------------------------------
def test_a_disk_filling_up_mid_chat_costs_the_records_not_the_answers(disk: SmallDisk) -> None:
    # The default layout: the database and the log side by side, on the disk that fills up.
    db = disk.root / "data" / "voice-agent.db"
    chat = JsonChat("--profile", "speed", data=disk.root / "data")
    try:
        assert chat.say("what is 2 plus 2")[1]["answer"] == "2 plus 2 is 4."
        disk.fill()
        started = time.monotonic()
        told, turn = chat.say("what is 3 plus 3")
        assert turn["answer"] == "3 plus 3 is 6." and turn["error"] is None
        (warning,) = told
        assert "disk full" in warning and "keep answering" in warning
        told, turn = chat.say("remember that the plumber comes on thursday")
        assert told == [] and "disk full" in turn["answer"], "a skill that must write says why"
        told, turn = chat.say("what is 4 plus 4")
        assert told == [] and turn["answer"] == "4 plus 4 is 8.", "warned once, not every turn"
        assert time.monotonic() - started < 30
        disk.free()
        assert chat.say("what is 5 plus 5")[1]["answer"] == "5 plus 5 is 10."
    finally:
        code, err = chat.close()
    assert code == 0 and err == "", "no traceback, not even from the log file"
    with Store(db) as store:
        texts = [t["text"] for t in store.recent_turns(10)]
    assert texts[0] == "what is 2 plus 2" and texts[-1] == "what is 5 plus 5"


def test_a_full_disk_at_start_says_so_and_leaves_the_database_alone(disk: SmallDisk) -> None:
    db = disk.root / "va.db"
    first = cli("ask", "what is 2 plus 2", "--profile", "speed", "--set", f"store.path={db}")
    assert first.returncode == 0, first.stderr
    disk.fill()
    line = one_error_line(
        cli("ask", "what is 3 plus 3", "--profile", "speed", "--set", f"store.path={db}")
    )
    assert "disk full" in line and str(db) in line and "free some space" in line
    assert "move it aside" not in line and "not a usable" not in line
    disk.free()
    done = cli("history", "--json", "--set", f"store.path={db}")
    assert [json.loads(r)["text"] for r in done.stdout.splitlines()] == ["what is 2 plus 2"]


def test_a_note_on_a_full_disk_is_written_whole_or_not_at_all(disk: SmallDisk) -> None:
    files = FilesSkill(disk.root / "files")
    assert "groceries" in files.handle(Request("make a note called groceries saying milk")).spoken
    groceries = disk.root / "files" / "notes" / "groceries.txt"
    groceries.write_text("milk\n" * 818 + "bread\n")  # one whole page: a new line needs another
    before = groceries.read_bytes()
    disk.fill()

    created = files.handle(Request("make a note called packing saying passport and charger"))
    assert created.status == "failed" and "disk full" in created.spoken
    appended = files.handle(Request("add bread to my groceries note"))
    assert appended.status == "failed" and "disk full" in appended.spoken

    notes = disk.root / "files" / "notes"
    assert sorted(p.name for p in notes.iterdir()) == ["groceries.txt"], "no empty or temp file"
    assert groceries.read_bytes() == before, "no half line"
    disk.free()
    assert files.handle(Request("add bread to my groceries note")).status == "done"
    assert groceries.read_bytes() == before + b"bread\n" and len(before) == 4096
    assert files.handle(Request("make a note called packing saying passport")).status == "done"
    assert (notes / "packing.txt").read_text() == "passport\n"


# -- item 5: a store path that cannot be the store ---------------------------------------------
def store_error(path: str) -> list[str]:
    """The error line of `ask` and of `history`, both needing the store."""
    lines = []
    for command in (("ask", "what is 2 plus 2", "--profile", "speed"), ("history",)):
        done = cli(*command, "--set", f"store.path={path}")
        lines.append(one_error_line(done))
    return lines


def test_a_folder_as_the_store_names_a_file_to_use(tmp_path: Path) -> None:
    for line in store_error(str(tmp_path)):
        assert f"store.path {tmp_path} is a folder" in line
        assert str(tmp_path / "voice-agent.db") in line


def test_an_empty_store_path_is_a_config_error(monkeypatch) -> None:
    for line in store_error(""):
        assert line.startswith("error: --set store.path: expected a database file")
    monkeypatch.setenv("VOICE_AGENT_STORE__PATH", "")
    line = one_error_line(cli("ask", "what is 2 plus 2", "--profile", "speed"))
    assert "VOICE_AGENT_STORE__PATH: expected a database file" in line


def test_a_store_on_a_read_only_disk_says_so(disk: SmallDisk) -> None:
    db = disk.root / "va.db"
    first = cli("ask", "what is 2 plus 2", "--profile", "speed", "--set", f"store.path={db}")
    assert first.returncode == 0, first.stderr
    disk.remount("ro")
    for line in store_error(str(db)):
        assert f"store.path {db} is on a read-only file system" in line
        assert "writable disk" in line
    for line in store_error(str(disk.root / "new" / "va.db")):
        assert "cannot create the folder" in line and "Read-only file system" in line


def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "photos.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE albums (name TEXT)")
        conn.execute("INSERT INTO albums VALUES ('summer')")
    before = db.read_bytes()
    for line in store_error(str(db)):
        assert f"{db} is another program's SQLite database (its tables: albums)" in line
        assert "set store.path to another file" in line
    assert db.read_bytes() == before and not Path(f"{db}-wal").exists()
    with pytest.raises(StoreError, match="another program's"):
        Store(db)


# -- item 14a: Ctrl+C before the answer has started ------------------------------------------
def test_ctrl_c_while_the_request_is_worked_out_still_stores_the_turn(tmp_path: Path) -> None:
    """Before the first word (routing, a plan, choosing tools: on `balanced` the first request
    loads the embedding model), Ctrl+C stops the turn, which is still kept, cut short."""
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    route, slowed = app.router.route, []

    def slow_first_request(text: str):
        if not slowed:
            slowed.append(text)
            _thread.interrupt_main()  # as Ctrl+C does
            time.sleep(10)  # the interrupt lands in here
        return route(text)

    app.router.route = slow_first_request
    console = Console(record=True, width=200)
    chat = Chat(app, console)
    started = time.monotonic()
    chat.say("what is 2 plus 2")
    assert time.monotonic() - started < 5
    chat.say("what is 3 plus 3")
    stored = app.store.recent_turns(5)
    app.close()
    assert [(t["text"], t["interrupted"]) for t in stored] == [
        ("what is 2 plus 2", True),
        ("what is 3 plus 3", False),
    ]
    assert stored[1]["answer"] == "3 plus 3 is 6."
    assert "[stopped]" in console.export_text()


# -- item 16: a model file damaged in place ---------------------------------------------------
GGUF = b"GGUF" + bytes(range(256)) * 400


def damage_in_place(path: Path) -> None:
    """One byte changed, size and mtime as they were: what a bad sector or a stray write
    that restores timestamps leaves."""
    stat = path.stat()
    with path.open("r+b") as f:
        f.seek(5000)
        byte = f.read(1)
        f.seek(5000)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


@pytest.fixture
def split_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> models.ModelSpec:
    """A known LLM split over two installed packages, joined into a fresh cache."""
    site = tmp_path / "site"
    halves = (GGUF[:50_000], GGUF[50_000:])
    for i, data in enumerate(halves, 1):
        (site / f"split_model_part{i}" / "data").mkdir(parents=True)
        (site / f"split_model_part{i}" / "__init__.py").write_text("")
        (site / f"split_model_part{i}" / "data" / f"part{i}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("VOICE_AGENT_CACHE_DIR", str(tmp_path / "cache"))
    spec = models.ModelSpec(
        kind="llm",
        name="split",
        parts=tuple(
            models.PackageFile(f"split-model-part{i}==1.0", f"data/part{i}.bin") for i in (1, 2)
        ),
        sha256=hashlib.sha256(GGUF).hexdigest(),
        size=len(GGUF),
        license="MIT",
        filename="split.gguf",
    )
    monkeypatch.setitem(models.REGISTRY, ("llm", "split"), spec)
    return spec


def test_prepare_hashes_again_and_rebuilds_a_copy_damaged_in_place(split_model) -> None:
    (ready,) = models.prepare_all([("llm", "split")], rehash=True)
    path = ready.path
    damage_in_place(path)
    quick = models.status("llm", "split")
    assert quick.present, "a stat() cannot see it: and the status says that is all it checked"
    assert "sha256 matched on" in quick.detail and "size and mtime unchanged since" in quick.detail
    hashed = models.status("llm", "split", rehash=True)
    assert not hashed.present and "LLM split is damaged" in hashed.detail
    assert "models prepare" in hashed.detail
    (repaired,) = models.prepare_all([("llm", "split")], rehash=True)
    assert repaired.present and path.read_bytes() == GGUF


def test_models_verify_finds_a_damaged_model_and_exits_1(tmp_path: Path) -> None:
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(GGUF)
    models.add(mine, "mine")
    profiles = tmp_path / "config" / "profiles"  # the user's own speed profile loads it
    profiles.mkdir(parents=True)
    (profiles / "speed.yaml").write_text("extends: speed\nllm:\n  model: mine\n")
    damage_in_place(mine)

    quick = cli("models", "--profile", "speed")
    assert quick.returncode == 0, quick.stdout + quick.stderr
    assert "size and mtime unchanged since" in quick.stdout and "models --verify" in quick.stdout
    verified = cli("models", "--profile", "speed", "--verify")
    assert verified.returncode == 1
    rows = [line for line in verified.stdout.splitlines() if " mine " in line]
    assert len(rows) == 2, "the profile's model, and your own models"
    assert all("changed since it was registered" in row and "sha256" in row for row in rows)
    assert "Traceback" not in verified.stderr


# -- item 17: `make install` with a new home directory ----------------------------------------
def test_make_install_checks_the_models_not_only_its_stamp(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    fake = bin_dir / "voice-agent"  # records what make asks of it
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n[ "$*" != models ] || exit "$MODELS_EXIT"\n')
    fake.chmod(0o755)
    stamp = tmp_path / "stamp"
    stamp.touch()  # installed: newer than pyproject.toml, the Makefile and models.py

    def install(models_exit: int) -> list[str]:
        calls.unlink(missing_ok=True)
        done = subprocess.run(
            ["make", "--no-print-directory", "install", f"BIN={bin_dir}", f"STAMP={stamp}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "MODELS_EXIT": str(models_exit)},
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return calls.read_text().splitlines()

    started = time.monotonic()
    assert install(0) == ["models"], "ready: one quick check, nothing rebuilt"
    assert time.monotonic() - started < 5
    assert install(1) == ["models", "models prepare --all"], "a new home: assembled again"


def test_models_in_a_new_cache_are_not_ready(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VOICE_AGENT_CACHE_DIR", str(tmp_path / "new-cache"))
    done = cli("models", "--profile", "speed")
    assert done.returncode == 1
    assert "is not assembled yet: run `voice-agent models prepare`" in done.stdout


# -- item 18: timers that ran out while nobody listened ---------------------------------------
NOW = datetime(2026, 11, 21, 9, 5, tzinfo=timezone.utc)


def test_an_expired_timer_is_reported_finished_once_then_gone(tmp_path: Path) -> None:
    store = Store(tmp_path / "va.db")
    store.migrate("clock", MIGRATIONS)
    now = [NOW]
    clock = ClockSkill(store, "UTC", now=lambda: now[0])

    def say(text: str) -> str:
        return clock.handle(Request(text)).spoken

    assert say("set a pasta timer for 5 minutes") == "Pasta timer set for 5 minutes."
    assert say("set a tea timer for 20 minutes") == "Tea timer set for 20 minutes."
    now[0] = NOW + timedelta(minutes=5, seconds=1)
    assert say("list my timers") == (
        "Your pasta timer finished at 9:10 AM. You have a tea timer with 15 minutes left."
    )
    assert say("list my timers") == "You have a tea timer with 15 minutes left."
    assert [t.label for t in TimerStore(store).pending()] == ["tea"]
    store.close()


def test_with_the_timer_service_running_an_expired_timer_is_left_to_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "va.db")
    store.migrate("clock", MIGRATIONS)
    heard: list[str] = []
    clock = ClockSkill(store, "UTC", announce=heard.append)
    TimerStore(store).add("timer", "pasta", datetime.now(timezone.utc) - timedelta(seconds=1), 60)
    (service,) = clock.services()
    service.start()
    try:
        assert clock.handle(Request("list my timers")).spoken == "You have no timers."
        assert len(heard) == 1 and heard[0].startswith("While I was off, your pasta timer")
    finally:
        service.stop()
        store.close()


def test_one_shot_asks_report_an_expired_timer_once(tmp_path: Path) -> None:
    path = tmp_path / "va.db"
    db = ("--profile", "speed", "--set", f"store.path={path}")
    ago = [datetime.now(timezone.utc) - timedelta(minutes=m) for m in (3, 2, 1)]
    with Store(path) as store:  # set by earlier asks, run out since
        store.migrate("clock", MIGRATIONS)
        for label, due in zip(("pasta", "tea", "egg"), ago, strict=True):
            TimerStore(store).add("timer", label, due, 60.0)
        TimerStore(store).add("timer", "bread", ago[0] + timedelta(hours=1), 3600.0)
    at = [spoken_time(due.astimezone()) for due in ago]

    # --json: no timer service runs to announce them, so the timer command says it.
    listed = json.loads(cli("ask", "--json", "list my pasta timer", *db).stdout)["answer"]
    assert listed.startswith(
        f"Your pasta timer finished at {at[0]}. Your tea timer finished at {at[1]}. "
        f"Your egg timer finished at {at[2]}. You don't have a pasta timer. "
        "You have a bread timer with "
    )
    said = cli("ask", "list my timers", *db).stdout
    assert said.startswith("You have a bread timer with 57 minutes left.")

    with Store(path) as store:
        TimerStore(store).add("timer", "rice", ago[2], 60.0)
    said = cli("ask", "what is 2 plus 2", *db).stdout
    assert said == f"⏰ While I was off, your rice timer finished at {at[2]}.\n2 plus 2 is 4.\n"
    assert cli("ask", "what is 2 plus 2", *db).stdout == "2 plus 2 is 4.\n"


@pytest.mark.slow
def test_a_disk_filling_up_during_run_input_warns_once_and_answers_all(
    disk: SmallDisk, tmp_path: Path
) -> None:
    from audio_fixtures import espeak, layout, write_wav

    pieces = [espeak(t, tmp_path) for t in ("what is two plus two", "what is three plus three")]
    wav = write_wav(layout(pieces, [0.5, 1.5], tail_s=1.5).pcm, tmp_path / "cmds.wav")
    db = disk.root / "va.db"
    args = ["run", "--input", str(wav), "--json", "--profile", "speed"]
    # Made by an earlier session: opening it again writes nothing until a turn is stored.
    assert (
        cli("ask", "what is 1 plus 1", "--profile", "speed", "--set", f"store.path={db}").returncode
        == 0
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "voice_agent", *args, "--set", f"store.path={db}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not Path(f"{db}-wal").exists() and process.poll() is None:  # the store is open
        assert time.monotonic() < deadline
        time.sleep(0.01)
    disk.fill()
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    turns = [json.loads(line) for line in out.splitlines()]
    assert len(turns) >= 2 and turns[0]["answer"] == "2 plus 2 is 4."
    assert all(t["answer"] and t["error"] is None for t in turns), "every turn answered"
    (warning,) = [line for line in err.splitlines() if line.strip()]
    assert "disk full" in warning and "keep answering" in warning


def test_the_terminal_chat_goes_on_when_its_history_file_cannot_grow(disk: SmallDisk) -> None:
    """The line-editing history lives beside the database: a full disk must not end the chat
    when Enter is pressed."""
    import pty
    import select

    data = disk.root / "data"
    data.mkdir()
    line = b"# an earlier session\n"
    (data / "chat-history").write_bytes(line * (4096 // len(line)) + b"#" * (4096 % len(line)))
    env = {**os.environ, "VOICE_AGENT_DATA_DIR": str(data), "TERM": "xterm"}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the chat on a terminal
        os.execve(sys.executable, [sys.executable, "-m", "voice_agent", "chat", "-p", "speed"], env)
    seen = b""

    def until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            if select.select([terminal], [], [], 0.1)[0]:
                try:
                    seen += os.read(terminal, 65536)
                except OSError:  # the chat has ended
                    break

    try:
        until(b"you>")
        disk.fill()  # the history file is one whole page: the next line needs another
        os.write(terminal, b"what is 2 plus 2\r")
        until(b"2 plus 2 is 4.")
        until(b"keep answering")
        os.write(terminal, b"what is 3 plus 3\r")
        until(b"3 plus 3 is 6.")
        os.write(terminal, b"exit\r")
        until(b"bye")
    finally:
        for _ in range(100):  # up to 10 s to leave, else it is stopped
            ended, status = os.waitpid(pid, os.WNOHANG)
            if ended:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Unhandled exception" not in seen and b"No space left" not in seen


def test_ask_json_on_a_full_disk_answers_and_says_why_nothing_was_stored(disk: SmallDisk) -> None:
    db = ("--profile", "speed", "--set", f"store.path={disk.root / 'va.db'}")
    assert cli("ask", "what is 1 plus 1", *db).returncode == 0
    # An open store has its -wal and -shm files: only writing needs new space.
    with Store(disk.root / "va.db"):
        disk.fill()
        done = cli("ask", "--json", "what is 2 plus 2", *db)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "2 plus 2 is 4."
    (line,) = done.stderr.splitlines()
    assert "can't save" in line and "disk full" in line
