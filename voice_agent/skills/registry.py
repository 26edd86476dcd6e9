"""Skill plugins: how a skill registers itself and how the app finds it by name.

A skill module decorates a factory with `@skill("name", config=Model, migrations=...)`.
The app looks a name up, in order: skills already registered, the
`voice_agent.skills` entry-point group (pip-installed plugins), the user's
`~/.config/voice-agent/skills/NAME.py`, then the bundled `voice_agent.skills.NAME`.
Modules are imported only when an agent names them, so start-up stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from voice_agent.errors import ConfigError
from voice_agent.paths import config_home
from voice_agent.skills.base import Service, Skill, SkillContext

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "voice_agent.skills"


class NoConfig(BaseModel):
    """For skills without settings: any `skill_config:` key is a mistake."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class SkillPlugin:
    name: str
    factory: Callable[[SkillContext, Any], Skill]
    config_model: type[BaseModel]
    migrations: tuple[str, ...]  # SQL scripts for the store, applied once each, in order


_REGISTRY: dict[str, SkillPlugin] = {}


def skill(
    name: str, *, config: type[BaseModel] = NoConfig, migrations: Sequence[str] = ()
) -> Callable:
    """Register `factory(ctx, config) -> Skill` under `name`."""

    def register(factory: Callable[[SkillContext, Any], Skill]):
        _REGISTRY[name] = SkillPlugin(name, factory, config, tuple(migrations))
        return factory

    return register


def find_skill(name: str) -> SkillPlugin:
    """The plugin registered as `name`, importing the module that registers it if need be."""
    for load in (_from_entry_point, _from_user_folder, _from_package):
        if name in _REGISTRY:
            break
        load(name)
    if name not in _REGISTRY:
        raise ConfigError(
            f"no skill named '{name}' (looked in the '{ENTRY_POINT_GROUP}' entry points, "
            f"{config_home() / 'skills'} and voice_agent/skills)"
        )
    return _REGISTRY[name]


def build_skill(ctx: SkillContext) -> Skill:
    """The skill for `ctx.spec`, with its config validated and its store migrations applied."""
    spec = ctx.spec
    plugin = find_skill(spec.skill or "")
    profile_side = ctx.settings.agents.skill_config.get(spec.name, {})
    try:
        config = plugin.config_model.model_validate({**spec.skill_config, **profile_side})
    except ValidationError as exc:
        from voice_agent.config import describe_validation_error

        err = exc.errors()[0]
        where = (
            f"agents.skill_config.{spec.name}"
            if err["loc"] and err["loc"][0] in profile_side
            else f"{spec.source}: skill_config"
        )
        key = ".".join(str(p) for p in (where, *err["loc"]))
        raise ConfigError(f"{key}: {describe_validation_error(err, plugin.config_model)}") from None
    if plugin.migrations:
        ctx.store.migrate(plugin.name, plugin.migrations)
    return plugin.factory(ctx, config)


def services_of(skill_instance: Skill) -> list[Service]:
    """Background services a skill offers through an optional `services()` method."""
    offer = getattr(skill_instance, "services", None)
    return list(offer()) if offer is not None else []


def _from_entry_point(name: str) -> None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            point.load()  # importing the module runs its @skill decorator
            return


def _from_user_folder(name: str) -> None:
    path = config_home() / "skills" / f"{name}.py"
    if not path.is_file():
        return
    module_name = f"voice_agent_user_skills.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is the user's to fix: say where
        sys.modules.pop(module_name, None)
        log.exception("skill plugin %s failed to load", path)
        raise ConfigError(f"{path}: the skill failed to load: {exc!r}") from None


def _from_package(name: str) -> None:
    if not name.isidentifier():
        return
    try:
        importlib.import_module(f"voice_agent.skills.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"voice_agent.skills.{name}":
            raise
