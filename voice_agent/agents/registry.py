"""Which agents exist: the bundled agents/ folder plus the user's, by file name."""

from __future__ import annotations

import warnings
from pathlib import Path

from voice_agent.agents.spec import AgentSpec, load_agent_spec
from voice_agent.config import yaml_files
from voice_agent.errors import ConfigError, ConfigWarning
from voice_agent.paths import bundled_dir


def load_agents(
    enabled: list[str] | None = None, fallback: str = "general"
) -> dict[str, AgentSpec]:
    files = yaml_files("agents")
    if enabled is not None:
        unknown = sorted(set(enabled) - set(files))
        if unknown:
            raise ConfigError(
                f"agents.enabled: no agent named {', '.join(unknown)} "
                f"(available: {', '.join(sorted(files))})"
            )
        files = {name: files[name] for name in files if name in enabled or name == fallback}
    specs = {name: spec for name, paths in files.items() if (spec := _first_loadable(name, paths))}
    if fallback not in specs:
        raise ConfigError(
            f"routing.fallback_agent: no agent named '{fallback}' in the agents folders"
        )
    return dict(sorted(specs.items(), key=lambda item: (item[1].order, item[0])))


def _first_loadable(name: str, paths: list[Path]) -> AgentSpec | None:
    """The user's file for agent `name` if it loads, else the bundled one it replaces, if any.

    A user's agent file that cannot be loaded is skipped with a warning naming the file and
    the problem, rather than stopping every command: an assistant left running should keep
    its other agents answering (as Home Assistant starts without a broken integration), and
    the warning on each start says what to fix. The bundled files must always load.
    """
    bundled = bundled_dir("agents")
    for path in reversed(paths):
        try:
            return _load(name, path)
        except ConfigError as exc:
            if path.parent == bundled:
                raise
            instead = (
                f"the bundled {name} agent is used instead"
                if len(paths) > 1
                else f"the {name} agent is left out"
            )
            warnings.warn(f"{exc} ({instead} until it is fixed)", ConfigWarning, stacklevel=1)
    return None


def _load(name: str, path: Path) -> AgentSpec:
    spec = load_agent_spec(path)
    if spec.name != name:
        raise ConfigError(f"{path}: name: expected '{name}' (the file name), got '{spec.name}'")
    return spec
