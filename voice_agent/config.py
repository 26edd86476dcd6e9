"""Settings: one pydantic model per pipeline stage, loaded from a YAML profile.

Precedence, strongest first: `--set section.key=value` overrides, environment
variables (`VOICE_AGENT_STT__BEAM_SIZE=5`), the profile file, the defaults here.
Every validation error is reported as one line naming where the bad value came
from (file, environment variable or --set), the key, and what was expected.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from voice_agent.errors import ConfigError, ConfigWarning
from voice_agent.paths import DIRECTORY_VARIABLES, bundled_dir, config_home, data_home

ENV_PREFIX = "VOICE_AGENT_"
PROFILE_NAMES = ("speed", "balanced", "quality")
# Both spellings load; in one folder a .yaml wins over a .yml of the same name.
YAML_SUFFIXES = (".yaml", ".yml")


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
    echo_cancellation: bool = Field(
        True, description="take the assistant's own voice out of the microphone (open speakers)"
    )
    backchannel_max_ms: int = Field(
        1500,
        ge=0,
        description="barge-in: speech over a reply this short, only acknowledgements "
        "('mm-hm', 'okay', 'I see'), lets it go on; 0: any words stop it",
    )


class VadConfig(Section):
    aggressiveness: int = Field(2, ge=0, le=3)
    pre_roll_ms: int = Field(300, ge=0)
    min_speech_ms: int = Field(250, ge=0)
    end_silence_ms: int = Field(500, ge=100, description="ends a turn when semantic_turn is off")
    max_utterance_s: float = Field(15.0, gt=0)
    semantic_turn: bool = Field(True, description="ask turn_model whether the words are finished")
    turn_model: str = Field("smart-turn-v3.2", description="a known name or a .onnx path")
    speculate_ms: int = Field(
        80,
        ge=20,
        description="silence before the turn so far is transcribed, routed and judged "
        "(at the latest at turn_check_ms)",
    )
    turn_check_ms: int = Field(
        200, ge=20, description="silence before a finished-sounding turn may end"
    )
    turn_max_silence_ms: int = Field(1500, ge=100, description="ends an unfinished-sounding turn")
    turn_threshold: float = Field(0.5, gt=0, lt=1, description="probability that counts finished")
    turn_unsure_logprob: float = Field(
        -0.8,
        lt=0,
        description="Whisper's mean log-probability below which the words heard in a pause "
        "are too unsure to end the turn",
    )

    @model_validator(mode="after")
    def _check_before_max(self) -> VadConfig:
        if self.turn_check_ms >= self.turn_max_silence_ms:
            raise ValueError(
                f"turn_check_ms ({self.turn_check_ms}) must be below turn_max_silence_ms "
                f"({self.turn_max_silence_ms})"
            )
        return self


def _server_address(value: Any, info: ValidationInfo) -> str | None:
    """A Wyoming server's address: checked when given, required when the engine is wyoming."""
    if value is None or not str(value).strip():
        if info.data.get("engine") == "wyoming":
            raise ValueError(
                "a Wyoming server address such as tcp://192.168.1.20:10300 (engine is wyoming)"
            )
        return None
    from voice_agent.wyoming.client import check_uri

    return check_uri(str(value))


ServerUri = Annotated[str | None, BeforeValidator(_server_address)]


