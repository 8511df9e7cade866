"""Google Ads API Customer Match: find/create the list and drive OfflineUserDataJobs.

Flow per run: removals go into one `remove` job, additions into one `create` job; a job is
run (and waited for) before the next is created, so two jobs never run on one list at once.
Operations are confirmed when `addOperations` accepts them (partial failures, by operation
index, are per-record rejections). A job left PENDING by a crash holds confirmed operations:
the next run's `open()` runs it before anything else, and a job still RUNNING makes the next
run stop with a clear message instead of starting a concurrent one.
"""

from __future__ import annotations

import re
import time
from typing import Any

import requests

from cdpkit.destinations.audience_support import json_body, log
from cdpkit.destinations.errors import TerminalError
from cdpkit.destinations.google_auth import TokenExpired, TokenSource
from cdpkit.destinations.google_data_manager import quota_error
from cdpkit.sync.envref import EnvSecret
from cdpkit.sync.http import HttpClient

DEFAULT_BASE = "https://googleads.googleapis.com"
_JOB = re.compile(r"customers/\d+/offlineUserDataJobs/\d+")
DONE = frozenset({"SUCCESS", "FAILED"})


class AdsJobClient:
    """One customer's Customer Match list through the Google Ads API."""

    def __init__(
        self,
        http: HttpClient,
        tokens: TokenSource,
        *,
        base_url: str,
        version: str,
        customer_id: str,
        login_customer_id: str | None,
        developer_token: EnvSecret,
        job_wait_s: float,
        poll_s: float,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.root = f"{base_url.rstrip('/')}/{version}/customers/{customer_id}"
        self.customer_id = customer_id
        self.login_customer_id = login_customer_id
        self.developer_token = developer_token
        self.job_wait_s = job_wait_s
        self.poll_s = poll_s

    # -- lists --
    def find_or_create_list(self, name: str, upload_key_type: str) -> str:
        rows = self.search("SELECT user_list.resource_name, user_list.name FROM user_list")
        for row in rows:
            found = row.get("userList") or {}
            if found.get("name") == name:
                return str(found["resourceName"])
        create = {
            "name": name,
            "description": "Managed by cdpkit",
            "membershipLifeSpan": "10000",
            "crmBasedUserList": {"uploadKeyType": upload_key_type},
        }
        body = self._call("userLists:mutate", {"operations": [{"create": create}]})
        return str(body["results"][0]["resourceName"])

    # -- jobs --
    def open_jobs(self, user_list: str) -> list[dict[str, Any]]:
        """Jobs on `user_list` that are PENDING or RUNNING, oldest first."""
        rows = self.search(
            "SELECT offline_user_data_job.resource_name, offline_user_data_job.status, "
            "offline_user_data_job.customer_match_user_list_metadata.user_list "
            "FROM offline_user_data_job "
            "WHERE offline_user_data_job.status IN ('PENDING', 'RUNNING')"
        )
        jobs = [r.get("offlineUserDataJob") or {} for r in rows]
        mine = [
            j
            for j in jobs
            if (j.get("customerMatchUserListMetadata") or {}).get("userList") == user_list
        ]
        return sorted(mine, key=lambda j: int(str(j.get("resourceName", "/0")).rsplit("/", 1)[1]))

    def settle_previous(self, user_list: str) -> None:
        """Wait for running jobs on the list, then run jobs a crashed run left PENDING."""
        for job in self.open_jobs(user_list):
            name = str(job["resourceName"])
            if job.get("status") == "RUNNING":
                status = self.wait(name)
            else:
                log.warning("running Customer Match job %s left pending by an earlier run", name)
                status = self.run_and_wait(name)
            if status not in DONE:
                raise TerminalError(
                    f"Customer Match job {name} on this list is still {status} after "
                    f"{self.job_wait_s:g}s; rerun once it has finished (jobs can take hours)"
                )

    def create_job(self, user_list: str) -> str:
        job = {
            "type": "CUSTOMER_MATCH_USER_LIST",
            "customerMatchUserListMetadata": {
                "userList": user_list,
                "consent": {"adUserData": "GRANTED", "adPersonalization": "GRANTED"},
            },
        }
        body = self._call("offlineUserDataJobs:create", {"job": job})
        return str(body["resourceName"])

    def add_operations(
        self, job: str, kind: str, items: list[tuple[str, list[dict[str, Any]]]]
    ) -> dict[str, str]:
        """Add `create`/`remove` operations; returns rejected keys -> Google's reasons."""
        operations = [{kind: {"userIdentifiers": identifiers}} for _, identifiers in items]
        body = self._call(
            f"{_job_path(job)}:addOperations",
            {"operations": operations, "enablePartialFailure": True},
        )
        failure = body.get("partialFailureError") if isinstance(body, dict) else None
        rejected: dict[str, str] = {}
        for detail in (failure or {}).get("details") or []:
            for error in detail.get("errors") or []:
                path = (error.get("location") or {}).get("fieldPathElements") or []
                if path and path[0].get("fieldName") == "operations" and "index" in path[0]:
                    index = int(path[0]["index"])
                    if 0 <= index < len(items):
                        code = "/".join(
                            f"{k}.{v}" for k, v in (error.get("errorCode") or {}).items()
                        )
                        rejected.setdefault(
                            items[index][0], f"Google {code}: {error.get('message')}"
                        )
        if failure and not rejected:
            raise TerminalError(f"Google refused the operations: {failure.get('message')}")
        return rejected

    def run_and_wait(self, job: str) -> str:
        self._call(f"{_job_path(job)}:run", {})
        return self.wait(job)

    def wait(self, job: str) -> str:
        """Poll the job until it is done or `job_wait_s` passed; returns its last status."""
        if not _JOB.fullmatch(job):
            raise TerminalError(f"unexpected job resource name {job!r}")
        deadline = time.monotonic() + self.job_wait_s
        status = "UNKNOWN"
        while True:
            rows = self.search(
                "SELECT offline_user_data_job.status, offline_user_data_job.failure_reason "
                "FROM offline_user_data_job "
                f"WHERE offline_user_data_job.resource_name = '{job}' LIMIT 1"
            )
            found = (rows[0].get("offlineUserDataJob") if rows else None) or {}
            status = str(found.get("status", "UNKNOWN"))
            if status == "FAILED":
                log.error("Customer Match job %s failed: %s", job, found.get("failureReason"))
            if status in DONE or time.monotonic() >= deadline:
                return status
            stop = self.http.stop
            if stop is not None and stop.wait(self.poll_s):
                return status
            if stop is None:
                time.sleep(self.poll_s)

    # -- HTTP --
    def search(self, query: str) -> list[dict[str, Any]]:
        body = self._call("googleAds:search", {"query": query})
        return list(body.get("results") or [])

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self.tokens.token()}",
            "developer-token": self.developer_token.reveal(),
        }
        if self.login_customer_id:
            headers["login-customer-id"] = self.login_customer_id
        response = self.http.post(f"{self.root}/{path}", json=body, headers=headers, classify=False)
        if 200 <= response.status_code < 300:
            result = json_body(response)
            return result if isinstance(result, dict) else {}
        raise self._failure(response)

    def _failure(self, response: requests.Response) -> Exception:
        status = response.status_code
        if status == 429:
            return quota_error(response, self.http)
        if status == 401 and self.tokens.can_refresh:
            self.tokens.invalidate()
            return TokenExpired()
        codes, messages = _ads_errors(response)
        detail = "; ".join(messages) or f"HTTP {status}"
        if "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE" in codes:
            return TerminalError(
                "Google closed Customer Match in the Google Ads API to this developer token "
                "(since April 2026 only earlier users keep it); use `api: data_manager`"
            )
        if status in (401, 403):
            return TerminalError(
                f"Google Ads refused access (HTTP {status}: {detail}); check developer_token, "
                "the OAuth token, customer_id and login_customer_id (the manager account)"
            )
        if status >= 500:
            self.http.classify(response)
        return TerminalError(f"Google Ads API error: {detail}")


def _job_path(job: str) -> str:
    if not _JOB.fullmatch(job):
        raise TerminalError(f"unexpected job resource name {job!r}")
    return job.split("/", 2)[2]


def _ads_errors(response: requests.Response) -> tuple[set[str], list[str]]:
    error = (json_body(response) or {}).get("error") or {}
    codes: set[str] = set()
    messages: list[str] = []
    for detail in error.get("details") or []:
        for item in detail.get("errors") or []:
            codes.update(str(v) for v in (item.get("errorCode") or {}).values())
            messages.append(str(item.get("message", "")))
    if not messages and error.get("message"):
        messages.append(str(error["message"]))
    return codes, messages
