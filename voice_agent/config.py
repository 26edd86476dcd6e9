"""Settings: one pydantic model per pipeline stage, loaded from a YAML profile.

Precedence, strongest first: `--set section.key=value` overrides, environment
variables (`VOICE_AGENT_STT__BEAM_SIZE=5`), the profile file, the defaults here.
Every validation error is reported as one line naming where the bad value came
from (file, environment variable or --set), the key, and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from voice_agent.errors import ConfigError
from voice_agent.paths import bundled_dir, config_home, data_home

ENV_PREFIX = "VOICE_AGENT_"
PROFILE_NAMES = ("speed", "balanced", "quality")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AudioConfig(Section):
    sample_rate: Literal[16000] = 16000
    frame_ms: Literal[10, 20, 30] = 20
    input_device: int | str | None = None
    output_device: int | str | None = None
    queue_frames: int = Field(500, ge=10, description="bounded capture queue, in frames")
    barge_in: bool = False
    post_tts_cooldown_ms: int = Field(300, ge=0)


class VadConfig(Section):
    aggressiveness: int = Field(2, ge=0, le=3)
    pre_roll_ms: int = Field(300, ge=0)
    min_speech_ms: int = Field(250, ge=0)
    end_silence_ms: int = Field(500, ge=100)
    max_utterance_s: float = Field(15.0, gt=0)


class SttConfig(Section):
    model: str = Field("base", description="tiny.en, base, small, a local directory or a hub name")
    compute_type: str = "int8"
    beam_size: int = Field(1, ge=1, le=10)
    best_of: int = Field(1, ge=1, le=10)
    temperature: float = Field(0.0, ge=0, le=1)
    language: str | None = "en"
    cpu_threads: int = Field(2, ge=1)
    vocabulary_prompt: bool = Field(True, description="prime Whisper with the agents' vocabulary")


class LlmConfig(Section):
    backend: Literal["auto", "ollama", "llamacpp"] = "auto"
    model: str = Field(
        "qwen2.5-coder-0.5b",
        description="embedded GGUF: a known or registered name, a path, or hub org/repo/file.gguf",
    )
    ollama_model: str = "llama3.2:3b"
    ollama_host: str | None = Field(None, description="defaults to $OLLAMA_HOST, then localhost")
    keep_alive: str = "30m"
    temperature: float = Field(0.3, ge=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    num_ctx: int = Field(2048, ge=256)
    max_tokens: int = Field(160, ge=8)
    max_sentences: int = Field(
        3, ge=1, description="sentences in a spoken answer, unless the user asks for more"
    )
    threads: int = Field(2, ge=1)
    warmup: bool = True
    timeout_s: float = Field(60.0, gt=0)


class TtsConfig(Section):
    engine: Literal["pyttsx3", "piper"] = "pyttsx3"
    rate: int = Field(175, ge=50, le=500, description="words per minute (pyttsx3)")
    voice: str | None = None
    piper_voice: str = "en_US-joe-medium"
    length_scale: float = Field(1.0, gt=0, le=3, description="Piper speaking pace; <1 is faster")
    variation: float = Field(
        1.0, ge=0, le=2, description="Piper's sampling noise; 0 says a text the same way each time"
    )


class RoutingConfig(Section):
    strategy: Literal["rules_only", "embeddings_only", "hybrid"] = "hybrid"
    embedding_model: str = "all-MiniLM-L6-v2"
    top_k: int = Field(3, ge=1, le=10)
    threshold: float = Field(0.40, ge=0, le=1, description="default per-agent embedding threshold")
    threshold_boost: float = Field(0.0, ge=-0.5, le=0.5, description="added to every threshold")
    margin: float = Field(0.02, ge=0, le=1, description="lead the best agent needs over the next")
    rule_confidence: float = Field(0.8, ge=0, le=1, description="a rule this sure answers at once")
    fallback_agent: str = "general"
    plan_with_llm: bool = Field(
        True, description="ask the LLM how to split a compound request the rules cannot"
    )


class AgentsConfig(Section):
    enabled: list[str] | None = Field(None, description="agent names; null means all")
    history_turns: int = Field(6, ge=0, le=50)
    files_root: Path = Field(default_factory=lambda: Path.home() / "VoiceAgent")
    timezone: str | None = Field(None, description="IANA name; null means the system's")
    weather_timeout_s: float = Field(4.0, gt=0, le=30)
    temperature_unit: Literal["celsius", "fahrenheit"] = "celsius"
    skill_config: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per agent: overrides its YAML's skill_config"
    )


class StoreConfig(Section):
    path: Path = Field(default_factory=lambda: data_home() / "voice-agent.db")
    keep_days: int | None = Field(
        None, ge=1, description="forget turns older than this; null keeps"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    name: str = "custom"
    description: str = ""
    audio: AudioConfig = Field(default_factory=AudioConfig)
    vad: VadConfig = Field(default_factory=VadConfig)
    stt: SttConfig = Field(default_factory=SttConfig)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    tts: TtsConfig = Field(default_factory=TtsConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)

    # Where this came from, for messages and `profiles show`.
    source: Path | None = Field(None, exclude=True)


def available_profiles() -> dict[str, Path]:
    """Profile name -> file; the user's folder overrides bundled files of the same name."""
    found: dict[str, Path] = {}
    for folder in (bundled_dir("profiles"), config_home() / "profiles"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = path
    return found


def resolve_profile(profile: str | Path) -> Path:
    text = str(profile)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: profile file not found")
        return path
    profiles = available_profiles()
    if text not in profiles:
        raise ConfigError(
            f"no profile named '{text}' (available: {', '.join(sorted(profiles))}; "
            "or pass a path to a .yaml file)"
        )
    return profiles[text]


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping; errors name the file and line."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML: {problem}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def _load_profile_data(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    data = read_yaml_mapping(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    base_path = resolve_profile(base)
    if base_path.resolve() in seen:
        raise ConfigError(f"{path}: extends: profiles extend each other in a loop")
    return deep_merge(_load_profile_data(base_path, (*seen, path.resolve())), data)


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_overrides(overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """`["stt.beam_size=5", "llm.backend=ollama"]` -> nested dict; values parsed as YAML scalars."""
    result: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item}: expected section.key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item}: '{part}' is both a value and a section")
        node[parts[-1]] = value
    return result


