"""One model, many clients: requests run one at a time, and only so many may wait.

Each model the server shares (speech recognition, the voice, the assistant) has a lane:
its own worker thread, so a blocking engine never stalls the event loop or another model,
and a bounded queue in front of it, so a crowd of clients is told "busy" at once instead
of waiting without end. A client that goes away while waiting gives its place up; one
that goes away while its request runs gets the request stopped where the work allows it,
and the next request starts when the model is really free.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """The lane's queue is full; the message says which model and how many wait."""


class Lane:
    def __init__(self, name: str, waiting: int) -> None:
        self.name = name
        self.waiting_limit = waiting
        self.waiting = 0
        self.running = False
        self._slot = asyncio.Semaphore(1)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"wyoming-{name.replace(' ', '-')}")

    async def run(self, work: Callable[[], T], stop: threading.Event | None = None) -> T:
        """`work()` on the lane's thread once the model is free; raises Busy when the queue
        is full. Cancelled (the client left), it sets `stop` so `work` can end early."""
        if self._slot.locked() and self.waiting >= self.waiting_limit:
            raise Busy(
                f"{self.name} is busy: {self.waiting} request(s) already waiting; try again shortly"
            )
        self.waiting += 1
        try:
            await self._slot.acquire()  # a cancelled wait leaves the queue here
        finally:
            self.waiting -= 1
        self.running = True
        future = asyncio.get_running_loop().run_in_executor(self._worker, work)
        # The thread cannot be interrupted: the slot is free when its work really ends.
        future.add_done_callback(self._release)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if stop is not None:
                stop.set()
            raise

    def _release(self, future: asyncio.Future) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: when the client left, nobody else will
        self.running = False
        self._slot.release()

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
