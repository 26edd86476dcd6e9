"""`voice-agent serve`: the assistant's ears, voice and brain over the Wyoming protocol.

Home Assistant (the Wyoming integration) and satellites connect over TCP; every client
shares one loaded assistant (shared.py), each model behind its own bounded queue. Timers a
client sets are told to that client when they go off. Ctrl+C or SIGTERM stop it cleanly:
connections are closed, the zeroconf announcement withdrawn, the models released.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING

from wyoming.info import Info
from wyoming.server import AsyncTcpServer

from voice_agent.errors import UserError
from voice_agent.events import ANNOUNCING
from voice_agent.wyoming.address import parse_uri
from voice_agent.wyoming.connection import Connection
from voice_agent.wyoming.service_info import server_info
from voice_agent.wyoming.shared import SharedAssistant
from voice_agent.wyoming.wake_stream import ServedWake, served_wake

if TYPE_CHECKING:
    from voice_agent.app import App

log = logging.getLogger(__name__)

TIMER_OWNERS_KEPT = 1000  # timers remembered with the client that set them


class ServeError(UserError):
    """The server cannot start where it was asked to (the port is taken): not a config typo."""

    exit_code = 1


class WyomingServer:
    def __init__(self, app: App, say: Callable[[str], None] = print) -> None:
        self.app = app
        self.settings = app.settings
        self.say = say
        self.address = parse_uri(self.settings.serve.uri, "serve.uri")
        self.assistant = SharedAssistant(app, self.settings.serve.queue)
        self.max_audio_bytes = int(self.settings.serve.max_audio_s * 16000 * 2)
        self._connections: set[Connection] = set()
        self._owners: dict[int, str] = {}  # timer id -> the client that set it
        self.wake: ServedWake | None = None  # once its models are checked at start
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def wake_words(self) -> list[str]:
        return self.wake.words if self.wake is not None else []

    def info(self) -> Info:
        # Built on each Describe: a profile switch asked by a client changes the models.
        self.settings = self.app.settings
        return server_info(self.settings, self.wake_words)

    # -- clients ------------------------------------------------------------------------------
    def connected(self, connection: Connection) -> None:
        self._connections.add(connection)
        log.info("client %s connected", connection.address)

    def disconnected(self, connection: Connection) -> None:
        self._connections.discard(connection)
        log.info("client %s left", connection.client)

    def timers_set(self, client: str, timer_ids: list[int]) -> None:
        for timer_id in timer_ids:
            self._owners[timer_id] = client
        while len(self._owners) > TIMER_OWNERS_KEPT:
            del self._owners[next(iter(self._owners))]

    def _announce(self, message: str) -> None:
        """The app's announcements (from the timer service's thread): a timer goes to the
        client that set it, while connected; anything else is printed here."""
        about = ANNOUNCING.get() or ""
        timer_id = int(about.removeprefix("timer:")) if about.startswith("timer:") else None
        owner = self._owners.pop(timer_id, None) if timer_id is not None else None
        if owner is None or self._loop is None:
            self.say(f"announcement: {message}")
            return
        self._loop.call_soon_threadsafe(self._tell, owner, timer_id, message)

    def _tell(self, owner: str, timer_id: int, message: str) -> None:
        listeners = [c for c in self._connections if c.client == owner]
        if not listeners:
            self.say(f"announcement for {owner}, who is not connected: {message}")
        for connection in listeners:
            connection.announce(timer_id, message)

    # -- life cycle ---------------------------------------------------------------------------
    async def run(self, zeroconf: str | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, stop.set)
        server = AsyncTcpServer(self.address.host, self.address.port)
        try:
            await server.start(partial(Connection, self))
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ServeError(f"cannot listen on {self.address.uri}: {reason}") from None
        lan = None
        try:
            # Listening first: a port that is taken is told at once, not after loading models.
            self.say(f"loading the {self.settings.name} profile's models…")
            await asyncio.to_thread(self.app.warmup, voice=True)
            self.wake = await asyncio.to_thread(served_wake, self.settings, self.say)
            lan = await _announce_on_lan(zeroconf, self.address.host, self.address.port, self.say)
            self.app.announce = self._announce
            self.app.start_services()
            self.say(
                f"serving Wyoming on {self.address.uri} "
                f"({_offer(self.settings, self.wake_words)}); Ctrl+C stops"
            )
            if not self.address.loopback:
                self.say(
                    "warning: Wyoming has no authentication: anyone who can reach this port can "
                    "use the assistant (see README: exposing the server safely)"
                )
            await stop.wait()
        finally:
            self.say("stopping")
            if lan is not None:
                await lan()
            await server.stop()
            self.assistant.close()
            if self.wake is not None:
                await asyncio.to_thread(self.wake.close)
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._loop.remove_signal_handler(sig)


def serve(app: App, zeroconf: str | None = None, say: Callable[[str], None] = print) -> None:
    """Listen, load the profile's models, then serve until Ctrl+C or SIGTERM."""
    asyncio.run(WyomingServer(app, say).run(zeroconf))


def _offer(settings, wake_words: list[str]) -> str:
    wake = f"wake {', '.join(wake_words)}, " if wake_words else ""
    return f"asr Whisper {settings.stt.model}, tts {settings.tts.engine}, {wake}handle; " + (
        f"up to {settings.serve.queue} waiting per model"
    )


async def _announce_on_lan(name: str | None, host: str, port: int, say: Callable[[str], None]):
    """Announce `_wyoming._tcp` over mDNS as the Wyoming servers do, so Home Assistant
    discovers the server; returns the coroutine function that withdraws it."""
    if not name:
        return None
    try:
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
    except ImportError:
        raise UserError(
            "--zeroconf needs the zeroconf package: pip install 'voice-agent[wyoming]'"
        ) from None
    import socket

    if host in ("0.0.0.0", "::", ""):
        host = _lan_address()
    elif host.startswith("127."):
        say(f"warning: announcing {host}: only Home Assistant on this machine can reach it")
    service = AsyncServiceInfo(
        "_wyoming._tcp.local.",
        f"{name}._wyoming._tcp.local.",
        addresses=[socket.inet_aton(socket.gethostbyname(host))],
        port=port,
    )
    zeroconf = AsyncZeroconf()
    await zeroconf.async_register_service(service)
    say(f"announced on the network as {name} (zeroconf, {host}:{port})")

    async def withdraw() -> None:
        with suppress(Exception):
            await zeroconf.async_unregister_service(service)
        await zeroconf.async_close()

    return withdraw


def _lan_address() -> str:
    """This machine's address on the network that carries multicast (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("224.0.0.251", 5353))
        return probe.getsockname()[0]