class SttConfig(Section):
    engine: Literal["faster-whisper", "wyoming"] = Field(
        "faster-whisper", description="faster-whisper here, or the Wyoming server at uri"
    )
    uri: ServerUri = Field(None, validate_default=True, description="tcp://host:port (wyoming)")
    fallback: Literal["faster-whisper"] | None = Field(
        None, description="transcribes here while the Wyoming server is down"
    )
    timeout_s: float = Field(10.0, gt=0, description="Wyoming: the longest wait for a reply")
    model: str = Field("base", description="tiny.en, base, small, a local directory or a hub name")
    compute_type: str = "int8"
    beam_size: int = Field(1, ge=1, le=10)
    best_of: int = Field(1, ge=1, le=10)
    temperature: float = Field(0.0, ge=0, le=1)
    language: str | None = "en"
    cpu_threads: int = Field(2, ge=1)
    vocabulary_prompt: bool = Field(True, description="prime Whisper with the agents' vocabulary")
    window_s: float = Field(
        30.0,
        ge=5,
        le=30,
        description="audio the encoder reads per utterance (at least the speech plus "
        "silence); Whisper's own is 30 s, shorter is faster",
    )
    speculative: bool = Field(
        True, description="transcribe during the pause that may end a turn, before it does"
    )

    @property
    def local_engine(self) -> str | None:
        """What transcribes on this machine: the engine, or a Wyoming server's fallback."""
        return self.fallback if self.engine == "wyoming" else self.engine


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
    unsure_below: float = Field(
        0.3,
        ge=0,
        lt=1,
        description="an answer naming someone or something the embedded model gave less than "
        "this probability begins 'I'm not sure, but I think'; 0: never",
    )
    threads: int = Field(2, ge=1)
    warmup: bool = True
    timeout_s: float = Field(60.0, gt=0)


class TtsConfig(Section):
    engine: Literal["pyttsx3", "piper", "wyoming"] = "pyttsx3"
    uri: ServerUri = Field(None, validate_default=True, description="tcp://host:port (wyoming)")
    fallback: Literal["pyttsx3", "piper"] | None = Field(
        None, description="speaks while the Wyoming server is down, with its own default voice"
    )
    timeout_s: float = Field(10.0, gt=0, description="Wyoming: the longest wait for a reply")
    rate: int = Field(175, ge=50, le=500, description="words per minute (pyttsx3)")
    voice: str | None = Field(None, description="pyttsx3 voice id or name; a Wyoming voice name")
    piper_voice: str = "en_US-joe-medium"
    length_scale: float = Field(1.0, gt=0, le=3, description="Piper speaking pace; <1 is faster")
    variation: float = Field(
        1.0, ge=0, le=2, description="Piper's sampling noise; 0 says a text the same way each time"
    )

    @property
    def local_engine(self) -> str | None:
        """What speaks on this machine: the engine, or a Wyoming server's fallback."""
        return self.fallback if self.engine == "wyoming" else self.engine


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

    @field_validator("files_root", mode="before")
    @classmethod
    def _absolute(cls, value: Any) -> Path:
        # An empty or relative root would make the sandbox wherever the command was started.
        try:
            path = Path(value).expanduser()
        except (TypeError, RuntimeError):  # not text, or ~someone with no such user
            path = Path()
        if not path.is_absolute():
            raise ValueError("an absolute folder path such as ~/VoiceAgent")
        return path


