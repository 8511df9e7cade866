"""Locate a cdpkit project and read its dbt `profiles.yml` (the one source of connections)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from cdpkit.errors import ConfigError

PROFILE_FILE = "profiles.yml"
DBT_PROJECT_FILE = "dbt_project.yml"


@dataclass(frozen=True)
class Target:
    """One rendered output of the profile (secrets stay inside `settings`, never printed)."""

    name: str
    type: str
    settings: dict[str, Any] = field(repr=False)

    @property
    def dialect(self) -> str:
        """The sqlglot dialect that renders SQL for this target."""
        return {"duckdb": "duckdb", "postgres": "postgres"}.get(self.type, self.type)

    @property
    def schema(self) -> str:
        """The schema dbt builds the marts into."""
        return str(self.settings.get("schema") or ("main" if self.type == "duckdb" else "public"))


@dataclass(frozen=True)
class Project:
    """A cdpkit project directory: dbt project + audiences + destinations."""

    root: Path
    target_name: str | None = None

    @property
    def audiences_dir(self) -> Path:
        return self.root / "audiences"

    @property
    def destinations_dir(self) -> Path:
        return self.root / "destinations"

    def profile_name(self) -> str:
        """The profile named in dbt_project.yml."""
        data = _read_yaml(self.root / DBT_PROJECT_FILE)
        name = data.get("profile")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{self.root / DBT_PROJECT_FILE}: no 'profile:' is set")
        return name

    def target(self) -> Target:
        """The selected target of the profile, rendered with env_var() like dbt does."""
        path = self.root / PROFILE_FILE
        profiles = _read_yaml(path, render=True)
        name = self.profile_name()
        profile = profiles.get(name)
        if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
            raise ConfigError(f"{path}: profile '{name}' with 'outputs:' not found")
        outputs: dict[str, Any] = profile["outputs"]
        chosen = self.target_name or profile.get("target") or "dev"
        if chosen not in outputs:
            known = ", ".join(sorted(outputs))
            raise ConfigError(f"{path}: target '{chosen}' is not defined (known: {known})")
        settings = dict(outputs[chosen])
        return Target(name=chosen, type=str(settings.get("type", "")), settings=settings)


def find_project(project_dir: Path | None = None, target: str | None = None) -> Project:
    """The project at `project_dir` (default: the current directory)."""
    root = (project_dir or Path.cwd()).resolve()
    if not (root / DBT_PROJECT_FILE).is_file():
        raise ConfigError(
            f"{root} is not a cdpkit project (no {DBT_PROJECT_FILE}); "
            "run 'cdpkit init DIR' or pass --project-dir"
        )
    return Project(root=root, target_name=target)


def _env_var(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ConfigError(f"environment variable {name} is required by profiles.yml but not set")
    return value


def _read_yaml(path: Path, *, render: bool = False) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} not found") from None
    if render:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
        env.filters["as_number"] = lambda v: int(v) if str(v).isdigit() else float(v)
        env.filters["as_bool"] = lambda v: str(v).lower() in {"1", "true", "yes"}
        try:
            text = env.from_string(text).render(env_var=_env_var)
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
