"""Where voice-agent finds its bundled data and keeps the user's files."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
# The environment variables that move the folders below (they are not settings).
DIRECTORY_VARIABLES = ("VOICE_AGENT_CONFIG_DIR", "VOICE_AGENT_DATA_DIR", "VOICE_AGENT_CACHE_DIR")


def bundled_dir(kind: str) -> Path:
    """The shipped `profiles/` or `agents/` folder.

    In an installed wheel they live in `voice_agent/bundled/`; in a source
    checkout (editable install, tests) they are the top-level folders.
    """
    for candidate in (_PACKAGE_DIR / "bundled" / kind, _PACKAGE_DIR.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"voice-agent is installed without its {kind}/ folder")


def config_home() -> Path:
    """User folder whose `profiles/` and `agents/` add to or override the bundled ones."""
    if env := os.environ.get("VOICE_AGENT_CONFIG_DIR"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "voice-agent"


def data_home() -> Path:
    """Conversation store, timers and the default files sandbox."""
    if env := os.environ.get("VOICE_AGENT_DATA_DIR"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "voice-agent"


def cache_home() -> Path:
    """Assembled model files and embedding caches: safe to delete, rebuilt on demand."""
    if env := os.environ.get("VOICE_AGENT_CACHE_DIR"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "voice-agent"
