"""Which agents exist: the bundled agents/ folder plus the user's, by file name."""

from __future__ import annotations

from pathlib import Path

from voice_agent.agents.spec import AgentSpec, load_agent_spec
from voice_agent.errors import ConfigError
from voice_agent.paths import bundled_dir, config_home


def agent_files(extra_dirs: tuple[Path, ...] = ()) -> dict[str, Path]:
    """Agent name -> YAML file; later folders (the user's) override earlier ones."""
    found: dict[str, Path] = {}
    for folder in (bundled_dir("agents"), config_home() / "agents", *extra_dirs):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = path
    return found


def load_agents(
    enabled: list[str] | None = None, fallback: str = "general"
) -> dict[str, AgentSpec]:
    files = agent_files()
    if enabled is not None:
        unknown = sorted(set(enabled) - set(files))
        if unknown:
            raise ConfigError(
                f"agents.enabled: no agent named {', '.join(unknown)} "
                f"(available: {', '.join(sorted(files))})"
            )
        files = {name: path for name, path in files.items() if name in enabled or name == fallback}
    specs = {name: load_agent_spec(path) for name, path in files.items()}
    for name, spec in specs.items():
        if spec.name != name:
            raise ConfigError(
                f"{spec.source}: name: expected '{name}' (the file name), got '{spec.name}'"
            )
    if fallback not in specs:
        raise ConfigError(
            f"routing.fallback_agent: no agent named '{fallback}' in the agents folders"
        )
    return dict(sorted(specs.items(), key=lambda item: (item[1].order, item[0])))
