"""The soak: thousands of turns in one process, a part failing every 50, and what time does to it.

`make soak` (`python -m benchmarks.soak`) asks one assistant 2,000 typed and 200 spoken
requests, in one process so that its memory means something: every agent (calculator, units,
time, timers set and cancelled, notes, memory, weather from the local stand-in for Open-Meteo,
limits, system), and questions for the language model about one turn in ten. Spoken requests
are synthesized once (the benchmarks' speech cache) and heard through `VoiceLoop.run_file`, as
`run --input` hears a recording.

Every `--fault-every` turns one part breaks, in the order of FAULTS: the language model raises
on its next call, the weather service goes down for a few turns, the voice fails on its next
sentence, another program holds the database's write lock for two turns, speech recognition
fails on its next utterance.

Printed against the targets (exit code 1 when one is missed):
- unhandled errors: exceptions that escaped a turn or killed a thread (a turn that ends with
  its error told, a handled TurnError, is what a fault should cause);
- lost turns: turns answered but not in the store, apart from those answered while the store
  was deliberately locked (counted on their own);
- RSS growth from turn 200 to the end;
- p95 latency drift: typed turns answered without the language model, the last 10% against
  the first 10%.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from benchmarks.e2e import write_wav
from benchmarks.open_meteo import OpenMeteoServer
from benchmarks.speech import cache_dir, speak
from voice_agent.app import App, build
from voice_agent.audio.capture import FileSource
from voice_agent.config import load_settings
from voice_agent.llm.base import LLMError
from voice_agent.turn import Turn
from voice_agent.voice_loop import VoiceLoop

MAX_UNHANDLED = 0
MAX_LOST = 0
MAX_RSS_GROWTH_MB = 50.0
MAX_DRIFT = 0.20
RSS_FROM_TURN = 200
FAULTS = ("llm", "weather", "tts", "store", "stt")
WEATHER_DOWN_TURNS = 5
STORE_LOCKED_TURNS = 2
VOICE = "piper"  # the clearest of the benchmark voices: the soak is about time, not hearing
STORED_IDS = "SELECT json_extract(record, '$.id') FROM turns"

# One round of typed requests, every agent; {n} counts rounds. Three of the thirty (10%) are
# for the language model; the pasta timer is set and cancelled, the fact told and forgotten,
# so that neither piles up.
TYPED = (
    "what is 25 times 7",
    "calculate a 15% tip on $45.50",
    "split 120 between 4",
    "square root of 169",
    "convert 5 miles to kilometers",
    "100 fahrenheit in celsius",
    "what time is it in Tokyo",
    "how many days until Christmas",
    "set a pasta timer for 8 minutes",
    "list my timers",
    "cancel the pasta timer",
    "what's 15% of 80 and set a timer for that many minutes",
    "make a note called idea {n} saying call the bank",
    "add bread to my groceries note",
    "read my groceries note",
    "find files named groceries",
    "remember that the plumber comes on Thursday",
    "when is the plumber coming?",
    "forget what I told you about the plumber",
    "what's the weather in London",
    "will it rain tomorrow in Paris",
    "do I need an umbrella in Berlin",
    "turn on the kitchen lights",
    "order a pizza",
    "what can you do",
    "what was my last question",
    "repeat that",
    "who wrote Hamlet",
    "what is the capital of France",
    "why is the sky blue",
)
SPOKEN = (
    "what is twenty five times four",
    "what time is it in Tokyo",
    "convert five miles to kilometers",
    "what's the weather in London",
    "list my timers",
    "read my groceries note",
    "what do you know about me",
    "turn on the kitchen lights",
    "what can you do",
    "who wrote Hamlet",
)


@dataclass(frozen=True)
class Request:
    text: str
    wav: Path | None = None  # spoken: the recording of `text`


def requests(typed: int, spoken: int, wavs: dict[str, Path]) -> Iterator[Request]:
    """`typed + spoken` requests, the spoken ones spread evenly among the typed."""
    total = typed + spoken
    said = itertools.cycle(SPOKEN)
    written = (text.format(n=n) for n in itertools.count(1) for text in TYPED)
    for i in range(total):
        if (i + 1) * spoken // total > i * spoken // total:
            text = next(said)
            yield Request(text, wavs[text])
        else:
            yield Request(next(written))


# -- faults -------------------------------------------------------------------------------------
class Injected(RuntimeError):
    """A part failing on purpose."""


class Breaker:
    """One method of a live part, made to raise `error` on its next call once armed."""

    def __init__(self, part: object, method: str, error: type[Exception], message: str) -> None:
        self.armed = False
        self.tripped = 0
        original = getattr(part, method)

        def call(*args, **kwargs):
            if self.armed:
                self.armed = False
                self.tripped += 1
                raise error(f"injected: {message}")
            return original(*args, **kwargs)

        setattr(part, method, call)


class Faults:
    """Breaks a part every `every` turns, in the order of FAULTS, and says which turns a fault
    touched."""

    def __init__(self, app: App, weather: OpenMeteoServer, every: int) -> None:
        self.every = every
        self.breakers = {
            "llm": Breaker(app.llm(), "stream_chat", LLMError, "the model crashed"),
            "tts": Breaker(app.tts, "synthesize", Injected, "the voice crashed"),
            "stt": Breaker(app.stt, "transcribe", Injected, "the speech model crashed"),
        }
        self.weather = weather
        # Another program's write transaction: each write waits out the busy timeout, then fails.
        self._lock = sqlite3.connect(app.store.path, isolation_level=None)
        self.injected: Counter[str] = Counter()
        self._weather_until = self._locked_until = 0
        self._tripped = 0

    def before(self, turn: int) -> None:
        if not self.every or not turn or turn % self.every:
            return
        kind = FAULTS[(turn // self.every - 1) % len(FAULTS)]
        self.injected[kind] += 1
        if kind in self.breakers:
            self.breakers[kind].armed = True
        elif kind == "weather":
            self.weather.refuse()
            self._weather_until = turn + WEATHER_DOWN_TURNS
        else:
            self._lock.execute("BEGIN IMMEDIATE")
            self._locked_until = turn + STORE_LOCKED_TURNS

    def after(self, turn: int) -> bool:
        """End the faults whose time is up; whether one touched this turn."""
        tripped = sum(b.tripped for b in self.breakers.values())
        touched = tripped > self._tripped or turn < max(self._weather_until, self._locked_until)
        self._tripped = tripped
        if turn + 1 == self._weather_until:
            self.weather.recover()
        if turn + 1 == self._locked_until:
            self._lock.execute("ROLLBACK")
        return touched

    def store_locked(self, turn: int) -> bool:
        return turn < self._locked_until

    def close(self) -> None:
        self._lock.close()


# -- the run ------------------------------------------------------------------------------------
@dataclass
class Tally:
    unhandled: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # turn ids
    answered_locked: list[str] = field(default_factory=list)  # ...while the store was locked
    skill_ms: list[float] = field(default_factory=list)  # typed, no LLM, no fault, in order
    errors_unfaulted: list[str] = field(default_factory=list)  # handled, but no fault caused it
    unheard: int = 0  # spoken requests not heard as exactly one turn
    announced: list[str] = field(default_factory=list)
    rss_from_mb: float = 0.0
    rss_from_turn: int = 0
    rss_mb: list[float] = field(default_factory=list)  # at every 5% of the turns

    def thread_died(self, crash: threading.ExceptHookArgs) -> None:
        name = crash.thread.name if crash.thread else "a thread"
        self.unhandled.append(f"{name}: {crash.exc_type.__name__}: {crash.exc_value}")


def soak(args: argparse.Namespace) -> dict:
    total = args.turns + args.spoken
    tally = Tally(rss_from_turn=min(RSS_FROM_TURN, total // 2))
    hook = threading.excepthook
    threading.excepthook = tally.thread_died
    with tempfile.TemporaryDirectory(prefix="va-soak-") as tmp, OpenMeteoServer() as weather:
        work = Path(tmp)
        wavs = {
            text: write_wav(speak(text, VOICE), work / f"{n}.wav") for n, text in enumerate(SPOKEN)
        }
        app = _assistant(args, work, weather)
        faults = Faults(app, weather, args.fault_every)
        started = time.perf_counter()
        try:
            _run(app, requests(args.turns, args.spoken, wavs), faults, tally, total)
            rss_end_mb = _rss_mb()
            stored = {id for (id,) in app.store.query(STORED_IDS)}
        finally:
            faults.close()
            app.close()
            threading.excepthook = hook
    figures = _figures(args, tally, stored, rss_end_mb, faults.injected)
    return {**figures, "seconds": round(time.perf_counter() - started)}


def _assistant(args: argparse.Namespace, work: Path, weather: OpenMeteoServer) -> App:
    """The profile's assistant on a store and notes folder of its own, warmed up, timers on."""
    notes = work / "files" / "notes"
    notes.mkdir(parents=True)
    (notes / "groceries.txt").write_text("milk\n", encoding="utf-8")
    overrides = (
        f"store.path={work / 'va.db'}",
        f"agents.files_root={work / 'files'}",
        *weather.settings,
        *args.set,
    )
    app = build(load_settings(args.profile, overrides), overrides=overrides)
    app.warmup(voice=True)
    app.start_services()
    return app


