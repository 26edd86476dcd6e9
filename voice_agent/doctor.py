"""`voice-agent doctor`: every dependency, model, backend and device — ok, or the exact fix."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from voice_agent import models
from voice_agent.config import Settings
from voice_agent.errors import ConfigError, UserError

INSTALL_FIX = "run `make install`"


@dataclass
class Check:
    name: str
    level: str  # ok | warn | fail
    detail: str


def _package(module: str, purpose: str, required: bool, fix: str = INSTALL_FIX) -> Check:
    if importlib.util.find_spec(module) is not None:
        return Check(f"python package {module}", "ok", purpose)
    return Check(
        f"python package {module}", "fail" if required else "warn", f"missing ({purpose}): {fix}"
    )


def _packages(settings: Settings) -> Iterator[Check]:
    embeddings = settings.routing.strategy != "rules_only"
    yield _package("faster_whisper", "speech to text", settings.stt.local_engine is not None)
    yield _package("webrtcvad", "end-of-turn detection", True)
    yield _package(
        "pyaudio",
        "microphone and speaker",
        False,
        "install Debian portaudio19-dev, then `make install`",
    )
    yield _package("pyttsx3", "text to speech", settings.tts.local_engine == "pyttsx3")
    yield _package(
        "piper",
        "Piper voice",
        settings.tts.local_engine == "piper",
        "`.venv/bin/pip install -e '.[piper]'`",
    )
    yield _package(
        "wyoming",
        "remote speech servers",
        "wyoming" in (settings.stt.engine, settings.tts.engine),
        "`.venv/bin/pip install -e '.[wyoming]'`",
    )
    yield _package("sentence_transformers", "embedding routing", embeddings)
    yield _package("llama_cpp", "embedded LLM", settings.llm.backend != "ollama")
    yield _package("ollama", "Ollama client", settings.llm.backend == "ollama")


def _espeak() -> Check:
    import ctypes.util

    if shutil.which("espeak-ng") or ctypes.util.find_library("espeak-ng"):
        return Check("espeak-ng", "ok", "voice for pyttsx3")
    return Check(
        "espeak-ng", "fail", "missing: `sudo apt-get install espeak-ng` (or `make install` as root)"
    )


def _models(settings: Settings) -> Iterator[Check]:
    for kind, name in models.needed_by(settings):
        st = models.status(kind, name)
        label = f"{kind} model {name}"
        if not st.present:
            yield Check(label, "fail", st.detail)
            continue
        try:
            if not _hashed(kind, name):
                _try_loading(kind, settings, st.path)
        except UserError as exc:
            yield Check(label, "fail", str(exc))
        else:
            yield Check(label, "ok", st.detail)


def _hashed(kind: str, name: str) -> bool:
    """Bundled and registered models are checked against their sha256 by `status`; the
    user's own folders and files have none, so only loading them shows they are whole."""
    return name in models.known(kind) or (kind == "llm" and name in models.registered())


def _try_loading(kind: str, settings: Settings, path: Path) -> None:
    """Load the model as the assistant would (the LLM's vocabulary only); raise UserError
    saying what is wrong."""
    if kind == "stt":
        from voice_agent.stt import WhisperSTT

        WhisperSTT(settings.stt).load()
    elif kind == "llm":
        from voice_agent.llm.llamacpp_backend import check_gguf

        check_gguf(path)
    elif kind == "embeddings":
        from voice_agent.routing.embeddings import load_sentence_transformer

        load_sentence_transformer(settings.routing.embedding_model)


def _added_models(settings: Settings) -> Iterator[Check]:
    """The user's own LLMs: a broken one only warns unless this profile loads it (above)."""
    needed = models.needed_by(settings)
    for name in models.registered():
        if ("llm", name) not in needed:
            st = models.status("llm", name)
            yield Check(f"your llm {name}", "ok" if st.present else "warn", st.detail)


def _ollama(settings: Settings) -> Check:
    if settings.llm.backend == "llamacpp":
        return Check("Ollama", "ok", "not used (llm.backend is llamacpp)")
    from voice_agent.llm.ollama_backend import OllamaLLM

    try:
        llm = OllamaLLM(settings.llm)
    except ConfigError as exc:  # a malformed address
        ok, reason = False, str(exc)
    else:
        try:
            ok, reason = llm.available(timeout=1.0)
        finally:
            llm.close()
    if ok:
        return Check("Ollama", "ok", reason)
    if settings.llm.backend == "ollama":
        return Check("Ollama", "fail", reason)
    return Check("Ollama", "warn", f"{reason}; the embedded model answers instead")


def _speech_servers(settings: Settings) -> Iterator[Check]:
    """Each Wyoming server the profile uses: what its Info offers, and how fast it answers."""
    for key, config, kind in (("stt", settings.stt, "asr"), ("tts", settings.tts, "tts")):
        if config.engine != "wyoming" or importlib.util.find_spec("wyoming") is None:
            continue
        from voice_agent.wyoming.client import probe, summarize

        label = f"{key} server {config.uri}"
        info, said = probe(config.uri, f"{key} server", config.timeout_s)
        if info is None:
            meanwhile = f"; {config.fallback} answers meanwhile" if config.fallback else ""
            fix = f"start the server, or point {key}.uri at a running one{meanwhile}"
            yield Check(label, "fail", f"not answering ({said}): {fix}")
            continue
        offered = "; ".join(summarize(info, config.voice if key == "tts" else None))
        if not getattr(info, kind):
            yield Check(label, "fail", f"offers no {kind} ({offered or 'nothing'}): fix {key}.uri")
            continue
        voices = [voice.name for program in info.tts for voice in program.voices]
        if key == "tts" and config.voice and config.voice not in voices:
            yield Check(label, "fail", f"has no voice {config.voice!r}: fix tts.voice ({offered})")
            continue
        yield Check(label, "ok", f"{offered}; {said}")


def _audio() -> Iterator[Check]:
    if importlib.util.find_spec("pyaudio") is None:
        return
    from voice_agent.audio.devices import list_devices

    found = list_devices()
    inputs = [d.name for d in found if d.is_input]
    outputs = [d.name for d in found if d.is_output]
    no_mic = "none: `make run` falls back to text chat; plug in a microphone or start PulseAudio"
    yield Check("audio input", "ok" if inputs else "warn", ", ".join(inputs[:3]) or no_mic)
    yield Check("audio output", "ok" if outputs else "warn", ", ".join(outputs[:3]) or "none")


def _writable(label: str, folder: Path) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Check(label, "fail", f"{folder}: {exc.strerror}; set another path in the profile")
    if os.access(folder, os.W_OK):
        return Check(label, "ok", str(folder))
    return Check(label, "fail", f"{folder} is not writable; set another path in the profile")


def run_checks(settings: Settings) -> Iterator[Check]:
    version = sys.version_info
    yield Check("python", "ok" if version >= (3, 10) else "fail", sys.version.split()[0])
    yield Check("profile", "ok", f"{settings.name} ({settings.source})")
    yield from _packages(settings)
    if settings.tts.local_engine == "pyttsx3":
        yield _espeak()
    yield from _speech_servers(settings)
    yield from _models(settings)
    yield from _added_models(settings)
    yield _ollama(settings)
    yield from _audio()
    yield _writable("conversation store", settings.store.path.parent)
    yield _writable("files sandbox", settings.agents.files_root)
