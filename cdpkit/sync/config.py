"""Typed models of `destinations/*.yml`: one destination instance and its syncs.

Each connector subclasses `DestinationConfig` with its own fields (secrets typed `Secret`) and
a `type: Literal[...]`; the shared keys below mean the same for every connector.

```yaml
# destinations/crm_hook.yml  (the file name is the destination name)
type: webhook
base_url: ${CRM_HOOK_URL:-http://127.0.0.1:8787/webhook/crm}
signing_secret: ${CRM_HOOK_SECRET}
rate_limit: {requests_per_second: 20}
syncs:
  - audience: pricing_lurkers
    mode: mirror                    # upsert | mirror | add_only
    identifier: email               # the audience field that keys records in the destination
    mapping: {email: email, ltv: total_revenue}   # destination field <- audience field
    schedule: "0 * * * *"           # or {cron: "0 6 * * *", timezone: Europe/Paris,
                                    #     build_before: true}  (dbt build first when due)
```
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cdpkit.spec.validation import spec_error
from cdpkit.sync.envref import Text

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_NAME = re.compile(NAME_PATTERN)

Mode = Literal["upsert", "mirror", "add_only"]
Consent = Literal["marketing", "advertising", "none"]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]


class Strict(BaseModel):
    """User input: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitConfig(Strict):
    """Token bucket shared by every sync of this destination account."""

    requests_per_second: float = Field(gt=0, le=100_000)
    burst: int | None = Field(default=None, ge=1, le=100_000)


class RetryConfig(Strict):
    """Exponential backoff with full jitter for transient failures."""

    max_attempts: int = Field(default=8, ge=1, le=100)
    base_delay_s: float = Field(default=0.5, gt=0, le=600)
    max_delay_s: float = Field(default=60.0, gt=0, le=3600)
    max_elapsed_s: float = Field(default=900.0, gt=0, le=86_400)


class SafetyConfig(Strict):
    """Apply refuses to run past these unless `--allow-large-removals` is given."""

    max_removal_percent: float = Field(default=20.0, ge=0, le=100)
    allow_empty: bool = False


class ScheduleConfig(Strict):
    """A cron expression (5 fields), evaluated in `timezone` (default UTC).

    `build_before: true`: the scheduler (`cdpkit schedule run`, `cdpkit run`, crontab lines)
    runs `cdpkit build` (dbt) before this sync whenever it is due, so it sends fresh marts.
    """

    cron: str
    timezone: str = "UTC"
    build_before: bool = False

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value) or len(value.split()) not in (5, 6):
            raise spec_error(
                "D030",
                f"invalid cron expression '{value}'",
                hint="five fields: minute hour day-of-month month day-of-week, e.g. '0 * * * *'",
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise spec_error(
                "D031", f"unknown time zone '{value}'", hint="an IANA name like 'Europe/Paris'"
            ) from None
        return value


class SyncConfig(Strict):
    """One audience sent to this destination."""

    name: Name | None = None
    audience: Name
    mode: Mode = "upsert"
    identifier: str = Field(min_length=1)
    mapping: dict[str, str] = Field(default_factory=dict)
    skip_nulls: bool = True
    list: str | None = Field(default=None, min_length=1)
    schedule: ScheduleConfig | None = None
    build_before: bool = False  # same as `schedule: {build_before: true}`
    require_consent: Consent | None = None
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("schedule"), str):
            data["schedule"] = {"cron": data["schedule"]}
        if isinstance(data.get("mapping"), list) and all(
            isinstance(x, str) for x in data["mapping"]
        ):
            data["mapping"] = {x: x for x in data["mapping"]}
        return data

    @property
    def sync_name(self) -> str:
        return self.name or self.audience

    @property
    def list_name(self) -> str:
        return self.list or self.audience


class DestinationConfig(Strict):
    """Keys every destination file shares; connectors add their own."""

    type: str
    base_url: Text | None = None
    batch_size: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1, le=64)
    rate_limit: RateLimitConfig | None = None
    retry: RetryConfig = Field(default_factory=RetryConfig)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    syncs: list[SyncConfig] = Field(min_length=1)


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name)) and len(name) <= 63
