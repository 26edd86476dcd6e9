"""Talking to a Wyoming server: its address, a connection per request, Describe → Info.

The engines here block (the voice loop calls them from its threads) and the `wyoming`
library is asyncio, so each engine owns one `EventLoop`, a loop on a daemon thread, and
opens one connection per request inside it; the connection is closed when the request
ends, fails or is cancelled. `wyoming` is imported only when a server is used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from voice_agent.errors import PartFailure

if TYPE_CHECKING:
    from wyoming.client import AsyncClient
    from wyoming.event import Event, Eventable
    from wyoming.info import Info

T = TypeVar("T")

# A server on the local network accepts a connection in milliseconds; one that does not
# within this is down, whatever stt/tts.timeout_s allows for its replies.
CONNECT_TIMEOUT_S = 3.0
_EXPECTED = "a Wyoming server address such as tcp://192.168.1.20:10300 or unix:///run/wyoming.sock"


def check_uri(uri: str) -> str:
    """`uri` when the `wyoming` client can connect to it; ValueError saying what is expected."""
    try:
        from wyoming.client import AsyncClient
    except ImportError:
        raise ValueError("the wyoming package installed: run `make install`") from None
    if urlparse(uri).scheme == "stdio":
        raise ValueError(_EXPECTED)
    try:
        AsyncClient.from_uri(uri)
    except ValueError:
        raise ValueError(f"{_EXPECTED} (tcp:// needs a host and a port)") from None
    return uri


def where(uri: str) -> str:
    """The address as people say it: host:port, or the socket's path."""
    parsed = urlparse(uri)
    return parsed.netloc if parsed.scheme == "tcp" else parsed.path


class ServerError(PartFailure):
    """A Wyoming server did not serve a request; `apology` says so in one sentence."""

    verb = "failed"

    def __init__(self, role: str, uri: str, reason: str, consequence: str = "") -> None:
        super().__init__(f"the {role} at {uri} {self.verb}: {reason}")
        self.role, self.uri, self.reason, self.consequence = role, uri, reason, consequence

    @property
    def apology(self) -> str:
        said = f"Sorry, the {self.role} at {where(self.uri)} {self.verb}"
        return f"{said}, {self.consequence}." if self.consequence else f"{said}."


class ServerDown(ServerError):
    """It could not be reached: nothing was sent, so another engine can take the request."""

    verb = "isn't answering"


class ServerLost(ServerError):
    """It failed after the request began: it closed the connection, went silent or said Error."""

    verb = "stopped answering"


class EventLoop:
    """An asyncio loop on its own daemon thread, for blocking callers."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.submit(coro).result()

    def call(self, function: Any, *args: Any) -> None:
        """Run a plain function on the loop's thread (asyncio objects are not thread-safe)."""
        self._loop.call_soon_threadsafe(function, *args)

    def close(self) -> None:
        """Cancel what still runs (closing its connections), then stop the thread."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            with suppress(concurrent.futures.TimeoutError):
                self.submit(_cancel_others()).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Connection:
    """One open connection: events out, events in; a server that fails raises ServerLost."""

    def __init__(self, client: AsyncClient, role: str, uri: str, consequence: str) -> None:
        self._client = client
        self._failure = (role, uri)
        self._consequence = consequence

    async def send(self, *events: Eventable) -> None:
        for event in events:
            await self._client.write_event(event.event())

    async def receive(self) -> Event:
        """The next event; ServerLost when the connection ends or the server says Error."""
        from wyoming.error import Error

        event = await self._client.read_event()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # wyoming's client reads through asyncio.wait_for, which on Python 3.11 may swallow
            # a cancellation that meets a read completing (CPython gh-86296): a barge-in then
            # let a Wyoming reply's request run on to its end (1.3-1.8 s in 3 of 5 test runs).
            raise asyncio.CancelledError
        if event is None:
            raise self.lost("it closed the connection")
        if Error.is_type(event.type):
            raise self.lost(f"it said: {Error.from_event(event).text}")
        return event

    async def receive_until(self, *kinds: type[Eventable]) -> Event:
        """Skip events until one of `kinds` arrives."""
        while True:
            event = await self.receive()
            if any(kind.is_type(event.type) for kind in kinds):
                return event

    def lost(self, reason: str) -> ServerLost:
        return ServerLost(*self._failure, reason, self._consequence)


@asynccontextmanager
async def connected(
    uri: str, role: str, timeout_s: float, consequence: str = ""
) -> AsyncIterator[Connection]:
    """A connection for one request, closed however the request ends.

    Failing to connect is ServerDown; a broken connection or a reply slower than
    `timeout_s` during the request is ServerLost.
    """
    from wyoming.client import AsyncClient

    client = AsyncClient.from_uri(uri, connect_timeout=CONNECT_TIMEOUT_S, read_timeout=timeout_s)
    try:
        await client.connect()
    except (OSError, asyncio.TimeoutError) as exc:
        raise ServerDown(role, uri, _reason(exc, CONNECT_TIMEOUT_S), consequence) from None
    connection = Connection(client, role, uri, consequence)
    try:
        yield connection
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
        raise connection.lost(_reason(exc, timeout_s)) from None
    finally:
        with suppress(OSError):  # a connection the server broke may fail to close cleanly
            await client.disconnect()


def _reason(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"no reply within {timeout_s:g} s"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "it closed the connection mid-event"
    if isinstance(exc, OSError) and exc.errno:  # "connection refused", not asyncio's wording
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


async def describe(uri: str, role: str, timeout_s: float) -> tuple[Info, float]:
    """The server's Info, and the Describe → Info round trip in ms (connecting excluded)."""
    from wyoming.info import Describe, Info

    async with connected(uri, role, timeout_s) as connection:
        start = time.perf_counter()
        await connection.send(Describe())
        event = await connection.receive_until(Info)
        return Info.from_event(event), (time.perf_counter() - start) * 1000


def summarize(info: Info, wanted: str | None = None) -> list[str]:
    """One line per program the server offers: name, version, its models or voices (the
    `wanted` one first), whether they are installed, and their languages."""
    lines = []
    kinds = {"asr": "models", "tts": "voices", "wake": "models", "handle": "models"}
    for kind, field in kinds.items():
        for program in getattr(info, kind):
            items = sorted(getattr(program, field), key=lambda item: item.name != wanted)
            shown = [_artifact(item) for item in items[:3]]
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            version = f" {program.version}" if program.version else ""
            streaming = (
                " (streaming)" if getattr(program, "supports_synthesize_streaming", 0) else ""
            )
            offers = f"{field} {', '.join(shown)}{more}" if items else f"no {field}"
            lines.append(f"{kind}: {program.name}{version}{streaming}, {offers}")
    return lines


def _artifact(item: Any) -> str:
    languages = list(getattr(item, "languages", None) or ())
    said = ", ".join(languages[:3]) + (f" +{len(languages) - 3}" if len(languages) > 3 else "")
    installed = "installed" if item.installed else "not installed"
    return f"{item.name} ({installed}{'; ' + said if said else ''})"


def probe(uri: str, role: str, timeout_s: float) -> tuple[Info | None, str]:
    """Describe the server once (from a thread with no event loop running): its Info and
    'N ms round trip', or None and why it could not be asked."""
    try:
        info, round_trip_ms = asyncio.run(describe(uri, role, timeout_s))
    except ServerError as exc:
        return None, exc.reason
    return info, f"{round_trip_ms:.0f} ms round trip"
