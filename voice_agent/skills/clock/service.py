"""The timer service: a background thread that announces timers, alarms and reminders when
they are due, and on start the ones that came due while the assistant was off."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import tzinfo

from voice_agent.events import ANNOUNCING
from voice_agent.skills.clock.reminders import reminder_message
from voice_agent.skills.clock.timers import Timer, TimerStore, finished_phrase, timer_name
from voice_agent.skills.clock.times import Clock, spoken_time, utc_now

log = logging.getLogger(__name__)

# The service re-reads the store at least this often: it sleeps on a monotonic clock,
# while due times are wall-clock times that can jump (suspend, NTP).
MAX_SLEEP_S = 60.0


class TimerService:
    """A daemon thread that announces timers and alarms when they are due.

    It sleeps until the soonest pending timer; `wake()` makes it look again at
    once (the clock skill calls it whenever a timer is set or cancelled). A timer
    is marked fired after it was announced, so a crash in between repeats the
    announcement rather than losing it.
    """

    def __init__(
        self,
        timers: TimerStore,
        announce: Callable[[str], None],
        zone: tzinfo,
        now: Clock = utc_now,
    ) -> None:
        self._timers = timers
        self._announce = announce
        self._zone = zone
        self._clock = now
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Announce what came due while we were off, then run."""
        if self._thread is not None:
            return
        now = self._clock()
        for timer in self._timers.pending():
            if timer.due_at <= now:
                self._fire(timer, self._missed_message(timer))
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="timer-service", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                try:
                    due = self._due_or_sleep()
                except Exception:  # a store hiccup must not end the service for good
                    log.exception("reading timers failed")
                    self._cond.wait(MAX_SLEEP_S)
                    continue
            for timer in due:
                self._fire(timer, self._due_message(timer))

    def _due_or_sleep(self) -> list[Timer]:
        """Timers due now; if none, sleep (lock released) until the next one or a wake()."""
        pending = self._timers.pending()
        now = self._clock()
        due = [t for t in pending if t.due_at <= now]
        if not due:
            delay = (pending[0].due_at - now).total_seconds() if pending else MAX_SLEEP_S
            self._cond.wait(min(delay, MAX_SLEEP_S))
        return due

    def _fire(self, timer: Timer, message: str) -> None:
        about = ANNOUNCING.set(f"timer:{timer.id}")
        try:
            self._announce(message)
        except Exception:
            log.exception("announcing a timer failed")
        finally:
            ANNOUNCING.reset(about)
        self._timers.mark_fired(timer.id)

    def _due_message(self, timer: Timer) -> str:
        if timer.kind == "reminder":
            return reminder_message(timer.label)
        if timer.kind == "alarm":
            due = timer.due_at.astimezone(self._zone)
            return f"It's {spoken_time(due)}: your {timer_name(timer)}."
        return f"Your {timer_name(timer)} is done."

    def _missed_message(self, timer: Timer) -> str:
        return f"While I was off, {finished_phrase(timer, self._zone, self._clock())}."