class WakeConfig(Section):
    enabled: bool = Field(False, description="answer only after a wake word (or a follow-up)")
    engine: Literal["openwakeword", "wyoming"] = Field(
        "openwakeword", description="openWakeWord here, or the Wyoming wake word server at uri"
    )
    uri: ServerUri = Field(None, validate_default=True, description="tcp://host:port (wyoming)")
    words: list[str] = Field(
        default_factory=lambda: ["hey_jarvis"],
        min_length=1,
        description="bundled openWakeWord models, .tflite files, or a Wyoming server's names",
    )
    threshold: float = Field(0.5, gt=0, lt=1, description="openWakeWord score that wakes it")
    follow_up_s: float = Field(5.0, ge=0, description="after an answer: no wake word needed")

    @field_validator("words")
    @classmethod
    def _known_words(cls, words: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("engine") == "wyoming":  # the server says what it offers
            return words
        from voice_agent.wake.words import bundled

        for word in words:
            if word not in bundled() and not word.endswith(".tflite"):
                raise ValueError(
                    f"a bundled wake word ({', '.join(bundled())}) or a .tflite model file; "
                    f"{word!r} is neither"
                )
        return words


class StoreConfig(Section):
    path: Path = Field(default_factory=lambda: data_home() / "voice-agent.db")
    keep_days: int | None = Field(
        None, ge=1, description="forget turns older than this; null keeps"
    )

    @field_validator("path", mode="before")
    @classmethod
    def _a_file(cls, value: Any) -> Any:
        # Empty would mean the current folder: the store would fail there with SQLite's words.
        if value is None or not str(value).strip():
            raise ValueError("a database file, such as ~/.local/share/voice-agent/voice-agent.db")
        return value


class ServeConfig(Section):
    """`voice-agent serve`: the Wyoming server for Home Assistant and satellites."""

    uri: str = Field(
        "tcp://127.0.0.1:10700",
        description="where to listen; Wyoming has no authentication, so this machine only",
    )
    queue: int = Field(
        8, ge=0, le=1000, description="requests that may wait per model; more are told busy"
    )
    max_audio_s: float = Field(60.0, gt=0, le=3600, description="longest audio one request sends")

    @field_validator("uri")
    @classmethod
    def _tcp(cls, value: str) -> str:
        from voice_agent.wyoming.address import parse_uri

        return parse_uri(value, "serve.uri").uri


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
    wake: WakeConfig = Field(default_factory=WakeConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)

    # Where this came from, for messages and `profiles show`.
    source: Path | None = Field(None, exclude=True)


def yaml_files(kind: str) -> dict[str, list[Path]]:
    """Name -> its `profiles` or `agents` files: the bundled one first, then the user's."""
    found: dict[str, list[Path]] = {}
    for folder in (bundled_dir(kind), config_home() / kind):
        if not folder.is_dir():
            continue
        chosen: dict[str, Path] = {}
        files = [p for p in folder.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file()]
        for path in sorted(files, key=lambda p: (p.stem, YAML_SUFFIXES.index(p.suffix))):
            if path.stem in chosen:
                warnings.warn(
                    f"{path}: ignored, {chosen[path.stem].name} in the same folder is used",
                    ConfigWarning,
                    stacklevel=1,
                )
                continue
            chosen[path.stem] = path
            found.setdefault(path.stem, []).append(path)
    return found


def available_profiles() -> dict[str, Path]:
    """Profile name -> file; the user's folder overrides bundled files of the same name."""
    return {name: paths[-1] for name, paths in sorted(yaml_files("profiles").items())}


def _is_path(profile: str) -> bool:
    return profile.endswith(YAML_SUFFIXES) or "/" in profile


def resolve_profile(profile: str | Path, extending: Path | None = None) -> Path:
    """A profile name or path -> its file.

    For the `extends:` of the profile file `extending`, a path is relative to that file's
    folder, and a name never means that file itself: a user's balanced.yaml with
    `extends: balanced` starts from the bundled balanced, as the README says.
    """
    text = str(profile)
    if _is_path(text):
        path = Path(text).expanduser()
        if extending is not None:
            path = extending.parent / path
        if not path.is_file():
            raise ConfigError(f"{path}: profile file not found")
        return path
    itself = extending.resolve() if extending is not None else None
    found = {
        name: kept
        for name, paths in yaml_files("profiles").items()
        if (kept := [p for p in paths if p.resolve() != itself])
    }
    if text not in found:
        raise ConfigError(
            f"no profile named '{text}' (available: {', '.join(sorted(found))}; "
            "or pass a path to a .yaml file)"
        )
    return found[text][-1]


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice is an error, not the last one wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the safe loader itself reports an unhashable key
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping; errors name the file and line.

    Bytes go to PyYAML, which decodes UTF-8 or, after a byte order mark, UTF-16, as YAML says;
    anything else is not a text file.
    """
    try:
        data = yaml.load(path.read_bytes(), Loader=_StrictLoader)
    except yaml.reader.ReaderError as exc:
        where = f"at position {exc.position}: {exc.reason}"
        raise ConfigError(f"{path}: not UTF-8 text ({where}); save it as UTF-8 YAML") from None
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
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(
            f"{path}: extends: expected a profile name or a path to a .yaml file, got {base!r}"
        )
    try:
        base_path = resolve_profile(base, extending=path)
        if base_path.resolve() in seen:
            raise ConfigError("profiles extend each other in a loop")
        base_data = _load_profile_data(base_path, (*seen, path.resolve()))
    except ConfigError as exc:  # said from the profile asked for, down to the broken one
        raise ConfigError(f"{path}: extends: {exc}") from None
    return deep_merge(base_data, data)


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


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, remembering which value was not valid JSON."""

    bad_json: tuple[str, str] | None = None  # (field name, value) of the last failure

    def decode_complex_value(self, field_name: str, field: Any, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError:
            self.bad_json = (field_name, value)
            raise


def _env_data() -> dict[str, Any]:
    _warn_unknown_variables()
    source = _EnvSource(Settings, env_prefix=ENV_PREFIX, env_nested_delimiter="__")
    try:
        return source()
    except SettingsError as exc:
        if source.bad_json is None:
            raise ConfigError(f"{ENV_PREFIX}* environment variables: {exc}") from None
        field, value = source.bad_json
        # The variable that holds it: its name ends with the field (names are case-insensitive).
        named = [
            name.upper()
            for name, held in os.environ.items()
            if held == value and name.upper().endswith(field.upper())
        ]
        variable = named[0] if named else ENV_PREFIX + field.upper()
        raise ConfigError(
            f"{variable}: expected JSON, got {value!r} "
            f"(or set one key at a time: {variable}__KEY=value)"
        ) from None


def _setting_variables() -> list[str]:
    """Every environment variable voice-agent reads: settings, sections and folders."""
    names = list(DIRECTORY_VARIABLES)
    for field in Settings.model_fields:
        if field != "source":
            names.append(f"{ENV_PREFIX}{field.upper()}")
            names += [
                f"{ENV_PREFIX}{field.upper()}__{k.upper()}" for k in _fields_at(Settings, (field,))
            ]
    return names


def _warn_unknown_variables() -> None:
    """A mistyped variable would otherwise be ignored without a word (pydantic-settings reads
    only the names it knows); a wrong key inside a known section is a validation error."""
    known = [name.removeprefix(ENV_PREFIX) for name in _setting_variables()]
    for name in os.environ:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        rest = upper.removeprefix(ENV_PREFIX)
        if rest.split("__")[0] in known:
            continue
        close = difflib.get_close_matches(rest, known, n=1)
        hint = (
            f"did you mean {ENV_PREFIX}{close[0]}?"
            if close
            else "settings are named like VOICE_AGENT_STT__MODEL"
        )
        warnings.warn(
            f"{name} is not a voice-agent setting; ignored ({hint})", ConfigWarning, stacklevel=1
        )


def _has_key(data: dict[str, Any], loc: tuple) -> bool:
    node: Any = data
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# The start of a pydantic message -> how it reads after "expected".
READABLE_PREFIXES = (
    ("Input should be ", ""),
    ("Value error, ", ""),
    ("Value should be ", ""),
    ("String should match pattern ", "text matching "),
)


def describe_validation_error(err: dict[str, Any], model: type[BaseModel]) -> str:
    """One pydantic error as 'what was expected': used for profiles and agent specs alike."""
    if err["type"] == "extra_forbidden":
        fields = _fields_at(model, tuple(err["loc"][:-1]))
        return f"unknown key (expected one of: {', '.join(fields)})"
    if err["type"] == "missing":
        return "required key is missing"
    expected = err["msg"]
    for prefix, meaning in READABLE_PREFIXES:
        if expected.startswith(prefix):
            expected = meaning + expected[len(prefix) :]
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
