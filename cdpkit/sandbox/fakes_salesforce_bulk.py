"""Bulk API 2.0 ingest jobs in the Salesforce fake: the state machine and CSV processing.

Open -(PUT text/csv, once unless `multiple_uploads`)-> Open -(PATCH UploadComplete)->
UploadComplete -> InProgress -> JobComplete | Failed, on a timer (`processing_delay_s`), read
lazily when the job is fetched; Aborted from any state before completion. The header row must
name fields of the object, and an upsert must carry its external id column, else the job
fails with `InvalidBatch : ...`. Row results keep Salesforce's shapes (`sf__Id`, `sf__Created`,
`sf__Error` + the original columns) in no particular order. Blank cells leave fields
unchanged; `#N/A` sets them to null.
"""

from __future__ import annotations

import csv
import io
import random
import time
from dataclasses import dataclass, field
from typing import Any

from cdpkit.sandbox.fakes_salesforce_data import Org, RecordError, RequestError, sf_time

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
FINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class Job:
    id: str
    object: str
    operation: str
    external_id: str | None
    line_ending: str
    version: str
    created: float
    state: str = "Open"
    uploads: list[bytes] = field(default_factory=list)
    closed_at: float | None = None
    error: str = ""
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    unprocessed: list[dict[str, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "005Dn000000000001",
            "createdDate": sf_time(self.created),
            "systemModstamp": sf_time(time.time()),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "jobType": "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": "COMMA",
            "contentUrl": f"services/data/v{self.version}/jobs/ingest/{self.id}/batches",
            "numberRecordsProcessed": len(self.successes) + len(self.failures),
            "numberRecordsFailed": len(self.failures),
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }
        if self.external_id:
            info["externalIdFieldName"] = self.external_id
        if self.error:
            info["errorMessage"] = self.error
        return info


class BulkIngest:
    """Every ingest job of the org."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}
        self.processing_delay_s = 0.05
        self.multiple_uploads = False
        self.shuffle = True
        self._n = 0

    def create(self, body: Any, version: str) -> Job:
        if not isinstance(body, dict):
            raise RequestError("INVALIDJOB", "expected a JSON job definition")
        obj, operation = body.get("object"), body.get("operation")
        if operation not in OPERATIONS:
            raise RequestError("INVALIDJOB", f"Invalid operation: {operation}")
        if not isinstance(obj, str) or obj not in self.org.schema:
            raise RequestError("INVALIDJOB", f"Unable to find object: {obj}")
        if (
            body.get("contentType", "CSV") != "CSV"
            or body.get("columnDelimiter", "COMMA") != "COMMA"
        ):
            raise RequestError("INVALIDJOB", "Only CSV with COMMA delimiters is supported")
        ext = body.get("externalIdFieldName")
        if operation == "upsert":
            if not ext:
                raise RequestError("INVALIDJOB", "External ID field is required for upsert")
            try:
                self.org.external_field(obj, ext)
            except RequestError:
                raise RequestError(
                    "INVALIDJOB", f"Field {ext} is not an External ID field on {obj}"
                ) from None
        self._n += 1
        job = Job(
            id=f"750Dn{self._n:013d}",
            object=obj,
            operation=operation,
            external_id=ext,
            line_ending=str(body.get("lineEnding", "LF")),
            version=version,
            created=time.time(),
        )
        self.jobs[job.id] = job
        return job

    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise RequestError("NOT_FOUND", f"Job {job_id} not found", 404)
        self._advance(job)
        return job

    def upload(self, job_id: str, content_type: str, data: bytes) -> None:
        job = self.job(job_id)
        if not content_type.lower().startswith("text/csv"):
            raise RequestError(
                "INVALIDCONTENTTYPE", f"Unsupported content type {content_type!r}: use text/csv"
            )
        if job.state != "Open":
            raise RequestError(
                "INVALIDJOBSTATE", f"Job {job_id} is not open for upload (state {job.state})"
            )
        if job.uploads and not self.multiple_uploads:
            raise RequestError("INVALIDJOBSTATE", f"Job {job_id} already has its data uploaded")
        job.uploads.append(data)

    def set_state(self, job_id: str, body: Any) -> Job:
        job = self.job(job_id)
        wanted = body.get("state") if isinstance(body, dict) else None
        if wanted == "UploadComplete":
            if job.state != "Open":
                raise RequestError(
                    "INVALIDJOBSTATE", f"Job {job_id} cannot be closed in state {job.state}"
                )
            job.state = "UploadComplete"
            job.closed_at = time.time()
            self._advance(job)
        elif wanted == "Aborted":
            if job.state in FINAL:
                raise RequestError(
                    "INVALIDJOBSTATE", f"Job {job_id} cannot be aborted in state {job.state}"
                )
            job.state = "Aborted"
            job.unprocessed = [row for data in job.uploads for row in _rows(data)[1]]
        else:
            raise RequestError("INVALIDJOBSTATE", f"Unsupported state change {wanted!r}")
        return job

    def results(self, job_id: str, kind: str) -> str:
        job = self.job(job_id)
        if kind == "unprocessedrecords":
            return _csv(job.header, [], job.unprocessed)
        if job.state not in ("JobComplete", "Failed"):
            raise RequestError(
                "INVALIDJOBSTATE", f"Results are not available while the job is {job.state}"
            )
        if kind == "successfulResults":
            return _csv(job.header, ["sf__Id", "sf__Created"], job.successes)
        return _csv(job.header, ["sf__Id", "sf__Error"], job.failures)

    # -- processing ----------------------------------------------------------------------------
    def _advance(self, job: Job) -> None:
        if job.state not in ("UploadComplete", "InProgress") or job.closed_at is None:
            return
        elapsed = time.time() - job.closed_at
        if elapsed >= self.processing_delay_s:
            self._process(job)
        elif elapsed >= self.processing_delay_s / 2:
            job.state = "InProgress"

    def _process(self, job: Job) -> None:
        org = self.org
        with org.lock:
            rows: list[dict[str, str]] = []
            for data in job.uploads:
                header, part = _rows(data)
                if job.header and header != job.header:
                    return self._fail(job, "InvalidBatch : all uploads must share one header row")
                job.header = header
                rows.extend(part)
            fields = org.schema[job.object]
            for name in job.header:
                if name not in fields:
                    return self._fail(job, f"InvalidBatch : Field name not found : {name}")
            if job.operation == "upsert" and job.external_id not in job.header:
                return self._fail(
                    job, f"InvalidBatch : The external id field {job.external_id} is missing"
                )
            if job.operation in ("update", "delete", "hardDelete") and "Id" not in job.header:
                return self._fail(job, "InvalidBatch : Id column is required")
            counts: dict[str, int] = {}
            if job.operation == "upsert":
                for row in rows:
                    key = (row.get(job.external_id or "") or "").strip().lower()
                    counts[key] = counts.get(key, 0) + 1
            for row in rows:
                self._row(job, row, counts)
            if self.shuffle:
                random.shuffle(job.successes)
                random.shuffle(job.failures)
            job.state = "JobComplete"

    def _row(self, job: Job, row: dict[str, str], counts: dict[str, int]) -> None:
        org = self.org
        values = {k: (None if v == "#N/A" else v) for k, v in row.items() if v != ""}
        try:
            if job.operation == "upsert":
                ext = job.external_id or ""
                if counts.get((row.get(ext) or "").strip().lower(), 0) > 1:
                    raise RecordError(
                        "DUPLICATE_EXTERNAL_ID",
                        f"Duplicate external id specified: {row.get(ext)}",
                        [ext],
                    )
                rid, created = org.upsert(
                    job.object, ext, org.coerce(job.object, values, text=True)
                )
            elif job.operation == "insert":
                rid, created = (
                    org.create(job.object, org.coerce(job.object, values, text=True)),
                    True,
                )
            elif job.operation == "update":
                rid = str(values.pop("Id", ""))
                if rid not in org.records[job.object]:
                    raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
                org.update(job.object, rid, org.coerce(job.object, values, text=True))
                created = False
            else:
                rid = str(values.get("Id", ""))
                org.delete(rid)
                created = False
        except RecordError as error:
            job.failures.append({"sf__Id": "", "sf__Error": error.bulk(), **row})
            return
        job.successes.append({"sf__Id": rid, "sf__Created": str(created).lower(), **row})

    def _fail(self, job: Job, message: str) -> None:
        job.state = "Failed"
        job.error = message


def _rows(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    lines = [line for line in reader if line]
    if not lines:
        return [], []
    header = lines[0]
    return header, [dict(zip(header, line, strict=False)) for line in lines[1:]]


def _csv(header: list[str], extra: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow([*extra, *header])
    for row in rows:
        writer.writerow([row.get(c, "") for c in [*extra, *header]])
    return out.getvalue()