def _env_data() -> dict[str, Any]:
    return EnvSettingsSource(Settings, env_prefix=ENV_PREFIX, env_nested_delimiter="__")()


def _has_key(data: dict[str, Any], loc: tuple) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def describe_validation_error(err: dict[str, Any], model: type[BaseModel]) -> str:
    """One pydantic error as 'what was expected': used for profiles and agent specs alike."""
    if err["type"] == "extra_forbidden":
        fields = _fields_at(model, tuple(err["loc"][:-1]))
        return f"unknown key (expected one of: {', '.join(fields)})"
    if err["type"] == "missing":
        return "required key is missing"
    expected = err["msg"]
    for prefix in ("Input should be ", "Value error, ", "Value should be "):
        if expected.startswith(prefix):
            expected = expected[len(prefix) :]
    return f"expected {expected}, got {err['input']!r}"


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)]
        candidates = [annotation, *inner]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return [name for name in model.model_fields if name != "source"]


def load_settings(profile: str | Path = "balanced", overrides: list[str] | tuple = ()) -> Settings:
    """Load a profile by name or path, then apply environment and --set overrides."""
    path = resolve_profile(profile)
    file_data = _load_profile_data(path)
    env_data = _env_data()
    set_data = parse_overrides(list(overrides))
    merged = deep_merge(deep_merge(file_data, env_data), set_data)
    merged.setdefault("name", path.stem)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if _has_key(set_data, loc):
            where = f"--set {key}"
        elif _has_key(env_data, loc):
            where = ENV_PREFIX + "__".join(str(p).upper() for p in loc)
        else:
            where = f"{path}: {key}"
        raise ConfigError(f"{where}: {describe_validation_error(err, Settings)}") from None
    settings.source = path
    return settings
