"""Wyoming addresses: `tcp://host:port`, checked once so a typo is one clear line."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from voice_agent.errors import ConfigError

EXAMPLE = "tcp://127.0.0.1:10700"


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost") or self.host.startswith("127.")


def parse_uri(uri: str, what: str = "the Wyoming address") -> Address:
    """`tcp://host:port` -> Address; anything else raises ConfigError naming `what`."""
    text = (uri or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a port that is no number or out of range
        parts, port = None, None
    if parts is None or parts.scheme != "tcp" or not parts.hostname or port is None:
        raise ConfigError(f"{what}: expected tcp://HOST:PORT such as {EXAMPLE}, got {uri!r}")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise ConfigError(f"{what}: expected only tcp://HOST:PORT such as {EXAMPLE}, got {uri!r}")
    if port == 0:
        raise ConfigError(f"{what}: port 0 is not a port to use, got {uri!r}")
    return Address(parts.hostname, port)
