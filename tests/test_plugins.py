"""Skills as plugins: the dice example from the user folder, config, migrations, services."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.errors import ConfigError
from voice_agent.skills.base import Request

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "skills"


@pytest.fixture
def dice_installed(isolated_home) -> Path:
    """The two files copied where the README says: the user's skills/ and agents/ folders."""
    config = isolated_home / "config"
    (config / "skills").mkdir(parents=True)
    (config / "agents").mkdir(parents=True)
    shutil.copy(EXAMPLES / "dice.py", config / "skills" / "dice.py")
    shutil.copy(EXAMPLES / "dice.yaml", config / "agents" / "dice.yaml")
    return config


def ask_json(text: str, *sets: str) -> dict:
    args = [sys.executable, "-m", "voice_agent", "ask", text, "--profile", "speed", "--json"]
    for item in sets:
        args += ["--set", item]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_dice_plugin_answers_from_the_user_folder(dice_installed):
    record = ask_json("roll a die")
    assert record["agent"] == "dice", record["route_reason"]
    result = record["steps"][0]["result"]
    assert 1 <= result["value"] <= 6 and result["data"]["sides"] == 6
    assert re.fullmatch(r"You rolled an? [1-6]\.", record["answer"]), record["answer"]


@pytest.mark.parametrize(
    ("text", "count", "sides"),
    [
        ("roll a die", 1, 6),
        ("roll two dice", 2, 6),
        ("roll a twenty-sided die", 1, 20),
        ("roll 3d8", 3, 8),
        ("roll a pair of dice", 2, 6),
        ("roll four ten sided dice", 4, 10),
    ],
)
def test_dice_rolls_what_was_asked(dice_installed, tmp_path, text, count, sides):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    skill = app.agents["dice"].skill
    skill._rng = random.Random(7)
    turn = app.ask(text)
    app.close()
    assert turn.agent == "dice"
    result = turn.steps[0].result
    assert len(result.data["rolls"]) == count and result.data["sides"] == sides
    assert all(1 <= r <= sides for r in result.data["rolls"])
    assert result.value == sum(result.data["rolls"])
    assert str(result.value) in turn.answer


def test_skill_config_is_checked_against_the_skill_model(dice_installed, tmp_path):
    path = dice_installed / "agents" / "dice.yaml"
    path.write_text(path.read_text().replace("max_dice: 10", "max_dice: lots"))
    with pytest.raises(ConfigError, match=r"dice\.yaml: skill_config\.max_dice: expected"):
        build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))


def test_skill_config_limits_the_skill(dice_installed, tmp_path):
    path = dice_installed / "agents" / "dice.yaml"
    path.write_text(path.read_text().replace("max_dice: 10", "max_dice: 3"))
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    result = app.agents["dice"].skill.handle(Request("roll five dice"))
    app.close()
    assert result.status == "failed" and "at most 3" in result.spoken


def test_a_broken_plugin_is_one_line_naming_the_file(dice_installed, tmp_path):
    (dice_installed / "skills" / "dice.py").write_text("raise ImportError('oops')\n")
    done = subprocess.run(
        [sys.executable, "-m", "voice_agent", "ask", "roll a die", "--profile", "speed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "dice.py" in done.stderr and "Traceback" not in done.stderr


def test_plugin_migrations_and_services(isolated_home, tmp_path):
    """A skill's own tables are created once; its service starts and stops with the app."""
    config = isolated_home / "config"
    (config / "skills").mkdir(parents=True)
    (config / "agents").mkdir(parents=True)
    (config / "skills" / "tally.py").write_text(
        textwrap.dedent(
            """
            from voice_agent.skills.base import Result
            from voice_agent.skills.registry import skill

            EVENTS = []

            class Service:
                def start(self):
                    EVENTS.append("start")

                def stop(self):
                    EVENTS.append("stop")

            class Tally:
                def __init__(self, store):
                    self.store = store

                def handle(self, request):
                    self.store.execute("INSERT INTO tally (said) VALUES (?)", (request.text,))
                    n = self.store.query("SELECT COUNT(*) FROM tally")[0][0]
                    return Result(f"That makes {n}.", value=n)

                def services(self):
                    return [Service()]

            @skill("tally", migrations=("CREATE TABLE tally (said TEXT)",))
            def make(ctx, config):
                return Tally(ctx.store)
            """
        )
    )
    examples = "\n".join(f"  - count this please {i}" for i in range(20))
    (config / "agents" / "tally.yaml").write_text(
        "name: tally\ndescription: count things\nkind: skill\nskill: tally\n"
        "rules:\n  - pattern: '\\bcount this\\b'\n    confidence: 0.95\n"
        f"examples:\n{examples}\n"
    )
    settings = load_settings("speed", [f"store.path={tmp_path / 'db'}"])
    for expected in (1, 2):  # a second start must not create the table again
        app = build(settings)
        app.start_services()
        assert app.ask("count this").steps[0].result.value == expected
        app.close()
    events = sys.modules["voice_agent_user_skills.tally"].EVENTS
    assert events == ["start", "stop", "start", "stop"]
