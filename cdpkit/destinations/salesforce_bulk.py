"""Bulk API 2.0 ingest jobs for large Salesforce syncs (api-contracts §2.5).

One job per engine batch: create (`POST jobs/ingest`), upload the CSV (`PUT .../batches`,
text/csv), close (`PATCH {"state": "UploadComplete"}`), poll until JobComplete / Failed /
Aborted, then read `successfulResults` (sf__Id, sf__Created) and `failedResults` (sf__Error)
and match rows back to records by the key column (result order is not guaranteed).

A job that fails as a whole with `InvalidBatch`/`InvalidJob` is a configuration problem
(TerminalError); any other failure or abort is retried by the engine with a new job. A poll
that outlives `timeout_s` raises TransientError: the retry resumes polling the same job
(the connector remembers it), so the data is never uploaded twice for one batch.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdpkit.destinations.base import jsonable
from cdpkit.destinations.errors import Stopped, TerminalError, TransientError
from cdpkit.destinations.salesforce_api import SalesforceApi

NULL = "#N/A"  # Bulk API 2.0: set the field to null (a blank cell leaves it unchanged)


class JobFailed(TransientError):
    """The job failed or was aborted for a reason a new job may not hit (lock contention...)."""


@dataclass(frozen=True)
class JobResult:
    job_id: str
    successes: tuple[dict[str, str], ...]
    failures: tuple[dict[str, str], ...]


def to_csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    """CSV with a header of field API names; missing fields blank, None as #N/A."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row, c) for c in columns])
    return out.getvalue().encode("utf-8")


def _cell(row: dict[str, Any], column: str) -> str:
    if column not in row:
        return ""
    value = jsonable(row[column])
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class BulkIngest:
    """Runs ingest jobs for one connector."""

    def __init__(
        self,
        api: SalesforceApi,
        *,
        poll_interval_s: float = 2.0,
        timeout_s: float = 3600.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.api = api
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.stop = stop

    @property
    def base(self) -> str:
        return f"{self.api.data_path}/jobs/ingest"

    def start(
        self, obj: str, operation: str, csv_data: bytes, external_id: str | None = None
    ) -> str:
        """Create the job, upload its data and close it; returns the job id."""
        spec: dict[str, Any] = {
            "object": obj,
            "operation": operation,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        if external_id:
            spec["externalIdFieldName"] = external_id
        job = self.api.json("POST", self.base, json_body=spec, allow=(400,))
        if not isinstance(job, dict) or "id" not in job:
            raise TerminalError(f"Salesforce refused the Bulk API job for {obj}: {job}")
        job_id = str(job["id"])
        self.api.call(
            "PUT",
            f"{self.base}/{job_id}/batches",
            data=csv_data,
            headers={"Content-Type": "text/csv"},
        )
        self.api.call("PATCH", f"{self.base}/{job_id}", json_body={"state": "UploadComplete"})
        return job_id

    def wait(self, job_id: str) -> JobResult:
        """Poll until the job is done, then read its results."""
        started = time.monotonic()
        delay = min(0.25, self.poll_interval_s)
        while True:
            info = self.api.json("GET", f"{self.base}/{job_id}") or {}
            state = info.get("state")
            if state == "JobComplete":
                break
            if state == "Failed":
                message = str(info.get("errorMessage") or "no error message")
                if message.startswith(("InvalidBatch", "InvalidJob")):
                    raise TerminalError(f"Salesforce Bulk API job {job_id} failed: {message}")
                raise JobFailed(f"Salesforce Bulk API job {job_id} failed: {message}")
            if state == "Aborted":
                raise JobFailed(f"Salesforce Bulk API job {job_id} was aborted")
            if time.monotonic() - started > self.timeout_s:
                raise TransientError(
                    f"Salesforce Bulk API job {job_id} still {state} after {self.timeout_s:g}s"
                )
            if self.stop is not None:
                if self.stop.wait(delay):
                    raise Stopped(f"stopped while Bulk API job {job_id} was {state}")
            else:
                time.sleep(delay)
            delay = min(self.poll_interval_s, delay * 1.5)
        return JobResult(
            job_id,
            tuple(self._rows(job_id, "successfulResults")),
            tuple(self._rows(job_id, "failedResults")),
        )

    def _rows(self, job_id: str, kind: str) -> list[dict[str, str]]:
        response = self.api.call("GET", f"{self.base}/{job_id}/{kind}/")
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
