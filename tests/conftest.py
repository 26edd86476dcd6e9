"""Every test runs with its own data and config folders, never the user's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from pulse import PulseServer, PulseUnavailable, pulse_null_sink


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Store, logs, user profiles/agents and the files sandbox under tmp_path.

    The model cache (VOICE_AGENT_CACHE_DIR / ~/.cache/voice-agent) stays shared:
    it holds verified model files and exemplar embeddings that are safe to reuse.
    """
    for var in list(os.environ):
        if var.startswith("VOICE_AGENT_") and var != "VOICE_AGENT_CACHE_DIR":
            monkeypatch.delenv(var)
    monkeypatch.setenv("VOICE_AGENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICE_AGENT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("VOICE_AGENT_AGENTS__FILES_ROOT", str(tmp_path / "files"))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    return tmp_path


@pytest.fixture
def pulse() -> Iterator[PulseServer]:
    """Our own PulseAudio daemon with a null sink: real devices for pyaudio, no sound card."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(pulse_null_sink())
        except PulseUnavailable as exc:
            pytest.skip(f"no PulseAudio null sink to test pyaudio with: {exc}")
        yield server
