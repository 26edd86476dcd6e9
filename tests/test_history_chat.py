"""The stored turns (`history`, `stats`, retention) and the typed chat, as a user runs them."""

from __future__ import annotations

import _thread
import json
import threading
from datetime import datetime, timedelta, timezone

from rich.console import Console
from stages import ScriptedLLM, cli

from voice_agent.app import build
from voice_agent.chat import Chat
from voice_agent.config import load_settings


def test_history_and_stats_read_the_stored_turns(tmp_path):
    db = f"store.path={tmp_path / 'va.db'}"
    for text in ("what is 2 plus 2", "what is 3 times 3", "what can you do"):
        assert cli("ask", text, "--profile", "speed", "--set", db).returncode == 0
    done = cli("history", "--json", "--set", db, "--limit", "2")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in records] == ["what is 3 times 3", "what can you do"]
    assert records[0]["answer"].endswith("9.") and records[0]["steps"][0]["result"]["value"] == 9
    shown = cli("history", "--set", db).stdout
    assert "what is 2 plus 2" in shown and "utility" in shown
    summary = json.loads(cli("stats", "--json", "--set", db).stdout)
    assert summary["turns"] == 3 and summary["agents"] == {"utility": 2, "system": 1}
    assert summary["errors"] == {} and summary["median_ms"]["typed"]["total_ms"] > 0
    purged = cli("history", "--purge", "--set", db)
    assert "Deleted 3 stored turns" in purged.stdout
    assert cli("history", "--json", "--set", db).stdout == ""


def test_keep_days_forgets_old_turns(tmp_path):
    settings = load_settings("speed", [f"store.path={tmp_path / 'db'}"])
    app = build(settings)
    old = datetime.now(timezone.utc) - timedelta(days=40)
    app.store.add_turn({"text": "old", "answer": "x", "ts": old.isoformat()})
    app.ask("what is 2 plus 2")
    app.close()
    kept = load_settings("speed", [f"store.path={tmp_path / 'db'}", "store.keep_days=30"])
    app = build(kept)
    assert [t["text"] for t in app.store.recent_turns(10)] == ["what is 2 plus 2"]
    app.close()


def test_chat_leaves_on_exit_and_toggles_verbose(tmp_path):
    done = cli(
        "chat",
        "--profile",
        "speed",
        "--set",
        f"store.path={tmp_path / 'db'}",
        "--set",
        "llm.warmup=false",
        stdin="what is 2 plus 2\n/verbose\nwhat is 3 plus 3\nexit\nwhat is 4 plus 4\n",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "2 plus 2 is 4" in out and "3 plus 3 is 6" in out and "4 plus 4" not in out
    before, after = out.split("verbose on")
    assert "route" not in before and "[utility" in after and "total" in after
    assert "Try:" in out, "a hint of example requests at start"


def test_typed_requests_are_not_understood_rather_than_not_caught(tmp_path):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    answer = app.ask("set a timer").answer
    app.close()
    assert "catch" not in answer


class CueLLM(ScriptedLLM):
    """A scripted LLM that runs `cue` once it has said `at` words: an event mid-answer."""

    def __init__(self, reply: str, at: int, cue) -> None:
        super().__init__(reply, delay_s=0.01)
        self.at, self.cue = at, cue

    def stream_chat(self, messages, **options):
        for i, piece in enumerate(super().stream_chat(messages, **options)):
            if i == self.at:
                self.cue()
            yield piece


def chat_with(tmp_path, llm: ScriptedLLM) -> tuple[Chat, Console]:
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    app._llm = llm
    console = Console(record=True, width=200)
    return Chat(app, console), console


def test_a_timer_firing_mid_answer_is_announced_after_it(tmp_path):
    def timer_fires():  # from the timer service's own thread, as it does
        thread = threading.Thread(target=chat.app.announce, args=("Your pasta timer is done.",))
        thread.start()
        thread.join()

    chat, console = chat_with(tmp_path, CueLLM("one two three four five six", 2, timer_fires))
    chat.say("tell me a story")
    chat.app.close()
    text = console.export_text()
    assert "one two three four five six\n⏰ Your pasta timer is done." in text


def test_ctrl_c_stops_the_answer_not_the_chat(tmp_path):
    words = " ".join(f"Word{i}." for i in range(200))  # shown sentence by sentence
    chat, console = chat_with(tmp_path, CueLLM(words, 20, _thread.interrupt_main))
    chat.say("tell me a long story")
    chat.say("what is 2 plus 2")
    stored = chat.app.store.recent_turns(2)
    chat.app.close()
    text = console.export_text()
    assert "[stopped]" in text and "Word199" not in text and "2 plus 2 is 4." in text
    assert stored[0]["interrupted"] is True and stored[0]["answer"].startswith("Word0.")
