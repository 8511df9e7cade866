"""Where contacts come from: HubSpot's contacts list (the `after` cursor) and a Salesforce SOQL
query (`nextRecordsUrl`). Each source fetches one page per call, so retries wrap single requests.

- HubSpot: `GET /crm/v3/objects/contacts?limit=100&properties=...&after=...` reads every
  contact; the list endpoint cannot filter by date, so incremental runs skip (client side) the
  contacts not updated since the watermark.
- Salesforce: `SELECT ... FROM Contact|Lead WHERE LastModifiedDate >= <watermark> ORDER BY
  LastModifiedDate, Id`: only changed records are read, oldest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cdpkit.crm_import.contacts import ContactRow, Page, text
from cdpkit.destinations.crm_support import iso, utc
from cdpkit.destinations.hubspot_api import HubSpotApi
from cdpkit.destinations.salesforce_api import SalesforceApi

HUBSPOT_PROPERTIES = (
    "email",
    "phone",
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "lifecyclestage",
    "city",
    "country",
)
HUBSPOT_PAGE = 100
SALESFORCE_FIELDS = {
    "Contact": (
        "Id",
        "Email",
        "Phone",
        "FirstName",
        "LastName",
        "Account.Name",
        "Title",
        "MailingCity",
        "MailingCountry",
        "CreatedDate",
        "LastModifiedDate",
    ),
    "Lead": (
        "Id",
        "Email",
        "Phone",
        "FirstName",
        "LastName",
        "Company",
        "Title",
        "City",
        "Country",
        "CreatedDate",
        "LastModifiedDate",
    ),
}


@dataclass(frozen=True)
class Source:
    """A paged reader: `fetch(None)` is the first page, `fetch(page.cursor)` the next."""

    name: str
    fetch: Callable[[str | None], Page]
    server_filtered: bool  # True when the source itself only returns changed records


def hubspot_source(api: HubSpotApi, page_size: int = HUBSPOT_PAGE) -> Source:
    def fetch(cursor: str | None) -> Page:
        params: dict[str, Any] = {"limit": page_size, "properties": ",".join(HUBSPOT_PROPERTIES)}
        if cursor:
            params["after"] = cursor
        data = api.json("GET", "/crm/v3/objects/contacts", params=params)
        rows = tuple(_hubspot_row(r) for r in data.get("results") or [])
        after = ((data.get("paging") or {}).get("next") or {}).get("after")
        return Page(rows, str(after) if after else None)

    return Source("hubspot", fetch, server_filtered=False)


def _hubspot_row(result: dict[str, Any]) -> ContactRow:
    p = result.get("properties") or {}
    return ContactRow(
        crm_id=str(result["id"]),
        email=text(p.get("email")),
        phone=text(p.get("phone")),
        first_name=text(p.get("firstname")),
        last_name=text(p.get("lastname")),
        company=text(p.get("company")),
        job_title=text(p.get("jobtitle")),
        lifecycle_stage=text(p.get("lifecyclestage")),
        city=text(p.get("city")),
        country=text(p.get("country")),
        created_at=utc(result.get("createdAt") or p.get("createdate")),
        updated_at=utc(result.get("updatedAt") or p.get("lastmodifieddate")),
    )


def salesforce_source(api: SalesforceApi, obj: str, since: dt.datetime | None) -> Source:
    fields = SALESFORCE_FIELDS[obj]
    soql = f"SELECT {', '.join(fields)} FROM {obj}"
    if since is not None:
        soql += f" WHERE LastModifiedDate >= {iso(since)}"  # a datetime literal, never user text
    soql += " ORDER BY LastModifiedDate, Id"

    def fetch(cursor: str | None) -> Page:
        if cursor is None:
            data = api.json("GET", f"{api.data_path}/query", params={"q": soql}) or {}
        else:
            data = api.json("GET", cursor) or {}
        rows = tuple(_salesforce_row(obj, r) for r in data.get("records") or [])
        next_url = None if data.get("done", True) else data.get("nextRecordsUrl")
        return Page(rows, str(next_url) if next_url else None)

    return Source("salesforce", fetch, server_filtered=True)


def _salesforce_row(obj: str, r: dict[str, Any]) -> ContactRow:
    if obj == "Contact":
        account = r.get("Account") or {}
        company, city, country = account.get("Name"), r.get("MailingCity"), r.get("MailingCountry")
        stage = None
    else:
        company, city, country, stage = r.get("Company"), r.get("City"), r.get("Country"), "lead"
    return ContactRow(
        crm_id=str(r["Id"]),
        email=text(r.get("Email")),
        phone=text(r.get("Phone")),
        first_name=text(r.get("FirstName")),
        last_name=text(r.get("LastName")),
        company=text(company),
        job_title=text(r.get("Title")),
        lifecycle_stage=stage,
        city=text(city),
        country=text(country),
        created_at=utc(r.get("CreatedDate")),
        updated_at=utc(r.get("LastModifiedDate")),
    )
