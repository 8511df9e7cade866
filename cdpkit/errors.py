"""Errors the user can fix; the CLI prints them as 'Error: …' and exits 1."""

from __future__ import annotations


class CdpkitError(Exception):
    """An error the user can fix; the CLI prints it as 'Error: …' and exits 1."""


class ConfigError(CdpkitError):
    """A project file (profiles.yml, dbt_project.yml, YAML config) is missing or wrong."""


class WarehouseError(CdpkitError):
    """The warehouse could not be reached, was locked, or rejected a statement."""
