"""Profiles: the bundled three, overrides, the user folder and every error a user can make."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from voice_agent.agents.registry import load_agents
from voice_agent.agents.spec import load_agent_spec
from voice_agent.config import PROFILE_NAMES, available_profiles, load_settings
from voice_agent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_profiles_differ_the_way_users_expect():
    speed, balanced, quality = (load_settings(name) for name in PROFILE_NAMES)
    assert (speed.stt.model, speed.stt.compute_type, speed.stt.beam_size) == ("tiny.en", "int8", 1)
    assert speed.routing.strategy == "rules_only"
    # The 0.5B got too few facts right for any profile (benchmarks/facts.py).
    assert speed.llm.model == "qwen2.5-coder-1.5b" and speed.llm.ollama_model == "llama3.2:1b"
    assert speed.llm.max_sentences < balanced.llm.max_sentences
    assert speed.tts.engine == "pyttsx3" and speed.tts.rate > balanced.tts.rate
    assert speed.vad.aggressiveness == 3
    assert speed.llm.max_tokens < balanced.llm.max_tokens < quality.llm.max_tokens

    assert balanced.stt.model == "base" and balanced.routing.strategy == "hybrid"
    assert balanced.llm.model == "qwen2.5-coder-1.5b" and balanced.llm.ollama_model == "llama3.2:3b"

    assert (quality.stt.model, quality.stt.beam_size) == ("base", 5)
    assert quality.routing.strategy in ("hybrid", "embeddings_only")
    assert quality.routing.threshold > balanced.routing.threshold
    assert quality.llm.model == "qwen2.5-coder-1.5b" and quality.llm.ollama_model == "llama3.2:3b"
    assert quality.tts.engine == "piper"
    assert speed.vad.end_silence_ms < balanced.vad.end_silence_ms < quality.vad.end_silence_ms
    assert speed.vad.end_silence_ms == 300 and quality.vad.end_silence_ms == 700


def test_every_profile_key_is_commented_in_the_file():
    for name in PROFILE_NAMES:
        text = (ROOT / "profiles" / f"{name}.yaml").read_text()
        assert text.startswith(f"# {name}:"), (
            f"{name}.yaml starts with a comment saying what it is for"
        )


def test_profile_by_path_and_extends(tmp_path):
    custom = tmp_path / "mine.yaml"
    custom.write_text("extends: speed\nstt:\n  beam_size: 3\n")
    settings = load_settings(str(custom))
    assert settings.name == "mine" and settings.stt.beam_size == 3
    assert settings.stt.model == "tiny.en", "everything else comes from the extended profile"


def test_user_folder_adds_and_overrides_profiles(isolated_home):
    folder = isolated_home / "config" / "profiles"
    folder.mkdir(parents=True)
    (folder / "speed.yaml").write_text("stt:\n  model: base\n")
    (folder / "night.yaml").write_text("extends: balanced\ntts:\n  rate: 120\n")
    profiles = available_profiles()
    assert profiles["speed"] == folder / "speed.yaml"
    assert load_settings("speed").stt.model == "base"
    assert load_settings("night").tts.rate == 120


def test_environment_and_set_overrides_in_order(monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_STT__BEAM_SIZE", "4")
    assert load_settings("speed").stt.beam_size == 4
    assert load_settings("speed", ["stt.beam_size=2"]).stt.beam_size == 2, "--set beats env"
    settings = load_settings("speed", ["llm.backend=ollama", "routing.strategy=hybrid"])
    assert settings.llm.backend == "ollama" and settings.routing.strategy == "hybrid"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("stt:\n  beam_sise: 5\n", ["stt.beam_sise", "unknown key", "beam_size"]),
        ("stt:\n  beam_size: five\n", ["stt.beam_size", "valid integer", "'five'"]),
        ("llm:\n  backend: gpu\n", ["llm.backend", "'auto', 'ollama' or 'llamacpp'", "'gpu'"]),
        ("vad:\n  aggressiveness: 7\n", ["vad.aggressiveness", "less than or equal to 3"]),
        ("colour: blue\n", ["colour", "unknown key", "stt"]),
        ("stt: [1, 2\n", ["malformed YAML", "line"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        ("audio: 5\n", ["audio", "valid dictionary"]),
    ],
)
def test_bad_profile_names_file_key_and_expectation(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings(str(path))
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message
    assert "\n" not in message


def test_missing_profile_lists_the_available_ones():
    with pytest.raises(
        ConfigError, match=r"no profile named 'turbo' \(available: balanced, quality, speed"
    ):
        load_settings("turbo")
    with pytest.raises(ConfigError, match="profile file not found"):
        load_settings("/nonexistent/x.yaml")


def test_bad_overrides_name_their_source(monkeypatch):
    with pytest.raises(ConfigError, match=r"^--set stt.beam_size: expected a valid integer"):
        load_settings("speed", ["stt.beam_size=lots"])
    with pytest.raises(ConfigError, match=r"^--set stt=5: expected section.key=value|^--set stt"):
        load_settings("speed", ["stt"])
    monkeypatch.setenv("VOICE_AGENT_TTS__RATE", "fast")
    with pytest.raises(ConfigError, match=r"^VOICE_AGENT_TTS__RATE: expected a valid integer"):
        load_settings("speed")


def test_cli_config_error_is_one_line_and_exit_code_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("stt:\n  beam_size: many\n")
    result = subprocess.run(
        [sys.executable, "-m", "voice_agent", "ask", "hello", "--profile", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "stt.beam_size" in lines[0] and str(path) in lines[0]


def test_help_lists_commands_and_cli_imports_nothing_heavy():
    code = (
        "import sys, time; t = time.perf_counter();"
        "from voice_agent.cli import app;"
        "heavy = [m for m in ('torch', 'llama_cpp', 'pyaudio', 'faster_whisper',"
        " 'sentence_transformers', 'pint') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_run = subprocess.run(
        [sys.executable, "-m", "voice_agent", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("ask", "chat", "route", "profiles", "agents", "models", "doctor"):
        assert command in help_run.stdout


def test_agent_spec_errors_name_file_and_key(tmp_path):
    good = (ROOT / "agents" / "weather.yaml").read_text()
    few = tmp_path / "few.yaml"
    few.write_text("name: few\ndescription: x\nkind: skill\nskill: weather\nexamples: [a, b]\n")
    with pytest.raises(ConfigError, match=r"few.yaml: .*at least 20 'examples' \(has 2\)"):
        load_agent_spec(few)
    regex = tmp_path / "weather.yaml"
    regex.write_text(good.replace(r"'\b(weather|", r"'\b((weather|", 1))
    with pytest.raises(
        ConfigError, match=r"weather.yaml: rules.0.pattern: .*valid regular expression"
    ):
        load_agent_spec(regex)
    extra = tmp_path / "extra.yaml"
    extra.write_text(good.replace("kind: skill", "kind: skill\ncolour: red", 1))
    with pytest.raises(
        ConfigError, match=r"extra.yaml: colour: unknown key \(expected one of: name"
    ):
        load_agent_spec(extra)


def test_user_agents_folder_adds_an_agent(isolated_home):
    folder = isolated_home / "config" / "agents"
    folder.mkdir(parents=True)
    examples = "\n".join(f"  - tell me about recipe number {i}" for i in range(20))
    (folder / "recipes.yaml").write_text(
        "name: recipes\ndescription: suggest recipes\nkind: llm\n"
        "rules:\n  - pattern: '\\brecipes?\\b'\n"
        f"examples:\n{examples}\nsystem_prompt: You suggest recipes.\n"
    )
    specs = load_agents()
    assert "recipes" in specs and specs["recipes"].rules[0].regex.search("a recipe for soup")
    bundled = len(list(Path(__file__).resolve().parent.parent.joinpath("agents").glob("*.yaml")))
    assert len(specs) == bundled + 1


def test_installed_wheel_finds_profiles_and_agents_from_another_directory(tmp_path):
    """A non-editable install ships profiles/ and agents/ inside the package."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("voice_agent-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "voice_agent/bundled/profiles/speed.yaml" in names
    assert "voice_agent/bundled/agents/general.yaml" in names
    for package in (ROOT / "voice_agent").rglob("__init__.py"):
        relative = package.relative_to(ROOT).as_posix()
        assert relative in names, f"{relative} is missing from the wheel (pyproject packages)"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "from voice_agent.config import load_settings; from voice_agent.agents.registry import "
        "load_agents; s = load_settings('quality'); print(s.source, len(load_agents()))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(site / "voice_agent" / "bundled" / "profiles" / "quality.yaml") in out.stdout
    bundled = len(list(Path(__file__).resolve().parent.parent.joinpath("agents").glob("*.yaml")))
    assert out.stdout.strip().endswith(f" {bundled}"), "every bundled agent ships in the wheel"
