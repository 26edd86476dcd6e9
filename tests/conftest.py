"""Every test runs with its own data and config folders, never the user's."""

from __future__ import annotations

import os

import pytest


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
