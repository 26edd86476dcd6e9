"""The soak (`make soak`, benchmarks/soak.py) on a short run, so that the script cannot rot:
every kind of fault is injected and handled, no turn is lost, and its exit code follows its
targets. The language model is a local fake Ollama."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_ollama import FakeOllama

REPO = Path(__file__).resolve().parents[1]
MODEL = "llama3.2:1b"  # the speed profile's Ollama model

pytestmark = pytest.mark.slow  # Whisper and the voice, for the spoken turns


def test_a_short_soak_injects_every_fault_and_loses_nothing(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "soak.log"
    args = ["--turns", "60", "--spoken", "4", "--fault-every", "10", "--json", "--log", str(log)]
    with FakeOllama(models=[MODEL]) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.host)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.soak", *args, "--set", "llm.backend=ollama"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
    figures = json.loads(done.stdout)
    assert figures["faults"] == {"llm": 2, "weather": 1, "tts": 1, "store": 1, "stt": 1}
    assert figures["unhandled"] == 0, figures["unhandled_examples"]
    assert figures["errors_outside_faults"] == 0, figures["errors_outside_faults_examples"]
    assert figures["answered"] >= 60 and figures["lost"] == 0
    assert figures["unsaved_while_locked"] == 2  # the two turns asked while the store was locked
    assert figures["rss_from_turn"] == 32 and figures["skill_turns_timed"] > 30
    assert done.returncode == (0 if figures["passed"] else 1), done.stderr[-2000:]
    logged = log.read_text(encoding="utf-8")
    for failure in ("the model crashed", "the voice crashed", "the speech model crashed"):
        assert f"injected: {failure}" in logged
    assert "database is locked" in logged and "weather service unreachable" in logged