def _run(app: App, asked: Iterator[Request], faults: Faults, tally: Tally, total: int) -> None:
    loop = VoiceLoop(app)
    app.announce = tally.announced.append  # fired timers, turns that could not be saved
    started = time.perf_counter()
    for turn, request in enumerate(asked):
        faults.before(turn)
        turns = _answer(app, loop, request, tally)
        touched = faults.after(turn)
        _count(tally, request, turns, touched, faults.store_locked(turn))
        if turn + 1 == tally.rss_from_turn:
            tally.rss_from_mb = _rss_mb()
        if (turn + 1) % max(total // 20, 1) == 0:
            tally.rss_mb.append(_rss_mb())
            took = time.perf_counter() - started
            print(f"turn {turn + 1}/{total}, {took:.0f} s", file=sys.stderr, flush=True)


def _answer(app: App, loop: VoiceLoop, request: Request, tally: Tally) -> list[Turn]:
    try:
        if request.wav is None:
            return [app.ask(request.text)]
        # Silence after the words, so the endpointer closes the utterance (as run --input).
        tail_ms = app.settings.vad.end_silence_ms + 500
        frame_ms = app.settings.audio.frame_ms
        return loop.run_file(FileSource(request.wav, frame_ms, trailing_silence_ms=tail_ms))
    except Exception:  # noqa: BLE001 - what the soak is looking for
        tally.unhandled.append(f"{request.text!r}: {traceback.format_exc(limit=-3)}")
        return []


def _count(tally: Tally, request: Request, turns: list[Turn], touched: bool, locked: bool) -> None:
    (tally.answered_locked if locked else tally.answered).extend(t.id for t in turns)
    if request.wav is not None and len(turns) != 1:
        tally.unheard += 1
    for turn in turns:
        if turn.error is not None and not touched:
            tally.errors_unfaulted.append(f"{turn.text!r}: {turn.error.stage} {turn.error.code}")
    if request.wav is None and turns and not touched and turns[0].llm is None:
        if turns[0].error is None:
            tally.skill_ms.append(turns[0].timings["total_ms"])


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _figures(args, tally: Tally, stored: set[str], rss_end_mb: float, injected) -> dict:
    lost = [t for t in tally.answered if t not in stored]
    unsaved = [t for t in tally.answered_locked if t not in stored]
    tenth = max(len(tally.skill_ms) // 10, 1)
    first_ms = float(np.percentile(tally.skill_ms[:tenth], 95)) if tally.skill_ms else 0.0
    last_ms = float(np.percentile(tally.skill_ms[-tenth:], 95)) if tally.skill_ms else 0.0
    drift = last_ms / first_ms - 1 if first_ms else 0.0
    growth = rss_end_mb - tally.rss_from_mb
    checks = {
        "unhandled": len(tally.unhandled) <= MAX_UNHANDLED,
        "lost": len(lost) <= MAX_LOST,
        "rss_growth": growth < MAX_RSS_GROWTH_MB,
        "drift": drift <= MAX_DRIFT,
    }
    return {
        "profile": args.profile,
        "typed": args.turns,
        "spoken": args.spoken,
        "fault_every": args.fault_every,
        "faults": dict(injected),
        "unhandled": len(tally.unhandled),
        "unhandled_examples": tally.unhandled[:5],
        "answered": len(tally.answered) + len(tally.answered_locked),
        "lost": len(lost),
        "unsaved_while_locked": len(unsaved),
        "rss_from_turn": tally.rss_from_turn,
        "rss_from_mb": round(tally.rss_from_mb, 1),
        "rss_end_mb": round(rss_end_mb, 1),
        "rss_growth_mb": round(growth, 1),
        "rss_mb_every_5pc": [round(mb) for mb in tally.rss_mb],
        "skill_turns_timed": len(tally.skill_ms),
        "p95_first_ms": round(first_ms, 1),
        "p95_last_ms": round(last_ms, 1),
        "p95_drift": round(drift, 3),
        "errors_outside_faults": len(tally.errors_unfaulted),
        "errors_outside_faults_examples": tally.errors_unfaulted[:5],
        "spoken_not_one_turn": tally.unheard,
        "announced": len(tally.announced),
        "checks": checks,
        "passed": all(checks.values()),
    }


def report(f: dict) -> str:
    def verdict(name: str) -> str:
        return "ok" if f["checks"][name] else "MISSED"

    faults = ", ".join(f"{kind} {n}" for kind, n in f["faults"].items()) or "none"
    lines = [
        f"soak: {f['typed']} typed + {f['spoken']} spoken turns on {f['profile']} in "
        f"{f['seconds']:.0f} s; faults injected: {faults}",
        f"unhandled errors   {f['unhandled']:>8}      target {MAX_UNHANDLED}        "
        f"{verdict('unhandled')}",
        f"lost turns         {f['lost']:>8}      target {MAX_LOST}        {verdict('lost')}"
        f"   ({f['answered']} answered; {f['unsaved_while_locked']} not saved while the store "
        "was locked, as meant)",
        f"RSS growth         {f['rss_growth_mb']:>8.1f} MB   target < {MAX_RSS_GROWTH_MB:.0f} MB  "
        f"{verdict('rss_growth')}   (turn {f['rss_from_turn']}: {f['rss_from_mb']:.0f} MB, "
        f"end: {f['rss_end_mb']:.0f} MB; every 5% of the turns: "
        f"{' '.join(map(str, f['rss_mb_every_5pc']))})",
        f"p95 latency drift  {f['p95_drift']:>+8.0%}      target ≤ {MAX_DRIFT:.0%}    "
        f"{verdict('drift')}   (typed skill turns: first 10% {f['p95_first_ms']:.1f} ms, "
        f"last 10% {f['p95_last_ms']:.1f} ms, of {f['skill_turns_timed']})",
        f"turn errors outside the injected faults: {f['errors_outside_faults']}; "
        f"spoken requests not heard as one turn: {f['spoken_not_one_turn']}; "
        f"announcements: {f['announced']}; the assistant's log: {f['log']}",
    ]
    for example in f["unhandled_examples"] + f["errors_outside_faults_examples"]:
        lines.append(f"  {example}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000, help="typed turns")
    parser.add_argument("--spoken", type=int, default=200, help="spoken turns")
    parser.add_argument("--fault-every", type=int, default=50, help="turns between faults")
    parser.add_argument("--profile", default="speed")
    parser.add_argument("--set", action="append", default=[], help="a setting, as on the CLI")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--log", type=Path, default=cache_dir() / "soak.log", help="where the assistant logs"
    )
    args = parser.parse_args(argv)
    # The assistant's own log (each injected failure is logged with its traceback) goes to a
    # file, so the terminal shows progress and figures.
    args.log.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=args.log, filemode="w", level=logging.INFO, force=True)
    figures = {**soak(args), "log": str(args.log)}
    print(json.dumps(figures) if args.json else report(figures))
    sys.exit(0 if figures["passed"] else 1)


if __name__ == "__main__":
    main()
