"""Connectors by `type`: the built-in ones, plus any registered by plugins.

A new connector adds one line to `BUILTIN` (type -> "module:Class"); modules are imported on
first use. Third-party packages can expose connectors through the `cdpkit.destinations`
entry-point group, or call `register()`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from cdpkit.destinations.base import Destination
from cdpkit.errors import ConfigError

BUILTIN: dict[str, str] = {
    "webhook": "cdpkit.destinations.webhook:WebhookDestination",
    "file": "cdpkit.destinations.file:FileDestination",
    "hubspot": "cdpkit.destinations.hubspot:HubSpotDestination",
    "salesforce": "cdpkit.destinations.salesforce:SalesforceDestination",
    "meta_custom_audience": (
        "cdpkit.destinations.meta_custom_audience:MetaCustomAudienceDestination"
    ),
    "google_customer_match": (
        "cdpkit.destinations.google_customer_match:GoogleCustomerMatchDestination"
    ),
    "klaviyo": "cdpkit.destinations.klaviyo:KlaviyoDestination",
    "braze": "cdpkit.destinations.braze:BrazeDestination",
}

_loaded: dict[str, type[Destination]] = {}
_plugins: dict[str, str] | None = None


def register(cls: type[Destination]) -> type[Destination]:
    """Make a connector class available under its `type` (usable as a class decorator)."""
    _loaded[cls.type] = cls
    return cls


def types() -> list[str]:
    """Every known destination type, sorted."""
    return sorted({*BUILTIN, *_plugin_specs(), *_loaded})


def get(type_name: str) -> type[Destination]:
    """The connector class for `type_name` (ConfigError naming the known types otherwise)."""
    if type_name in _loaded:
        return _loaded[type_name]
    spec = BUILTIN.get(type_name) or _plugin_specs().get(type_name)
    if spec is None:
        raise ConfigError(f"unknown destination type '{type_name}' (known: {', '.join(types())})")
    module_name, _, attr = spec.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Destination)) or cls.type != type_name:
        raise ConfigError(f"{spec} is not a Destination of type '{type_name}'")
    _loaded[type_name] = cls
    return cls


def _plugin_specs() -> dict[str, str]:
    global _plugins
    if _plugins is None:
        _plugins = {ep.name: ep.value for ep in entry_points(group="cdpkit.destinations")}
    return _plugins
