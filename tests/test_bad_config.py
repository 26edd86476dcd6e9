"""Bad configuration, bad files and bad command lines: one clear line and the right exit code.

End-to-end cases run the real CLI in a fresh interpreter with its own HOME and config
folder; the rest call the loading functions directly. Each case says what the user does,
the exit code (or the outcome) they get and what the one line must say.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest
from stages import cli

from voice_agent.agents.registry import load_agents
from voice_agent.config import load_settings
from voice_agent.errors import ConfigError, ConfigWarning

ROOT = Path(__file__).resolve().parents[1]
BINARY = bytes(range(128, 256)) * 4  # no UTF-8 decoder accepts this
UTF16_NO_BOM = "stt:\n  beam_size: 3\n".encode("utf-16-le")
EXAMPLES = "".join(f"  - tell me about recipe number {i}\n" for i in range(20))
RECIPES = (
    "description: suggest recipes\nkind: llm\nrules:\n  - pattern: '\\brecipes?\\b'\n"
    f"examples:\n{EXAMPLES}system_prompt: You suggest recipes.\n"
)


@pytest.fixture
def home(isolated_home, monkeypatch):
    """A HOME of its own (for ~), an empty model cache, and the config folder to write into."""
    monkeypatch.setenv("HOME", str(isolated_home / "home"))
    monkeypatch.setenv("VOICE_AGENT_CACHE_DIR", str(isolated_home / "cache"))
    (isolated_home / "home").mkdir()
    config = isolated_home / "config"
    (config / "profiles").mkdir(parents=True)
    (config / "agents").mkdir(parents=True)
    return config


def write(config: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = config / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {stderr!r}"
    return lines[0]


# -- the CLI, end to end --------------------------------------------------------------------

RULES = ["--profile", "speed"]  # rules only: no model is loaded

CLI_ERRORS = [
    # (case, argv, environment, files in the config folder, exit code, fragments of the line)
    (
        "files_root empty from the environment",
        ["route", "read the file notes", *RULES],
        {"VOICE_AGENT_AGENTS__FILES_ROOT": ""},
        {},
        2,
        ["VOICE_AGENT_AGENTS__FILES_ROOT:", "absolute folder path", "got ''"],
    ),
    (
        "files_root empty from --set",
        ["route", "hi", *RULES, "--set", "agents.files_root=''"],
        {},
        {},
        2,
        ["--set agents.files_root:", "absolute folder path", "got ''"],
    ),
    (
        "files_root relative from --set",
        ["ask", "list my files", *RULES, "--set", "agents.files_root=notes"],
        {},
        {},
        2,
        ["--set agents.files_root:", "absolute folder path", "got 'notes'"],
    ),
    (
        "files_root relative in a profile",
        ["route", "hi", "--profile", "mine"],
        {"VOICE_AGENT_AGENTS__FILES_ROOT": None},  # unset: the environment beats the file
        {"profiles/mine.yaml": "extends: speed\nagents:\n  files_root: ./notes\n"},
        2,
        ["mine.yaml: agents.files_root:", "absolute folder path", "got './notes'"],
    ),
    (
        "a binary profile",
        ["route", "hi", "--profile", "junk"],
        {},
        {"profiles/junk.yaml": BINARY},
        2,
        ["junk.yaml: not UTF-8 text", "save it as UTF-8"],
    ),
    (
        "a UTF-16 profile without a byte order mark",
        ["route", "hi", "--profile", "wide"],
        {},
        {"profiles/wide.yaml": UTF16_NO_BOM},
        2,
        ["wide.yaml: not UTF-8 text"],
    ),
    (
        "extends: a binary file",
        ["route", "hi", "--profile", "mine"],
        {},
        {"profiles/mine.yaml": "extends: junk.yaml\n", "profiles/junk.yaml": BINARY},
        2,
        ["mine.yaml: extends:", "junk.yaml: not UTF-8 text"],
    ),
    (
        "a key given twice",
        ["route", "hi", "--profile", "dup"],
        {},
        {"profiles/dup.yaml": "extends: speed\nstt:\n  beam_size: 3\n  beam_size: 4\n"},
        2,
        ["dup.yaml: line 4:", "'beam_size' appears twice"],
    ),
    (
        "a section as bad JSON in the environment",
        ["route", "hi", *RULES],
        {"VOICE_AGENT_STT": "{bad json"},
        {},
        2,
        ["VOICE_AGENT_STT: expected JSON, got '{bad json'", "VOICE_AGENT_STT__KEY=value"],
    ),
    (
        "a nested mapping as bad JSON in the environment",
        ["agents", *RULES],
        {"VOICE_AGENT_AGENTS__SKILL_CONFIG": "{x"},
        {},
        2,
        ["VOICE_AGENT_AGENTS__SKILL_CONFIG: expected JSON, got '{x'"],
    ),
    (
        "a profile path that is rich markup",
        ["route", "hi", "--profile", "[/x]"],
        {},
        {},
        2,
        ["error: [/x]: profile file not found"],
    ),
    (
        "a profile name that is rich markup",
        ["route", "hi", "--profile", "[bold]x"],
        {},
        {},
        2,
        ["no profile named '[bold]x'"],
    ),
    (
        "a validation error holding [a-z]",
        ["route", "hi", *RULES, "--set", "routing.strategy=[a-z]x"],
        {},
        {},
        2,
        ["--set routing.strategy:", "got '[a-z]x'"],
    ),
    (
        "an agent name that breaks the pattern",
        ["agents", *RULES],
        {},
        {"agents/Recipes.yaml": "name: Recipes\n" + RECIPES},
        0,  # the user's agent is skipped with a warning; the rest work
        ["warning:", "Recipes.yaml: name: expected text matching '^[a-z][a-z0-9_]*$'"],
    ),
    (
        "say --output to a folder, checked before the profile is loaded",
        ["say", "hello", "--profile", "nonexistent", "--output", "{tmp}"],
        {},
        {},
        2,
        ["--output {tmp}: is a folder"],
    ),
    (
        "say --output into a missing folder",
        ["say", "hello", "--profile", "nonexistent", "--output", "{tmp}/no/such/hi.wav"],
        {},
        {},
        2,
        ["--output {tmp}/no/such/hi.wav: no folder {tmp}/no/such"],
    ),
    (
        "run --output into a missing folder, before any model loads",
        ["run", "--input", "{wav}", "--profile", "nonexistent", "-o", "{tmp}/gone/out.wav"],
        {},
        {},
        2,
        ["--output {tmp}/gone/out.wav: no folder {tmp}/gone"],
    ),
    (
        "run --output to a folder",
        ["run", "--input", "{wav}", "--profile", "nonexistent", "--output", "{tmp}"],
        {},
        {},
        2,
        ["--output {tmp}: is a folder"],
    ),
    (
        "an unknown VOICE_AGENT_ variable",
        ["route", "what is 2 times 3", *RULES],
        {"VOICE_AGENT_STT_BEAM_SIZE": "3"},
        {},
        0,
        [
            "warning: VOICE_AGENT_STT_BEAM_SIZE is not a voice-agent setting; ignored "
            "(did you mean VOICE_AGENT_STT__BEAM_SIZE?)"
        ],
    ),
    (
        "a binary file in the user's agents folder",
        ["route", "what is 2 times 3", *RULES],
        {},
        {"agents/junk.yaml": BINARY},
        0,
        ["warning:", "agents/junk.yaml: not UTF-8 text", "the junk agent is left out"],
    ),
    (
        "a binary user file replacing a bundled agent",
        ["route", "what is 2 times 3", *RULES],
        {},
        {"agents/utility.yaml": BINARY},
        0,
        ["warning:", "agents/utility.yaml: not UTF-8 text", "bundled utility agent is used"],
    ),
    (
        "both x.yaml and x.yml in the user's agents folder",
        ["route", "tell me a recipe", *RULES],
        {},
        {"agents/recipes.yaml": RECIPES, "agents/recipes.yml": RECIPES},
        0,
        ["warning:", "agents/recipes.yml: ignored, recipes.yaml in the same folder is used"],
    ),
]


@pytest.mark.parametrize(
    ("argv", "env", "files", "code", "fragments"),
    [case[1:] for case in CLI_ERRORS],
    ids=[case[0] for case in CLI_ERRORS],
)
def test_cli_says_what_is_wrong_in_one_line(
    home, tmp_path, monkeypatch, argv, env, files, code, fragments
):
    write(home, files)
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    wav = tmp_path / "commands.wav"
    wav.write_bytes(b"")  # never read: the output is checked first
    fill = {"{tmp}": str(tmp_path), "{wav}": str(wav)}

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    start = time.perf_counter()
    done = cli(*map(filled, argv), cwd=tmp_path)
    assert time.perf_counter() - start < 30
    assert done.returncode == code, done.stderr
    line = one_line(done.stderr)
    for fragment in map(filled, fragments):
        assert fragment in line
    if code == 0:
        assert done.stdout.strip(), "the command still did its work"


def test_broken_user_agents_leave_the_others_answering(home, tmp_path):
    write(home, {"agents/junk.yaml": BINARY, "agents/utility.yaml": BINARY})
    done = cli("route", "what is 2 times 3", *RULES, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("[utility 1.00]")
    warned = done.stderr.strip().splitlines()
    assert len(warned) == 2 and all(line.startswith("warning: ") for line in warned)


def test_broken_user_profile_is_a_row_of_the_listing(home, tmp_path):
    write(
        home,
        {
            "profiles/junk.yaml": BINARY,
            "profiles/mine.yaml": "extends: speed\ndescription: '[/x] mine [bold]'\n",
        },
    )
    done = cli("profiles", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert "not UTF-8 text" in rows["junk"]
    assert "[/x] mine [bold]" in rows["mine"], "printed as written, not as rich markup"
    assert "speed" in rows and "balanced" in rows


def test_profile_file_named_with_markup_is_shown_as_named(home, tmp_path):
    path = tmp_path / "[bold]x.yaml"
    path.write_text("extends: speed\n")
    done = cli("profiles", "show", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"# {path}"
    assert "name: '[bold]x'" in done.stdout


@pytest.mark.parametrize(
    ("text", "code", "said"),
    [
        ("what is 25 times 4", 0, "25 times 4 is 100"),
        ("who wrote romeo and juliet", 1, "Sorry, my language model can't run"),
    ],
)
def test_ask_exits_1_when_its_turn_failed_after_the_apology(home, tmp_path, text, code, said):
    # The model cache is empty, so the embedded LLM is missing: the general agent's turn fails.
    args = ["ask", text, *RULES, "--set", "llm.backend=llamacpp"]
    spoken = cli(*args, cwd=tmp_path)
    assert spoken.returncode == code and said in spoken.stdout
    record = cli(*args, "--json", cwd=tmp_path)
    assert record.returncode == code and said in record.stdout
    assert ('"error": null' in record.stdout) == (code == 0)


# -- loading, called directly ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("set", "", "got None"),
        ("set", "''", "got ''"),
        ("set", "notes", "got 'notes'"),
        ("set", ".", "got '.'"),
        ("set", "~no_such_user_here/notes", "got '~no_such_user_here/notes'"),
        ("env", "", "got ''"),
        ("env", "relative/dir", "got 'relative/dir'"),
        ("yaml", "''", "got ''"),
        ("yaml", "notes", "got 'notes'"),
    ],
)
def test_files_root_must_be_absolute(home, monkeypatch, tmp_path, source, value, expected):
    where = {
        "set": "--set agents.files_root:",
        "env": "VOICE_AGENT_AGENTS__FILES_ROOT:",
        "yaml": "mine.yaml: agents.files_root:",
    }[source]
    overrides = [f"agents.files_root={value}"] if source == "set" else []
    if source == "env":
        monkeypatch.setenv("VOICE_AGENT_AGENTS__FILES_ROOT", value)
    write(home, {"profiles/mine.yaml": "extends: speed\n"})
    if source == "yaml":
        monkeypatch.delenv("VOICE_AGENT_AGENTS__FILES_ROOT")
        write(home, {"profiles/mine.yaml": f"extends: speed\nagents:\n  files_root: {value}\n"})
    with pytest.raises(ConfigError) as info:
        load_settings("mine", overrides)
    message = str(info.value)
    assert (message.startswith(where) or f"/{where}" in message) and expected in message
    assert "absolute folder path" in str(info.value)


@pytest.mark.parametrize("source", ["set", "env", "yaml"])
def test_files_root_tilde_is_the_users_home(home, monkeypatch, source):
    overrides = ["agents.files_root=~/Notes"] if source == "set" else []
    if source == "env":
        monkeypatch.setenv("VOICE_AGENT_AGENTS__FILES_ROOT", "~/Notes")
    if source == "yaml":
        monkeypatch.delenv("VOICE_AGENT_AGENTS__FILES_ROOT")
        write(home, {"profiles/speed.yaml": "extends: speed\nagents:\n  files_root: ~/Notes\n"})
    settings = load_settings("speed", overrides)
    assert settings.agents.files_root == Path.home() / "Notes"
    assert str(Path.home()).startswith(str(home.parent)), "HOME is the test's own"


def test_default_files_root_is_absolute(home, monkeypatch):
    monkeypatch.delenv("VOICE_AGENT_AGENTS__FILES_ROOT")
    assert load_settings("speed").agents.files_root == Path.home() / "VoiceAgent"


@pytest.mark.parametrize(
    ("files", "profile", "outcome"),
    [
        # A user balanced.yaml that extends balanced starts from the bundled one.
        (
            {"profiles/balanced.yaml": "extends: balanced\nstt:\n  beam_size: 4\n"},
            "balanced",
            {"stt.beam_size": 4, "stt.model": "base", "routing.strategy": "hybrid"},
        ),
        # ... also through another of the user's profiles.
        (
            {
                "profiles/speed.yaml": "extends: speed\ntts:\n  rate: 111\n",
                "profiles/night.yaml": "extends: speed\nstt:\n  beam_size: 2\n",
            },
            "night",
            {"tts.rate": 111, "stt.model": "tiny.en", "stt.beam_size": 2},
        ),
        # A path in extends: is relative to the profile's folder, not the current directory.
        (
            {
                "profiles/base.yaml": "extends: quality\nstt:\n  beam_size: 3\n",
                "profiles/mine.yaml": "extends: base.yaml\n",
            },
            "mine",
            {"stt.beam_size": 3, "tts.engine": "piper"},
        ),
        (
            {
                "profiles/sub/base.yml": "extends: speed\n",
                "profiles/mine.yml": "extends: sub/base.yml\nstt:\n  beam_size: 6\n",
            },
            "mine",
            {"stt.beam_size": 6, "stt.model": "tiny.en"},
        ),
        # UTF-8 with a byte order mark, and UTF-16 with one, are YAML text.
        (
            {"profiles/bom.yaml": "\ufeffextends: speed\nstt:\n  beam_size: 7\n".encode()},
            "bom",
            {"stt.beam_size": 7},
        ),
        (
            {"profiles/wide.yaml": "extends: speed\nstt:\n  beam_size: 8\n".encode("utf-16")},
            "wide",
            {"stt.beam_size": 8},
        ),
        # .yml loads like .yaml.
        ({"profiles/short.yml": "extends: speed\nstt:\n  beam_size: 9\n"}, "short", {}),
    ],
)
def test_profiles_extend_and_load_as_users_expect(
    home, tmp_path, monkeypatch, files, profile, outcome
):
    write(home, files)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "base.yaml").write_text("stt:\n  beam_size: 10\n")  # never the one meant
    monkeypatch.chdir(elsewhere)
    settings = load_settings(profile).model_dump()
    for key, value in outcome.items():
        section, name = key.split(".")
        assert settings[section][name] == value, key
    assert settings["name"] == profile


@pytest.mark.parametrize(
    ("files", "profile", "fragments"),
    [
        (
            {"profiles/a.yaml": "extends: b\n", "profiles/b.yaml": "extends: a\n"},
            "a",
            ["extends: profiles extend each other in a loop"],
        ),
        ({"profiles/a.yaml": "extends: a.yaml\n"}, "a", ["a.yaml: extends:", "loop"]),
        ({"profiles/a.yaml": "extends: [speed]\n"}, "a", ["a.yaml: extends: expected"]),
        ({"profiles/a.yaml": "extends: turbo\n"}, "a", ["a.yaml: extends: no profile named"]),
        (
            {"profiles/a.yaml": "extends: gone.yaml\n"},
            "a",
            ["a.yaml: extends:", "profiles/gone.yaml: profile file not found"],
        ),
        ({"profiles/a.yaml": BINARY}, "a", ["a.yaml: not UTF-8 text"]),
        ({"profiles/a.yaml": UTF16_NO_BOM}, "a", ["a.yaml: not UTF-8 text"]),
        ({"profiles/a.yaml": b"stt:\n  model: \x00\n"}, "a", ["a.yaml: not UTF-8 text"]),
        ({"profiles/a.yaml": "stt: {}\nstt: {}\n"}, "a", ["line 2", "'stt' appears twice"]),
        (
            {"profiles/a.yaml": "llm:\n  backend: ollama\n  backend: llamacpp\n"},
            "a",
            ["a.yaml: line 3:", "'backend' appears twice"],
        ),
    ],
)
def test_broken_profiles_are_one_line_naming_the_file(home, files, profile, fragments):
    write(home, files)
    with pytest.raises(ConfigError) as info:
        load_settings(profile)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_a_yaml_wins_over_a_yml_of_the_same_name_with_a_warning(home):
    write(home, {"profiles/x.yaml": "extends: speed\n", "profiles/x.yml": "extends: quality\n"})
    with pytest.warns(ConfigWarning, match=r"profiles/x\.yml: ignored, x\.yaml in the same"):
        assert load_settings("x").stt.model == "tiny.en"


@pytest.mark.parametrize(
    ("variable", "value", "outcome"),
    [
        # Not JSON where JSON is needed: the variable is named.
        ("VOICE_AGENT_STT", "{bad json", "VOICE_AGENT_STT: expected JSON, got '{bad json'"),
        ("VOICE_AGENT_STT", "", "VOICE_AGENT_STT: expected JSON, got ''"),
        ("voice_agent_llm", "[1,", "VOICE_AGENT_LLM: expected JSON"),
        ("VOICE_AGENT_AGENTS__SKILL_CONFIG", "{x", "VOICE_AGENT_AGENTS__SKILL_CONFIG: expected"),
        # JSON, or a plain value, of the wrong kind: validated like a profile.
        ("VOICE_AGENT_STT", "[1, 2]", "VOICE_AGENT_STT: expected a valid dictionary"),
        ("VOICE_AGENT_AGENTS__ENABLED", "[bad", "VOICE_AGENT_AGENTS__ENABLED: expected a valid"),
        ("VOICE_AGENT_TTS__RATE", "fast", "VOICE_AGENT_TTS__RATE: expected a valid integer"),
        ("VOICE_AGENT_STT__BEAMSIZE", "5", "VOICE_AGENT_STT__BEAMSIZE: unknown key"),
        # Good values still work, in any letter case.
        ("VOICE_AGENT_STT", '{"beam_size": 4}', 4),
        ("voice_agent_stt__beam_size", "5", 5),
    ],
)
def test_environment_values(monkeypatch, variable, value, outcome):
    monkeypatch.setenv(variable, value)
    if isinstance(outcome, int):
        assert load_settings("speed").stt.beam_size == outcome
        return
    with pytest.raises(ConfigError) as info:
        load_settings("speed")
    assert str(info.value).startswith(outcome) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("VOICE_AGENT_STT_BEAM_SIZE", "VOICE_AGENT_STT__BEAM_SIZE"),
        ("VOICE_AGENT_FILES_ROOT", "VOICE_AGENT_AGENTS__FILES_ROOT"),
        ("VOICE_AGENT_TTS_RATE", "VOICE_AGENT_TTS__RATE"),
        ("VOICE_AGENT_CONFIG_DIRS", "VOICE_AGENT_CONFIG_DIR"),
        ("voice_agent_llm_backend", "VOICE_AGENT_LLM__BACKEND"),
        ("VOICE_AGENT_XYZZY", None),
    ],
)
def test_unknown_variables_are_named_with_the_nearest_setting(monkeypatch, variable, suggestion):
    monkeypatch.setenv(variable, "1")
    with pytest.warns(ConfigWarning) as caught:
        load_settings("speed")
    [message] = [str(w.message) for w in caught if variable in str(w.message)]
    assert message.startswith(f"{variable} is not a voice-agent setting; ignored")
    if suggestion:
        assert message.endswith(f"(did you mean {suggestion}?)")
    else:
        assert "VOICE_AGENT_STT__MODEL" in message


@pytest.mark.parametrize(
    "variable", ["VOICE_AGENT_DATA_DIR", "VOICE_AGENT_CACHE_DIR", "VOICE_AGENT_LLM__BACKEND"]
)
def test_known_variables_are_not_warned_about(monkeypatch, tmp_path, variable):
    monkeypatch.setenv(variable, "llamacpp" if "LLM" in variable else str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        load_settings("speed")


@pytest.mark.parametrize(
    ("files", "warned", "present", "absent"),
    [
        ({"agents/junk.yaml": BINARY}, ["junk.yaml: not UTF-8 text", "left out"], [], ["junk"]),
        (
            {"agents/recipes.yaml": "name: recipes\n" + RECIPES.replace("kind: llm\n", "")},
            ["recipes.yaml: kind: required key is missing"],
            [],
            ["recipes"],
        ),
        (
            {"agents/recipes.yaml": RECIPES + "rules: []\n"},
            ["recipes.yaml: line", "'rules' appears twice"],
            [],
            ["recipes"],
        ),
        (
            {"agents/recipes.yaml": "name: cooking\n" + RECIPES},
            ["recipes.yaml: name: expected 'recipes' (the file name), got 'cooking'"],
            [],
            ["recipes", "cooking"],
        ),
        (
            {"agents/weather.yaml": "description: [\n"},
            ["weather.yaml: line", "malformed YAML", "bundled weather agent is used"],
            ["weather"],
            [],
        ),
    ],
)
def test_a_broken_user_agent_is_skipped_with_a_warning(home, files, warned, present, absent):
    write(home, files)
    with pytest.warns(ConfigWarning) as caught:
        specs = load_agents()
    [message] = [str(w.message) for w in caught]
    for fragment in warned:
        assert fragment in message
    assert {"utility", "general", *present} <= set(specs)
    assert not set(absent) & set(specs)
    for name in present:
        assert specs[name].source.parent.parent == ROOT, "the bundled file answers"


def test_yml_agents_load_like_yaml(home):
    write(home, {"agents/recipes.yml": "name: recipes\n" + RECIPES})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        specs = load_agents()
    assert specs["recipes"].source == home / "agents" / "recipes.yml"
