"""Helpers shared by the ad-platform and messaging connectors (Meta, Google, Klaviyo, Braze).

Small, stateless pieces: the sync's own config, which destination field holds the identifier,
safe JSON parsing of error bodies, and config checks that turn a bad mapping into a located
error before anything is sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import requests

from cdpkit.destinations.base import PlanInfo, SyncContext
from cdpkit.spec.diagnostics import did_you_mean
from cdpkit.spec.validation import spec_error
from cdpkit.sync.config import SyncConfig

log = logging.getLogger("cdpkit.destinations")

MAPPING_CODE = "D060"
"""Diagnostic code: a sync maps a field the destination does not accept."""


def sync_config(syncs: Iterable[SyncConfig], context: SyncContext) -> SyncConfig:
    """The SyncConfig this connector instance serves (the engine hands it in the context)."""
    if isinstance(context.config, SyncConfig):
        return context.config
    for sync in syncs:
        if sync.sync_name == context.sync_name:
            return sync
    raise LookupError(f"sync '{context.sync_name}' is not in the destination's config")


def identifier_field(sync: SyncConfig) -> str | None:
    """The destination field the sync's identifier is mapped to (removals carry only its value)."""
    return next((dest for dest, source in sync.mapping.items() if source == sync.identifier), None)


def check_fields(
    mapping: dict[str, str], allowed: Sequence[str], *, kind: str, upper: bool = False
) -> dict[str, str]:
    """A pydantic `mapping` validator body: every destination field must be one `kind` accepts.

    With `upper`, field names are matched case-insensitively and stored uppercase.
    """
    out: dict[str, str] = {}
    for name, source in mapping.items():
        field = name.upper() if upper else name
        if field not in allowed:
            raise spec_error(
                MAPPING_CODE,
                f"'{name}' is not a field {kind} accepts",
                key=name,
                hint=did_you_mean(field, allowed) or f"one of: {', '.join(allowed)}",
            )
        out[field] = source
    return out


def require_identifier(sync: SyncConfig, keys: Sequence[str], *, kind: str) -> None:
    """The sync's identifier must be mapped to one of `keys` (removals carry only its value)."""
    if identifier_field(sync) not in keys:
        raise spec_error(
            MAPPING_CODE,
            f"the identifier '{sync.identifier}' must be mapped to one of {', '.join(keys)} "
            f"so that {kind} can match and remove members",
            hint=f"add `{keys[0]}: {sync.identifier}` to the mapping",
        )


def json_body(response: requests.Response) -> Any:
    """The response body as JSON, or None when it is empty or not JSON."""
    try:
        return response.json() if response.content else None
    except (ValueError, json.JSONDecodeError):
        return None


def full_resync(plan: PlanInfo) -> bool:
    """Whether the engine asked this run to rebuild the destination list from scratch.

    PlanInfo has no such flag yet; connectors read it defensively so that the engine can add
    `full_resync: bool` to PlanInfo (for `cdpkit sync --full-resync`) without touching them.
    """
    return bool(getattr(plan, "full_resync", False))
