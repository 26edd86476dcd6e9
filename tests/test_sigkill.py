"""SIGKILL at random moments of `chat --json` and `run --input`: nothing said or saved is lost.

Each case runs the real CLI in a fresh process with its own store and files folder and kills
it at a seeded moment: after k turns were done (printed by the chat; stored, for a recording,
which prints only at its end), plus a random delay. Then, as a user restarting would find it:
the database passes `PRAGMA integrity_check`; every turn reported before the kill is stored,
whole; every stored turn's effects are there (each timer it set is still pending, or reported
as finished on restart; each fact it remembered is recalled; each note it wrote holds its
words); and no note in the folder is empty or cut.

The language model is a local fake Ollama streaming slowly enough to be killed mid-answer.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from audio_fixtures import layout, piper, write_wav
from fake_ollama import FakeOllama

from voice_agent.app import App, build
from voice_agent.config import load_settings

SEED = 20_251_130
CHAT_CASES = 12
RUN_CASES = 8  # 20 kills in all
MODEL = "llama3.2:1b"  # the speed profile's Ollama model
STARTED_WITHIN_S = 60  # a loaded 2-core machine starts the CLI and its models within this

CHAT = [
    "what is 25 times 7",
    "set a timer for 10 minutes",
    "make a note called trip saying pack the passport",
    "remember that the plumber comes on Thursday",
    "what is the capital of France",
    "add sunscreen to my trip note",
    "set a timer for 1 second",
    "remember that my passport is in the top drawer",
    "make a note called shopping saying buy milk",
    "convert 5 miles to kilometers",
    "tell me a fun fact about owls",
    "set a timer for 20 minutes",
]
# Every line the chat's notes can hold.
NOTE_LINES = {"pack the passport", "sunscreen", "buy milk"}
SPOKEN = [
    "what is twenty five times four",
    "set a timer for ten minutes",
    "remember that the plumber comes on Thursday",
    "make a note called trip saying passport",
    "what is the capital of France",
    "set a timer for two seconds",
]


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    # 0.05 s a word: an answer streams for about a third of a second, long enough to be cut.
    with FakeOllama(models=[MODEL], chunk_delay=0.05) as server:
        yield server


@pytest.fixture
def sets(ollama: FakeOllama, monkeypatch) -> list[str]:
    monkeypatch.setenv("OLLAMA_HOST", ollama.host)
    return ["llm.backend=ollama", "llm.warmup=false", "audio.barge_in=true"]


def case_settings(work: Path, sets: list[str]) -> list[str]:
    return [f"store.path={work / 'va.db'}", f"agents.files_root={work / 'files'}", *sets]


def start(args: list[str], settings: list[str], stdin: int | None = None) -> subprocess.Popen:
    for item in settings:
        args = [*args, "--set", item]
    return subprocess.Popen(
        [sys.executable, "-m", "voice_agent", *args, "--profile", "speed"],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


class Lines:
    """What a process prints, read on a thread so the pipe never fills; only whole lines."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:  # the last one may be cut short by the kill
            self.text += line

    def whole(self) -> list[str]:
        return self.text.split("\n")[:-1]

    def join(self) -> list[str]:
        self._thread.join(timeout=10)
        return self.whole()


