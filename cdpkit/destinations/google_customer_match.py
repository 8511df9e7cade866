"""`type: google_customer_match`: a Google Ads Customer Match list.

```yaml
# destinations/google.yml
type: google_customer_match
api: data_manager                      # or google_ads (OfflineUserDataJobs, allowlisted tokens)
customer_id: "1234567890"              # the Google Ads account that owns the list
login_customer_id: "9876543210"        # the manager account, when acting through one
user_list_id: "5550001"                # or omit it (with developer_token): found by name
refresh_token: ${GOOGLE_REFRESH_TOKEN} # or access_token: ${GOOGLE_ACCESS_TOKEN}
client_id: ${GOOGLE_CLIENT_ID}
client_secret: ${GOOGLE_CLIENT_SECRET}
default_region: US
syncs:
  - audience: high_value
    mode: mirror
    identifier: email
    mapping: {email: email, phone: phone, first_name: first_name, last_name: last_name,
              country: country, postal_code: zip}
```

Data Manager (default): `audienceMembers:ingest` / `:remove`, ≤ 10,000 members per request,
hex SHA-256 identifiers normalized by `cdpkit.matchkeys` (gmail dots and `+tags` removed, as
the Data Manager formatting guide asks), consent granted (the engine only sends customers
with advertising consent). Google Ads API (`api: google_ads`): see `google_ads_jobs`. Quota
errors wait their `retryDelay`; a used-up daily quota defers the run (`QuotaExhausted`, resets
at midnight Pacific Time), the next one resumes. Removals send every identifier last uploaded.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cdpkit.destinations.audience_support import (
    check_fields,
    identifier_field,
    require_identifier,
    sync_config,
)
from cdpkit.destinations.base import (
    Batch,
    BatchResult,
    Destination,
    PlanInfo,
    RateLimit,
    RunSummary,
)
from cdpkit.destinations.errors import TerminalError
from cdpkit.destinations.google_ads_jobs import DEFAULT_BASE as ADS_BASE
from cdpkit.destinations.google_ads_jobs import DONE, AdsJobClient
from cdpkit.destinations.google_auth import OAuthSettings, TokenExpired, TokenSource
from cdpkit.destinations.google_data_manager import DEFAULT_BASE as DM_BASE
from cdpkit.destinations.google_data_manager import DataManagerClient
from cdpkit.matchkeys import InvalidPolicy, build_google_keys
from cdpkit.matchkeys.google import GOOGLE_FIELDS, ads_user_identifiers, data_manager_member
from cdpkit.matchkeys.normalize import country as normalize_country
from cdpkit.matchkeys.values import InvalidValue
from cdpkit.spec.validation import spec_error
from cdpkit.sync.config import DestinationConfig, SyncConfig
from cdpkit.sync.envref import EnvText, Secret, Text

IDENTIFIER_FIELDS = ("email", "phone", "crm_id", "mobile_id")
UploadKeyType = Literal["CONTACT_INFO", "CRM_ID", "MOBILE_ADVERTISING_ID"]


class GoogleSync(SyncConfig):
    """A sync whose mapping keys are Customer Match fields (email, phone, first_name, ...)."""

    @field_validator("mapping")
    @classmethod
    def _google_fields(cls, mapping: dict[str, str]) -> dict[str, str]:
        return check_fields(mapping, GOOGLE_FIELDS, kind="Google Customer Match")

    @model_validator(mode="after")
    def _identifier_mapped(self) -> GoogleSync:
        require_identifier(self, IDENTIFIER_FIELDS, kind="Google")
        return self


class GoogleCustomerMatchConfig(DestinationConfig):
    """A Customer Match list in a Google Ads account."""

    type: Literal["google_customer_match"]
    api: Literal["data_manager", "google_ads"] = "data_manager"
    base_url: Text = Field(default_factory=lambda: EnvText(DM_BASE))
    ads_base_url: Text = Field(default_factory=lambda: EnvText(ADS_BASE))
    ads_api_version: str = Field(default="v23", pattern=r"^v\d+$")
    token_url: Text = Field(default_factory=lambda: EnvText("https://oauth2.googleapis.com/token"))
    customer_id: Text
    login_customer_id: Text | None = None
    user_list_id: Text | None = None
    upload_key_type: UploadKeyType = "CONTACT_INFO"
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    client_id: Text | None = None
    client_secret: Secret | None = None
    developer_token: Secret | None = None
    default_region: str | None = None
    gmail_canonical: bool | None = None
    on_invalid_value: InvalidPolicy = "reject"
    job_wait_s: float = Field(default=600.0, gt=0, le=86_400)
    job_poll_s: float = Field(default=10.0, gt=0, le=3600)
    syncs: list[GoogleSync] = Field(min_length=1)  # type: ignore[assignment]

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_country(value)
        except InvalidValue as invalid:
            raise ValueError(invalid.reason) from None

    @model_validator(mode="after")
    def _credentials(self) -> GoogleCustomerMatchConfig:
        if self.access_token is None and self.refresh_token is None:
            raise spec_error(
                "D061",
                "Google needs credentials: access_token, or refresh_token with client_id and "
                "client_secret",
                hint="refresh_token: ${GOOGLE_REFRESH_TOKEN}",
            )
        if self.refresh_token is not None and (
            self.client_id is None or self.client_secret is None
        ):
            raise spec_error("D061", "refresh_token needs client_id and client_secret")
        if self.developer_token is None and (self.api == "google_ads" or self.user_list_id is None):
            raise spec_error(
                "D061",
                "developer_token is required for api: google_ads, and to find or create the list "
                "by name when user_list_id is not given",
            )
        return self


class GoogleCustomerMatchDestination(Destination):
    type = "google_customer_match"
    config_model = GoogleCustomerMatchConfig
    description = "Google Ads Customer Match (Data Manager API, or Google Ads API jobs)"
    max_batch_size = 10_000
    default_batch_size = 10_000
    rate_limit = RateLimit(per_second=5, burst=5)  # Data Manager: 300 requests/minute
    max_concurrency = 2
    default_consent: ClassVar[str | None] = "advertising"
    removals_with_fields = True  # remove with every identifier uploaded: exact matches

    config: GoogleCustomerMatchConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        self._sync = sync_config(cfg.syncs, self.sync)
        self.identifier = identifier_field(self._sync) or "email"
        self.gmail = (
            cfg.gmail_canonical if cfg.gmail_canonical is not None else cfg.api == "data_manager"
        )
        self.tokens = TokenSource(
            OAuthSettings(
                cfg.access_token, cfg.refresh_token, cfg.client_id, cfg.client_secret, cfg.token_url
            ),
            self.http,
        )
        self.ads: AdsJobClient | None = None
        if cfg.developer_token is not None:
            self.ads = AdsJobClient(
                self.http,
                self.tokens,
                base_url=cfg.ads_base_url.resolve(),
                version=cfg.ads_api_version,
                customer_id=_digits(cfg.customer_id),
                login_customer_id=_digits(cfg.login_customer_id) if cfg.login_customer_id else None,
                developer_token=cfg.developer_token,
                job_wait_s=cfg.job_wait_s,
                poll_s=cfg.job_poll_s,
            )
        self.dm: DataManagerClient | None = None
        self.user_list = ""
        self._job: tuple[str, str] | None = None  # (kind, resource name) of the open job
        self._job_lock = threading.Lock()
        self._stuck: str | None = None  # a job that did not finish: start no other

    def account_key(self) -> str:
        """Data Manager meters per Google Cloud project (the OAuth client); Google Ads per token."""
        cfg = self.config
        client = cfg.client_id.resolve() if cfg.client_id else str(cfg.access_token)
        return f"{self.type}:{cfg.base_url.resolve()}:{cfg.api}:{client}:{cfg.developer_token}"

    # -- lifecycle --
    def check(self) -> None:
        for attempt in (1, 2):  # a rejected token is refreshed once
            try:
                if self.ads is not None:
                    self.ads.search("SELECT user_list.id FROM user_list LIMIT 1")
                else:
                    self._data_manager("").probe()
                return
            except TokenExpired:
                if attempt == 2 or not self.tokens.can_refresh:
                    raise TerminalError(
                        "Google refused the OAuth token; check the credentials"
                    ) from None

    def open(self, plan: PlanInfo) -> None:
        cfg = self.config
        if cfg.user_list_id is not None:
            list_id = cfg.user_list_id.resolve().strip()
            self.user_list = f"customers/{_digits(cfg.customer_id)}/userLists/{list_id}"
        else:
            assert self.ads is not None
            self.user_list = self.ads.find_or_create_list(self.sync.list_name, cfg.upload_key_type)
        if cfg.api == "google_ads":
            assert self.ads is not None
            self.ads.settle_previous(self.user_list)
        else:
            self.dm = self._data_manager(self.user_list.rsplit("/", 1)[1])

    def _data_manager(self, list_id: str) -> DataManagerClient:
        cfg = self.config
        return DataManagerClient(
            self.http,
            self.tokens,
            account_id=_digits(cfg.customer_id),
            login_account_id=_digits(cfg.login_customer_id) if cfg.login_customer_id else None,
            list_id=list_id,
        )

    def upsert(self, batch: Batch) -> BatchResult:
        return self._send(batch, "create")

    def remove(self, batch: Batch) -> BatchResult:
        return self._send(batch, "remove")

    def close(self, summary: RunSummary) -> None:
        # Operations already accepted were confirmed: the job runs whatever the run's outcome.
        with self._job_lock:
            self._finish_job()

    # -- sending --
    def _send(self, batch: Batch, kind: str) -> BatchResult:
        removal = kind == "remove"
        keyed: list[tuple[str, Any]] = []
        rejected: dict[str, str] = {}
        for record in batch.records:
            # Removals carry every identifier last uploaded (from the sync state) when known,
            # so Google removes exactly the member it matched; else the identifier alone.
            values: dict[str, Any] = dict(record.fields)
            if removal and not values:
                values = {self.identifier: record.key}
            keys = build_google_keys(
                values, default_region=self.config.default_region, gmail_canonical=self.gmail
            )
            policy: InvalidPolicy = self.config.on_invalid_value
            if removal:  # a stale invalid value is dropped rather than keep the member listed
                policy = "drop" if record.fields else "reject"
            reason = keys.rejection(policy)
            if reason:
                rejected[record.key] = reason
            else:
                keyed.append((record.key, keys))
        if not keyed:
            return BatchResult(rejected=rejected)
        if self.config.api == "data_manager":
            assert self.dm is not None
            members = [(key, data_manager_member(keys)) for key, keys in keyed]
            refused = self.dm.send("remove" if removal else "ingest", members)
        else:
            items = [(key, ads_user_identifiers(keys)) for key, keys in keyed]
            with self._job_lock:  # one job at a time; operations go into the open job
                refused = self._add_to_job(kind, items)
        return BatchResult(rejected={**rejected, **refused})

    def _add_to_job(
        self, kind: str, items: list[tuple[str, list[dict[str, Any]]]]
    ) -> dict[str, str]:
        assert self.ads is not None
        if self._job is not None and self._job[0] != kind:
            self._finish_job()  # adds and removes never share a job, nor run at the same time
        if self._job is None:
            self._job = (kind, self.ads.create_job(self.user_list))
        return self.ads.add_operations(self._job[1], kind, items)

    def _finish_job(self) -> None:
        if self._job is None or self.ads is None or self._stuck is not None:
            return
        kind, job = self._job
        self._job = None
        status = self.ads.run_and_wait(job)
        if status not in DONE:
            self._stuck = (
                f"the Customer Match {kind} job {job} is still {status} after "
                f"{self.config.job_wait_s:g}s; the next run waits for it before sending more"
            )
            raise TerminalError(self._stuck)


def _digits(value: EnvText | None) -> str:
    return "".join(ch for ch in (value.resolve() if value else "") if ch.isdigit())
