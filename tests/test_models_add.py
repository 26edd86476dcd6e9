"""Bring your own LLM: `models add` registers a GGUF file; hub names download once."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from stages import cli

from voice_agent import models
from voice_agent.config import LlmConfig
from voice_agent.errors import ModelMissingError, UserError
from voice_agent.paths import cache_home

HUB_NAME = "Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf"
CONTENT = b"GGUF" + bytes(range(256)) * 40


@pytest.fixture(autouse=True)
def new_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user whose home is brand new: no ~/.local/share/voice-agent yet."""
    monkeypatch.setenv("VOICE_AGENT_CACHE_DIR", str(cache_home()))  # verified models stay shared
    monkeypatch.delenv("VOICE_AGENT_DATA_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # empty: nothing downloaded
    return tmp_path / "home"


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "My-Model.Q4.gguf"
    path.write_bytes(CONTENT)
    return path


def change_a_byte(path: Path) -> None:
    """Same size, other content, a later mtime: as a re-download over the file would leave it."""
    with path.open("r+b") as f:
        f.seek(100)
        f.write(b"\xff")
    mtime = path.stat().st_mtime_ns
    os.utime(path, ns=(mtime, mtime + 1_000_000_000))


def test_add_registers_the_file_in_a_new_home(gguf: Path, new_home: Path) -> None:
    done = cli("models", "add", gguf.name, cwd=gguf.parent)  # a relative path
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert "Registered LLM my-model.q4" in done.stdout
    assert "--set llm.model=my-model.q4" in done.stdout
    (entry,) = json.loads((new_home / ".local/share/voice-agent/models.json").read_text())["llm"]
    assert entry["name"] == "my-model.q4" and entry["path"] == str(gguf)
    assert entry["size"] == len(CONTENT)
    assert entry["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert entry["added"]
    assert models.resolve("llm", "my-model.q4") == gguf
    assert models.status("llm", "my-model.q4").detail.endswith("size and mtime unchanged since")


def test_models_lists_registered_models_with_their_check(gguf: Path) -> None:
    models.add(gguf, "mine")
    gone = gguf.with_name("gone.gguf")
    gone.write_bytes(CONTENT)
    models.add(gone)
    gone.unlink()
    done = cli("models", "--profile", "speed")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if str(gguf.parent) in line}
    assert str(gguf) in rows["mine"] and rows["mine"].rstrip().endswith("unchanged since")
    assert "is gone" in rows["gone"]


def test_adding_the_same_path_again_updates_its_entry(gguf: Path) -> None:
    models.add(gguf)
    change_a_byte(gguf)
    renamed = models.add(gguf, "mine")
    assert list(models.registered()) == ["mine"]
    assert renamed.sha256 == hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert models.resolve("llm", "mine") == gguf


@pytest.mark.parametrize("what", ["not gguf", "missing", "folder"])
def test_a_path_that_is_no_gguf_file_is_one_line_and_exit_2(tmp_path: Path, what: str) -> None:
    path = tmp_path / "model.gguf"
    if what == "not gguf":
        path.write_bytes(b"<html>404 Not Found</html>")
    elif what == "folder":
        path.mkdir()
    done = cli("models", "add", str(path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert str(path) in done.stderr and "Traceback" not in done.stderr
    assert models.registered() == {}


def test_a_built_in_name_is_refused(gguf: Path) -> None:
    done = cli("models", "add", str(gguf), "--name", "qwen2.5-coder-0.5b")
    assert done.returncode == 2 and "built-in" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert models.registered() == {}


def test_a_name_taken_by_another_file_is_refused(gguf: Path) -> None:
    models.add(gguf, "mine")
    other = gguf.with_name("other.gguf")
    other.write_bytes(CONTENT)
    with pytest.raises(UserError, match="already the name of"):
        models.add(other, "mine")
    gguf.unlink()  # the name's file is gone: the name is free again
    assert models.add(other, "mine").path == other


def test_a_changed_file_is_reported_by_status_and_doctor(gguf: Path) -> None:
    models.add(gguf, "mine")
    unused = gguf.with_name("unused.gguf")
    unused.write_bytes(CONTENT)
    models.add(unused)
    unused.write_bytes(CONTENT + b"more")
    change_a_byte(gguf)
    st = models.status("llm", "mine")
    assert not st.present and "changed since it was registered" in st.detail
    assert "sha256" in st.detail and "models add" in st.detail
    with pytest.raises(models.ChecksumError):
        models.resolve("llm", "mine")
    assert "bytes, was" in models.status("llm", "unused").detail  # no hash needed
    done = cli("doctor", "-p", "speed", "--set", "llm.backend=llamacpp", "--set", "llm.model=mine")
    lines = done.stdout.splitlines()
    (used,) = [line for line in lines if "llm model mine" in line]
    assert "FAIL" in used and "changed since it was registered" in used
    (other,) = [line for line in lines if "your llm unused" in line]
    assert "warn" in other and "changed since it was registered" in other


def test_only_a_new_size_or_mtime_costs_a_hash(gguf: Path, monkeypatch) -> None:
    models.add(gguf, "mine")
    hashed: list[Path] = []
    real = models._sha256
    monkeypatch.setattr(
        models, "_sha256", lambda path, advance: hashed.append(path) or real(path, advance)
    )
    models.resolve("llm", "mine")
    assert hashed == []
    mtime = gguf.stat().st_mtime_ns
    os.utime(gguf, ns=(mtime, mtime + 1_000_000_000))  # touched, same content
    assert models.resolve("llm", "mine") == gguf and hashed == [gguf]
    assert models.resolve("llm", "mine") == gguf and hashed == [gguf]  # the new mtime is kept


def test_a_damaged_registry_is_one_clear_error(new_home: Path) -> None:
    registry = models.registry_file()
    registry.parent.mkdir(parents=True)
    registry.write_text("{not json")
    with pytest.raises(UserError, match="models.json: damaged list of registered models"):
        models.resolve("llm", "mine")


# Hugging Face `org/repo/file.gguf` names.


@pytest.mark.parametrize(
    "name,expected",
    [
        (HUB_NAME, ("Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf")),
        ("org/repo/q4/model.gguf", ("org/repo", "q4/model.gguf")),
        ("models/foo.gguf", None),  # one slash: a path
        ("/opt/models/org/foo.gguf", None),
        ("./org/repo/foo.gguf", None),
        ("../org/repo/foo.gguf", None),
        ("~/org/repo/foo.gguf", None),
        ("my models/repo/foo.gguf", None),  # not a repo id
        ("org//repo/foo.gguf", None),
        ("org/repo/foo.bin", None),
        ("qwen2.5-coder-0.5b", None),
    ],
)
def test_hub_gguf_names(name: str, expected: tuple[str, str] | None) -> None:
    assert models.hub_gguf(name) == expected


def test_an_existing_relative_path_stays_a_local_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = Path("org/repo/foo.gguf")
    local.parent.mkdir(parents=True)
    local.write_bytes(CONTENT)
    assert models.resolve("llm", str(local)) == local


def test_a_hub_name_not_downloaded_yet_is_left_to_the_loader() -> None:
    assert models.resolve("llm", HUB_NAME) == HUB_NAME
    st = models.status("llm", HUB_NAME)
    assert not st.present and "needs internet once" in st.detail and "models add" in st.detail


def test_a_hub_name_once_downloaded_resolves_offline(tmp_path: Path) -> None:
    repo, filename = models.hub_gguf(HUB_NAME)
    cached = tmp_path / "hub" / f"models--{repo.replace('/', '--')}"
    (cached / "refs").mkdir(parents=True)
    (cached / "refs" / "main").write_text("0123abcd")
    (cached / "snapshots" / "0123abcd").mkdir(parents=True)
    (cached / "snapshots" / "0123abcd" / filename).write_bytes(CONTENT)
    assert models.resolve("llm", HUB_NAME) == cached / "snapshots" / "0123abcd" / filename


def test_a_failed_download_is_one_model_missing_line(monkeypatch) -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from voice_agent.llm.llamacpp_backend import LlamaCppLLM

    calls: list[dict] = []

    def offline(cls, **kwargs):
        calls.append(kwargs)
        raise ConnectionError("Cannot reach https://huggingface.co/api/models/Qwen: offline\nmore")

    monkeypatch.setattr(llama_cpp.Llama, "from_pretrained", classmethod(offline))
    llm = LlamaCppLLM(LlmConfig(model=HUB_NAME, num_ctx=512, threads=1))
    assert llm.model_name == "qwen2.5-1.5b-instruct-q4_k_m"
    with pytest.raises(ModelMissingError) as err:
        llm.warmup()
    message = str(err.value)
    assert "needs internet" in message and "voice-agent models add PATH" in message
    assert "Cannot reach" in message and "\n" not in message
    (call,) = calls
    assert call["repo_id"] == "Qwen/Qwen2.5-1.5B-Instruct-GGUF"
    assert call["filename"] == "qwen2.5-1.5b-instruct-q4_k_m.gguf"
    assert (call["n_ctx"], call["n_threads"], call["verbose"]) == (512, 1, False)


def test_hashing_a_big_file_shows_progress(gguf: Path, monkeypatch) -> None:
    from io import StringIO

    from rich.console import Console

    monkeypatch.setattr(models, "_SHOW_HASHING_FROM", 0)
    shown = StringIO()
    model = models.add(gguf, console=Console(file=shown, force_terminal=True))
    assert model.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert "sha256 My-Model.Q4.gguf" in shown.getvalue()