def wait_for(done: Callable[[], bool], process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTED_WITHIN_S
    while not done() and process.poll() is None:
        assert time.monotonic() < deadline, "the CLI made no progress"
        time.sleep(0.005)


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stored_count(db: Path) -> int:
    """Turns stored so far, read as another program would while the CLI writes."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return conn.execute("SELECT count(*) FROM turns").fetchone()[0]
    except sqlite3.Error:  # not created yet, or its tables not yet made
        return 0


# -- what a restart finds -----------------------------------------------------------------------
def restart(settings: list[str]) -> tuple[App, list[str]]:
    """The assistant started again on the same store: what it announces at once, and it."""
    app = build(load_settings("speed", settings), overrides=tuple(settings))
    told: list[str] = []
    app.announce = told.append
    app.start_services()  # timers that came due while it was down are told now
    return app, told


def results(record: dict, agent: str) -> Iterator[dict]:
    for step in record["steps"]:
        if step["agent"] == agent and step["result"] and step["result"]["status"] == "done":
            yield step["result"]


def check_after_kill(work: Path, settings: list[str], reported: list[dict]) -> None:
    db = work / "va.db"
    timers = {}
    if db.exists():
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'timers'").fetchone():
                query = "SELECT id, fired_at, cancelled_at FROM timers"
                timers = {id: (fired, cancelled) for id, fired, cancelled in conn.execute(query)}
    else:
        assert not reported
    app, told = restart(settings)
    try:
        stored = {r["id"]: r for r in app.store.recent_turns(10**6)}
        for record in reported:
            assert stored.get(record["id"]) == record, f"reported but not stored: {record['text']}"
        assert all(r["answer"] for r in stored.values()), "a stored turn has no answer"
        check_notes(work / "files", stored.values())
        check_timers(app, told, stored.values(), timers)
        check_facts(app, stored.values())
    finally:
        app.close()


def check_notes(root: Path, stored) -> None:
    """A note a stored turn wrote holds its words; no note is cut, nor empty unless a stored
    turn asked for an empty one (a misheard "saying")."""
    asked_empty = set()
    for record in stored:
        for result in results(record, "files"):
            words = result["data"]["text"]
            lines = (root / result["value"]).read_text(encoding="utf-8").splitlines()
            assert words in lines or (not words and not lines)
            if not words:
                asked_empty.add(root / result["value"])
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith("."):  # hidden: a write not yet linked
            text = path.read_text(encoding="utf-8")
            assert text.endswith("\n") or path in asked_empty, f"{path.name} is cut: {text!r}"


def check_timers(app: App, told: list[str], stored, timers: dict[int, tuple]) -> None:
    """Every timer a stored turn set is still there: told before the kill (by a turn that
    found it overdue), else told on restart or listed as still running."""
    said = None
    for record in stored:
        for result in results(record, "time"):
            if result["data"].get("action") != "set":
                continue
            fired, cancelled = timers[result["value"]["timer_id"]]
            assert cancelled is None
            if fired is None:
                name = result["data"]["refer_as"].removeprefix("the ")  # "10 minute timer"
                said = said or " ".join([app.ask("list my timers").answer, *told])
                assert name in said


def check_facts(app: App, stored) -> None:
    remembered = {
        fact for record in stored for r in results(record, "memory") for fact in r["data"]["facts"]
    }
    if remembered:
        known = app.ask("what do you know about me").steps[0].result.data["facts"]
        assert remembered <= set(known)


# -- the cases --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", range(CHAT_CASES))
def test_sigkill_during_chat(case: int, tmp_path: Path, sets: list[str]) -> None:
    """Typed one line at a time, as a user would; killed while answering a random one (or
    starting up, for the first), a random few milliseconds in: a skill turn takes about 10."""
    rng = random.Random(SEED + case)
    victim, delay = rng.randrange(len(CHAT)), rng.uniform(0, 0.03)
    settings = case_settings(tmp_path / "case", sets)
    process = start(["chat", "--json"], settings, subprocess.PIPE)
    lines = Lines(process)
    for number, text in enumerate(CHAT[: victim + 1]):
        process.stdin.write(f"{text}\n")
        process.stdin.flush()
        if number < victim:
            wait_for(lambda: len(lines.whole()) > number, process)  # noqa: B023 - waited on here
    time.sleep(delay)
    kill(process)
    reported = [json.loads(line) for line in lines.join()]
    check_after_kill(tmp_path / "case", settings, reported)
    for note in (tmp_path / "case" / "files").rglob("*.txt"):
        assert set(note.read_text(encoding="utf-8").splitlines()) <= NOTE_LINES


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("speech")
    pieces = [piper(text, work) for text in SPOKEN]
    stream = layout(pieces, [0.5] + [1.2] * (len(SPOKEN) - 1), tail_s=1.0)
    return write_wav(stream.pcm, work / "commands.wav")


@pytest.mark.slow
@pytest.mark.parametrize("case", range(RUN_CASES))
def test_sigkill_during_run_input(case: int, tmp_path: Path, sets, recording: Path) -> None:
    rng = random.Random(SEED + CHAT_CASES + case)
    after, delay = rng.randrange(len(SPOKEN)), rng.uniform(0, 0.4)
    work = tmp_path / "case"
    settings = case_settings(work, sets)
    process = start(["run", "--input", str(recording), "--json"], settings, subprocess.DEVNULL)
    lines = Lines(process)
    wait_for(lambda: stored_count(work / "va.db") >= after, process)
    time.sleep(delay)
    kill(process)
    reported = [json.loads(line) for line in lines.join()]  # all of them, if it finished
    check_after_kill(work, settings, reported)
