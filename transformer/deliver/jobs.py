"""The site import job (`sfcc-site-archive-import`), started and watched through SCAPI Jobs when a
short code and tenant are configured, else through the OCAPI Data API; both behind one interface.

`pending` is no end state; only `finished` with exit code OK means the job ran (its log then says
what it imported). A token is renewed ahead of expiry by the Account Manager and once more when
refused (OCAPI `InvalidAccessTokenException`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol

import requests

from ..http import RetryPolicy, request, with_retries
from .auth import AccountManager, DeliveryError, SfccConnection

JOB = "sfcc-site-archive-import"
ENDED = ("finished", "aborted")
OCAPI_PERMISSIONS = ("Business Manager > Administration > Site Development > Open Commerce API Settings, Data, "
                     "Global (`akeneo-sfcc deliver --print-bm-config` prints what to paste)")


@dataclass(frozen=True)
class Execution:
    id: str
    status: str  # pending, running, ..., finished, aborted (lower case)
    exit_code: str | None  # OK, ERROR
    message: str
    log_path: str | None  # below the WebDAV root (`LOGS/jobs/...` or `Impex/log/...`)

    @property
    def ended(self) -> bool:
        return self.status in ENDED or self.exit_code == "ERROR"

    @property
    def succeeded(self) -> bool:
        return self.status == "finished" and self.exit_code == "OK"


class JobBusy(Exception):
    """Another import of the job runs on the instance; `running` is its execution id when known."""

    def __init__(self, running: str | None):
        super().__init__(running)
        self.running = running


class Jobs(Protocol):
    name: str

    def start(self, archive: str) -> Execution: ...

    def get(self, execution: str) -> Execution: ...

    def running(self) -> str | None: ...


class _Api:
    """What OCAPI and SCAPI share: JSON calls with a bearer token, renewed once when refused."""

    name = ""
    scope = ""

    def __init__(self, connection: SfccConnection, session: requests.Session, account_manager: AccountManager,
                 retry: RetryPolicy, timeout: tuple[float, float] = (10.0, 60.0)):
        self.connection, self.session, self.account_manager = connection, session, account_manager
        self.retry, self.timeout = retry, timeout

    def _call(self, method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
        for _ in range(2):
            token = self.account_manager.token(self.scope)
            headers = {"Authorization": f"Bearer {token}", "x-dw-client-id": self.connection.client_id,
                       "Accept": "application/json"}
            response = with_retries(self.retry, f"{self.name} {url}", lambda: request(
                self.session, method, url, self.timeout, json=body, headers=headers), DeliveryError)
            found = _json(response)
            if response.status_code == 401 and self._refused_token(found):
                self.account_manager.token(self.scope, stale=token)
                continue
            return response.status_code, found
        return response.status_code, found

    def get(self, execution: str) -> Execution:
        status, found = self._call("GET", self._execution_url(execution))
        if status != 200:
            raise self._refusal(status, found, f"reading import execution {execution}")
        return self._execution(found)

    @staticmethod
    def _refused_token(found: dict) -> bool:
        return True


class Ocapi(_Api):
    name = "OCAPI"

    def __init__(self, *args, version: str = "v25_6", **kwargs):
        super().__init__(*args, **kwargs)
        self.base = f"{self.connection.server}/s/-/dw/data/{version}"

    def start(self, archive: str) -> Execution:
        url = f"{self.base}/jobs/{JOB}/executions"
        status, found = self._call("POST", url, {"file_name": archive, "mode": "merge"})
        if _fault(found) == "UnknownPropertyException":  # instances that take the job's parameters only
            status, found = self._call("POST", url, {"parameters": [{"name": "ImportFile", "value": archive}]})
        if _fault(found) == "JobAlreadyRunningException":
            raise JobBusy(self.running())
        if status not in (200, 201, 202):
            raise self._refusal(status, found, f"starting the import of {archive}")
        return self._execution(found)

    def _execution_url(self, execution: str) -> str:
        return f"{self.base}/jobs/{JOB}/executions/{execution}"

    def running(self) -> str | None:
        query = {"query": {"bool_query": {"must": [
            {"term_query": {"fields": ["job_id"], "operator": "is", "values": [JOB]}},
            {"term_query": {"fields": ["status"], "operator": "one_of", "values": ["PENDING", "RUNNING"]}}]}},
            "select": "(**)", "sorts": [{"field": "start_time", "sort_order": "desc"}]}
        status, found = self._call("POST", f"{self.base}/job_execution_search", query)
        hits = found.get("hits") or [] if status == 200 else []
        return str(hits[0]["id"]) if hits and isinstance(hits[0], dict) and hits[0].get("id") else None

    @staticmethod
    def _refused_token(found: dict) -> bool:
        return _fault(found) in ("InvalidAccessTokenException", None)

    @staticmethod
    def _execution(found: dict) -> Execution:
        exit_status = found.get("exit_status") or {}
        path = found.get("log_file_path")
        log = path.removeprefix("/Sites/").lstrip("/") if path else (
            f"Impex/log/{found['log_file_name']}" if found.get("log_file_name") else None)
        return Execution(str(found.get("id")), str(found.get("execution_status") or "unknown").lower(),
                         exit_status.get("code"), str(exit_status.get("message") or ""), log)

    @staticmethod
    def _refusal(status: int, found: dict, doing: str) -> DeliveryError:
        fault = (found.get("fault") or {}) if isinstance(found.get("fault"), dict) else {}
        why = f"{fault.get('type', '')} {fault.get('message', '')}".strip() or f"HTTP {status}"
        hint = f": allow the job resources for the API client in {OCAPI_PERMISSIONS}" if status in (401, 403) else ""
        return DeliveryError(f"OCAPI {doing}: {why}{hint}", retryable=status >= 500)


class Scapi(_Api):
    name = "SCAPI"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        c = self.connection
        self.scope = f"SALESFORCE_COMMERCE_API:{c.tenant} sfcc.jobs.rw"
        self.base = f"{c.scapi}/operation/jobs/v1/organizations/f_ecom_{c.tenant}/jobs/{JOB}/executions"

    def start(self, archive: str) -> Execution:
        status, found = self._call("POST", self.base, {"parameters": [{"name": "ImportFile", "value": archive}]})
        if "job-already-running" in str(found.get("type", "")) or found.get("title") == "Job Already Running":
            raise JobBusy(None)
        if status not in (200, 201, 202):
            raise self._refusal(status, found, f"starting the import of {archive}")
        return self._execution(found)

    def _execution_url(self, execution: str) -> str:
        return f"{self.base}/{execution}"

    def running(self) -> str | None:
        return None  # SCAPI Jobs 1.0 lists no executions: wait and start again

    @staticmethod
    def _execution(found: dict) -> Execution:
        exit_status = found.get("exitStatus") or {}
        path = found.get("logFilePath")
        return Execution(str(found.get("id")), str(found.get("executionStatus") or "unknown").lower(),
                         exit_status.get("code"), str(exit_status.get("message") or ""),
                         path.removeprefix("/Sites/").lstrip("/") if path else None)

    @staticmethod
    def _refusal(status: int, found: dict, doing: str) -> DeliveryError:
        why = f"{found.get('title', '')} {found.get('detail', '')}".strip() or f"HTTP {status}"
        hint = (": the API client needs the Salesforce Commerce API role for this tenant, with scope sfcc.jobs.rw, "
                "in Account Manager") if status in (401, 403) else ""
        return DeliveryError(f"SCAPI {doing}: {why}{hint}", retryable=status >= 500)


def wait(jobs: Jobs, execution: Execution, timeout: float, interval: float, heartbeat: Callable[[], None],
         sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Poll until the execution ends, waiting longer each time (up to ten times the first wait, at
    most 30 s); past `timeout` the outcome is unknown: a retryable error (the next run finds the
    import again, and never starts a second one)."""
    deadline = time.monotonic() + timeout
    longest = min(interval * 10, 30.0)
    while not execution.ended:
        if time.monotonic() > deadline:
            raise DeliveryError(f"import execution {execution.id} still {execution.status} after {timeout:.0f}s "
                                "(--timeout); not started again", retryable=True)
        sleep(interval)
        interval = min(interval * 1.5, longest)
        heartbeat()
        execution = jobs.get(execution.id)
    return execution


def _fault(found: dict) -> str | None:
    fault = found.get("fault")
    return fault.get("type") if isinstance(fault, dict) else None


def _json(response: requests.Response) -> dict:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
