"""The typed chat: line editing and history, Ctrl+C that stops an answer, timers announced
between answers (never inside one)."""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.text import Text

from voice_agent.app import App
from voice_agent.events import Announcement, TurnFinished
from voice_agent.paths import data_home
from voice_agent.turn import Turn
from voice_agent.ui import ChatView

EXIT_WORDS = {"exit", "quit", "/bye", "/exit", "/quit", "bye"}
HINT = (
    'Try: "what is 15% of 80", "set a timer for 5 minutes", "weather in Paris", '
    '"what can you do". /verbose shows routing and timings; exit or Ctrl+D leaves.'
)


class Chat:
    def __init__(self, app: App, console: Console, verbose: bool = False) -> None:
        self.app = app
        self.console = console
        self.view = ChatView(console, {n: s.color for n, s in app.specs.items()}, verbose)
        self._pending: queue.Queue[str] = queue.Queue()
        self._answering = threading.Lock()
        app.announce = self._announce

    def _announce(self, message: str) -> None:
        """From the timer thread: print now if idle, else after the answer being streamed."""
        if self._answering.acquire(blocking=False):
            try:
                self.view(Announcement(message))
            finally:
                self._answering.release()
        else:
            self._pending.put(message)

    def run(self) -> None:
        read = _line_reader()
        self.console.print(Text(HINT, style="dim"))
        self.app.start_services()
        interrupted_at_prompt = False
        while True:
            try:
                text = read().strip()
            except EOFError:
                return
            except KeyboardInterrupt:
                if interrupted_at_prompt:
                    return  # a second Ctrl+C at the prompt quits
                interrupted_at_prompt = True
                self.console.print(Text("(Ctrl+C again, or exit, to quit)", style="dim"))
                continue
            interrupted_at_prompt = False
            if text.lower() in EXIT_WORDS:
                return
            if text.lower() == "/verbose":
                self.view.verbose = not self.view.verbose
                state = "on" if self.view.verbose else "off"
                self.console.print(Text(f"verbose {state}", style="dim"))
            elif text:
                self.say(text)

    def say(self, text: str) -> Turn | None:
        """Answer one line; Ctrl+C stops the answer, not the chat. The finished turn, or None
        when it was stopped."""
        finished = None
        with self._answering:
            events = self.app.turn(text)
            try:
                for event in events:
                    self.view(event)
                    if isinstance(event, TurnFinished):
                        finished = event.turn
            except KeyboardInterrupt:
                events.close()
                self.console.print(Text(" [stopped]", style="dim"))
        while not self._pending.empty():
            self.view(Announcement(self._pending.get_nowait()))
        return finished


def converse_json(app: App, requests: TextIO, out: TextIO) -> None:
    """One request per input line, one JSON turn record per output line: how scripts and
    tests hold a conversation. A line `/new [NAME]` starts a new conversation (named, it
    continues that one). Announcements (fired timers) come as {"announcement": ...}."""
    app.announce = lambda message: print(json.dumps({"announcement": message}), file=out)
    for line in requests:
        text = line.strip()
        if text.lower() in EXIT_WORDS:
            return
        if text.split(" ")[0] == "/new":
            app.orchestrator.reset(text[4:].strip() or None)
        elif text:
            print(json.dumps(app.ask(text).to_dict(), ensure_ascii=False), file=out, flush=True)


def _line_reader() -> Callable[[], str]:
    """prompt_toolkit on a terminal (arrow keys, history kept across sessions); plain input
    when stdin is a pipe."""
    if not sys.stdin.isatty():
        return lambda: input()
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    class KeptHistory(FileHistory):
        """A line the file cannot take (a full disk) is kept for this session only, rather
        than ending the chat."""

        def store_string(self, string: str) -> None:
            try:
                super().store_string(string)
            except OSError:
                pass

    try:
        data_home().mkdir(parents=True, exist_ok=True)
        history = KeptHistory(str(data_home() / "chat-history"))
    except OSError:
        history = InMemoryHistory()
    session = PromptSession(history=history)
    return lambda: session.prompt("you> ")
