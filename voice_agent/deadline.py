"""A deadline for a blocking call whose own timeouts leave a gap.

httpx bounds connecting and reading, but not the name lookup (getaddrinfo) before
them: a resolver that never answers would hold a turn far past its timeout. The
call runs in a daemon thread and is abandoned if it overruns; it then finishes on
its own and never delays exit.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Added to a call's own timeout, so that its own (more precise) timeout errors win the race.
GRACE_S = 0.25


def call_within(seconds: float, fn: Callable[[], T]) -> T:
    """fn()'s result or exception; TimeoutError if it has not returned within `seconds`."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as it is
            future.set_exception(exc)

    threading.Thread(target=run, name=f"deadline:{fn.__qualname__}", daemon=True).start()
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        if future.done():  # fn's own TimeoutError
            raise
        # Python 3.10's futures TimeoutError is not the builtin one.
        raise TimeoutError(f"no answer within {seconds:g} s") from None
