"""A fake Salesforce Commerce Cloud for delivery tests: Account Manager, WebDAV, OCAPI and SCAPI site imports.

One cheroot server on 127.0.0.1 serves what a delivery client talks to (shared/reference/sfcc-delivery.md §1):
the client-credentials token, whose Basic header must be form-encoded before Base64 (§1.1); a real WsgiDAV
share on a folder (§1.2, the recipe of §2.1); and the `sfcc-site-archive-import` job through OCAPI (snake_case,
`fault` bodies) and SCAPI (camelCase, problem+json), which share one state machine and the one-import-at-a-time
rule (§1.3, §1.4). The job does real work when it ends: it opens the uploaded zip, checks the layout
(sfcc-xml.md §10), validates every XML file against the official XSDs, counts the elements and writes a log with
`Processed ...` and `[DATAERROR]` lines in both log locations (§1.5). It is written from the reference, not from
the client in transformer/deliver/, so that a client mistake fails a test instead of agreeing with the fake.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import threading
import time
import zipfile
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, quote_plus

from cheroot import wsgi
from lxml import etree
from wsgidav.fs_dav_provider import FilesystemProvider
from wsgidav.wsgidav_app import WsgiDAVApp

MOUNT = "/on/demandware.servlet/webdav/Sites"
TOKEN_PATH = "/dwsso/oauth2/access_token"
OCAPI_ROOT, SCAPI_ROOT = "/s/-/dw/data", "/operation/jobs/v1/organizations"
JOB = "sfcc-site-archive-import"
INSTANCE, OLD_LOGS, JOB_LOGS = "Impex/src/instance", "Impex/log", f"LOGS/jobs/{JOB}"
OCAPI_ROUTE = re.compile(r"/(?P<v>v\d+_\d+)/(?:jobs/(?P<job>[^/]+)/executions(?:/(?P<id>[^/]+))?"
                         r"|(?P<search>job_execution_search))/?")
SCAPI_ROUTE = re.compile(r"/(?P<org>[^/]+)/jobs/(?P<job>[^/]+)/executions(?:/(?P<id>[^/]+))?/?")
SCAPI_ERRORS = "https://api.commercecloud.salesforce.com/documentation/error/v1/errors/"
# One refusal, two dialects: OCAPI's (status, fault type) and SCAPI's (status, problem title; type = slug).
OCAPI_FAULTS = {"path": (404, "ResourcePathNotFoundException"), "token": (401, "InvalidAccessTokenException"),
                "method": (405, "MethodNotAllowedException"), "body": (400, "InvalidParameterException"),
                "property": (400, "UnknownPropertyException"), "job": (404, "JobNotFoundException"),
                "execution": (404, "JobExecutionNotFoundException"), "file": (404, "FileNotFoundException"),
                "busy": (400, "JobAlreadyRunningException")}
SCAPI_PROBLEMS = {"path": (404, "Not Found"), "token": (401, "Unauthorized"), "scope": (403, "Forbidden"),
                  "method": (405, "Method Not Allowed"), "body": (400, "Bad Request"), "job": (404, "Job Not Found"),
                  "execution": (404, "Job Execution Not Found"), "file": (404, "File Not Found"),
                  "busy": (409, "Job Already Running")}
# Top folders of an archive, in the order the import processes them (sfcc-xml.md §10).
FOLDERS = ("meta", "catalogs", "pricebooks", "inventory-lists", "libraries", "custom-objects", "sites")
SCHEMAS = {"catalog": "catalog.xsd", "pricebooks": "pricebook.xsd", "library": "library.xsd",
           "metadata": "metadata.xsd", "custom-objects": "customobject.xsd", "inventory": "inventory.xsd"}
# Records counted below the root's own children (which are all counted, except the header).
NESTED = {"pricebooks": {"price-table"}, "metadata": {"attribute-definition"}, "inventory": {"record"}}

Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Recorded:
    """One request as received (path percent-decoded, without the query). WebDAV bodies are not kept: they
    are files, streamed to WsgiDAV; API bodies are."""
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class _Execution:
    """One run of the import job, shared by both APIs; `seen` counts the GETs answered in the current state."""
    id: str
    file: str
    api: str
    log_name: str
    started: datetime
    mode: str = "merge"
    state: str = "pending"
    seen: int = 0
    exit: dict | None = None
    ended: datetime | None = None


class _Refusal(Exception):
    """An API error by kind (a key of OCAPI_FAULTS / SCAPI_PROBLEMS); each API words it in its own dialect."""
    def __init__(self, kind: str, message: str, **arguments):
        super().__init__(message)
        self.kind, self.message, self.arguments = kind, message, arguments


def _json(status: int, data: object, content_type: str = "application/json") -> Response:
    return status, {"Content-Type": content_type}, json.dumps(data).encode()


def _send(start_response, reply: Response) -> list[bytes]:
    status, headers, body = reply
    start_response(f"{status} {HTTPStatus(status).phrase}", [*headers.items(), ("Content-Length", str(len(body)))])
    return [body]


def _reply(api: str, path: str, refusal: _Refusal) -> Response:
    """An OCAPI fault document `{"_v", "fault": {type, message, arguments}}` or a SCAPI problem+json."""
    if api == "ocapi":
        status, kind = OCAPI_FAULTS[refusal.kind]
        version = re.match(r"/(?:s/-/dw/data/)?v(\d+)_(\d+)", path)
        fault = {"type": kind, "message": refusal.message, **({"arguments": refusal.arguments} if refusal.arguments
                                                                else {})}
        return _json(status, {"_v": ".".join(version.groups()) if version else "25.6", "fault": fault})
    status, title = SCAPI_PROBLEMS[refusal.kind]
    return _json(status, {"type": SCAPI_ERRORS + title.lower().replace(" ", "-"), "title": title,
                          "detail": refusal.message}, "application/problem+json")


def _scripted(path: str, status: int) -> Response:
    """A status scripted by `fail()`, in the error dialect of the route it hits."""
    phrase = HTTPStatus(status).phrase
    if path.startswith(OCAPI_ROOT):
        kind = "InvalidAccessTokenException" if status == 401 else phrase.title().replace(" ", "") + "Exception"
        return _json(status, {"_v": "25.6", "fault": {"type": kind, "message": f"{phrase} (scripted)"}})
    if path.startswith(SCAPI_ROOT):
        return _json(status, {"type": SCAPI_ERRORS + phrase.lower().replace(" ", "-"), "title": phrase,
                              "detail": f"{phrase} (scripted)"}, "application/problem+json")
    if path == TOKEN_PATH:
        return _json(status, {"error": "invalid_client" if status == 401 else "server_error",
                              "error_description": f"{phrase} (scripted)"})
    return status, {"Content-Type": "text/plain"}, phrase.encode()


def _iso(when: datetime | None) -> str | None:
    return when and when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _camel(data: object) -> object:
    """OCAPI's snake_case document as SCAPI's camelCase one (`_v`/`_type` dropped), so both say the same."""
    if isinstance(data, list):
        return [_camel(item) for item in data]
    if not isinstance(data, dict):
        return data
    return {re.sub(r"_(\w)", lambda m: m[1].upper(), key): _camel(value)
            for key, value in data.items() if not key.startswith("_")}


def _matches(query: object, doc: dict) -> bool:
    """The OCAPI search subset clients send (term_query, bool_query, filtered_query, match_all_query); other
    query kinds match everything, so a lenient client still finds the running execution."""
    if not isinstance(query, dict) or not query:
        return True
    kind, spec = next(iter(query.items()))
    spec = spec if isinstance(spec, dict) else {}
    if kind in ("term_query", "term_filter"):
        wanted = {str(v).lower() for v in spec.get("values") or []}
        hit = any(str(doc.get(f, "")).lower() in wanted for f in spec.get("fields") or [spec.get("field")])
        return hit != (spec.get("operator") in ("not_in", "is_not"))
    if kind in ("bool_query", "filtered_query"):
        return all(_matches(q, doc) for q in [*(spec.get("must") or []), spec.get("query"), spec.get("filter")])
    return True


def _json_body(body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise _Refusal("body", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise _Refusal("body", "The request body must be a JSON object.")
    return data


def _parameters(data: dict) -> dict:
    items = data.get("parameters")
    return {p.get("name"): p.get("value") for p in items if isinstance(p, dict)} if isinstance(items, list) else {}


class FakeSfcc:
    """Account Manager, WebDAV (a real WsgiDAV), OCAPI and SCAPI jobs on one cheroot server on 127.0.0.1."""

    def __init__(self, root: Path, *, client_id: str = "client-id", client_secret: str = "s3cr+t%",
                 tenant: str = "zzxy_prd", short_code: str = "kv7kzm78", token_lifetime: float = 1799,
                 webdav_user: str | None = None, webdav_password: str | None = None,
                 upload_limit: int | None = None, xsd_dir: Path | None = None):
        self.client_id, self._secret, self.tenant, self.short_code = client_id, client_secret, tenant, short_code
        self.token_lifetime, self.upload_limit = token_lifetime, upload_limit
        self._webdav_basic = [webdav_user, webdav_password] if webdav_user and webdav_password else None
        self.xsd_dir = Path(xsd_dir or os.environ.get("SFCC_XSD_DIR") or Path(__file__).parents[2] / "shared/sfcc-xsd")
        self.sites = Path(root) / "Sites"
        self.url = ""
        self.requests: list[Recorded] = []
        self.imports: list[dict] = []
        self.tokens_issued = 0
        self.polls_pending, self.polls_running = 1, 1
        self.outcomes: list[str] = []
        self.bad_products: set[str] = set()   # empty: ids starting with "BAD-" are the bad ones
        self.warn_products: set[str] = set()  # empty: ids starting with "WARN-" import with a [DATAWARNING]
        self.unknown_property = False
        self._lock = threading.RLock()
        self._tokens: dict[str, tuple[float, str]] = {}  # access token -> (monotonic expiry, scope)
        self._faults: list[tuple[re.Pattern, deque]] = []
        self._executions: dict[str, _Execution] = {}
        self._schemas: dict[str, etree.XMLSchema] = {}
        self._server: wsgi.Server | None = None

    def start(self) -> "FakeSfcc":
        """Create the share's folders, bind an ephemeral port (no race: prepare() binds) and serve in a thread."""
        for folder in (INSTANCE, OLD_LOGS, "LOGS/jobs"):
            (self.sites / folder).mkdir(parents=True, exist_ok=True)
        dav = WsgiDAVApp({  # sfcc-delivery.md §2.1; anonymous behind our own guard
            "mount_path": MOUNT, "provider_mapping": {"/": FilesystemProvider(str(self.sites))},
            "http_authenticator": {"domain_controller": None, "accept_basic": True, "accept_digest": False,
                                   "default_to_digest": False},
            "simple_dc": {"user_mapping": {"*": True}}, "verbose": 1, "logging": {"enable": False},
            "property_manager": None, "lock_storage": True})
        self._routes = wsgi.PathInfoDispatcher({MOUNT: self._guard(dav), TOKEN_PATH: self._api(self._token, ""),
                                                OCAPI_ROOT: self._api(self._ocapi, "ocapi"),
                                                SCAPI_ROOT: self._api(self._scapi, "scapi")})
        self._server = wsgi.Server(("127.0.0.1", 0), self._front)
        self._server.expiration_interval = 0.05  # its select() timeout, which stop() waits out (0.5 s by default)
        self._server.prepare()
        self.url = f"http://127.0.0.1:{self._server.bind_addr[1]}"
        self._thread = threading.Thread(target=self._server.serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._thread.join(5)
            self._server = None

    def __enter__(self) -> "FakeSfcc":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def expire_tokens(self) -> None:
        """Every issued access token becomes invalid (as after its ~30 minutes, §1.0)."""
        with self._lock:
            self._tokens = {token: (float("-inf"), scope) for token, (_, scope) in self._tokens.items()}

    def fail(self, path_regex: str, *statuses: int) -> None:
        """The next requests whose path matches answer these HTTP statuses, one per request, in order."""
        with self._lock:
            self._faults.append((re.compile(path_regex), deque(statuses)))

    def _front(self, environ, start_response):
        """Record every request, then answer a scripted fault or route it. WebDAV bodies stay unread, so the
        413 check comes before any byte is read and WsgiDAV streams the upload to disk."""
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        body = b""
        if not (path == MOUNT or path.startswith(MOUNT + "/")):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        environ["fake.body"] = body
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers.update({name: environ[key] for name, key in (("Content-Type", "CONTENT_TYPE"),
                                                             ("Content-Length", "CONTENT_LENGTH")) if environ.get(key)})
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        with self._lock:
            self.requests.append(Recorded(environ["REQUEST_METHOD"], path, query, headers, body))
            status = next((faults.popleft() for regex, faults in self._faults if faults and regex.search(path)), None)
        if status is None:
            return self._routes(environ, start_response)
        return _send(start_response, _scripted(path, status))

    def _api(self, handler, api: str):
        """A WSGI app around handler(method, path, lower-cased headers, body) -> Response."""
        def app(environ, start_response):
            headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            headers["content-type"] = environ.get("CONTENT_TYPE", "")
            try:
                reply = handler(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), headers, environ["fake.body"])
            except _Refusal as refusal:
                reply = _reply(api, environ.get("PATH_INFO", ""), refusal)
            return _send(start_response, reply)
        return app

    def _guard(self, dav):
        """SFCC's WebDAV: a bearer token we issued, or the BM user's Basic access key; the upload limit is
        checked on Content-Length before the body is read (a chunked PUT has none to check)."""
        def app(environ, start_response):
            auth = environ.get("HTTP_AUTHORIZATION", "")
            if self._scope(auth) is None and not self._basic_ok(auth):
                challenge = {"WWW-Authenticate": 'Basic realm="webdav"'} if self._webdav_basic else {}
                return _send(start_response, (401, {"Content-Type": "text/plain", **challenge}, b"Unauthorized"))
            if (self.upload_limit is not None and environ["REQUEST_METHOD"] == "PUT"
                    and int(environ.get("CONTENT_LENGTH") or 0) > self.upload_limit):
                return _send(start_response, (413, {"Content-Type": "text/plain"}, b"Request Entity Too Large"))
            environ.pop("HTTP_AUTHORIZATION", None)  # WsgiDAV is anonymous behind this guard
            return dav(environ, start_response)
        return app

    def _token(self, method: str, path: str, headers: dict, body: bytes) -> Response:
        """client_credentials with `Basic base64(quote_plus(id):quote_plus(secret))` (RFC 6749 App. B, §1.1)."""
        if method != "POST":
            return _json(405, {"error": "invalid_request", "error_description": "Use POST."})
        encoded = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}".encode()
        if headers.get("authorization") != "Basic " + base64.b64encode(encoded).decode():
            return _json(401, {"error": "invalid_client", "error_description": "Client authentication failed."})
        form = parse_qs(body.decode("utf-8", "replace")) if "x-www-form-urlencoded" in headers["content-type"] else {}
        if form.get("grant_type") != ["client_credentials"]:
            return _json(400, {"error": "unsupported_grant_type",
                               "error_description": "Expected a form body with grant_type=client_credentials."})
        scope = " ".join(form.get("scope", [""])[0].split())
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (time.monotonic() + self.token_lifetime, scope)
            self.tokens_issued += 1
        return _json(200, {"access_token": token, "expires_in": self.token_lifetime, "scope": scope,
                           "token_type": "Bearer"})

    def _scope(self, authorization: str) -> str | None:
        """The granted scope of a valid bearer token, None when it is unknown or expired."""
        with self._lock:
            expiry, scope = self._tokens.get(authorization.removeprefix("Bearer "), (0.0, ""))
        return scope if authorization.startswith("Bearer ") and expiry > time.monotonic() else None

    def _basic_ok(self, authorization: str) -> bool:
        if not self._webdav_basic or not authorization.startswith("Basic "):
            return False
        try:
            return base64.b64decode(authorization[6:]).decode().split(":", 1) == self._webdav_basic
        except ValueError:
            return False

    def _ocapi(self, method: str, path: str, headers: dict, body: bytes) -> Response:
        match = OCAPI_ROUTE.fullmatch(path)
        if not match:
            raise _Refusal("path", f"No resource at '{path}'.")
        if self._scope(headers.get("authorization", "")) is None:
            raise _Refusal("token", "The request is unauthorized: the access token is invalid or expired.")
        v = match["v"][1:].replace("_", ".")
        if match["search"]:
            self._method(method, "POST")
            return self._search(v, body)
        return self._job(method, match, "ocapi", lambda: self._ocapi_request(body), lambda e: self._document(e, v))

    def _ocapi_request(self, body: bytes) -> tuple[str, str]:
        """`{"file_name", "mode"}` (refused in `unknown_property` mode, as newer instances do) or `parameters`."""
        data = _json_body(body)
        if "parameters" in data:
            params = _parameters(data)
        elif self.unknown_property and {"file_name", "mode"} & data.keys():
            prop = "file_name" if "file_name" in data else "mode"
            raise _Refusal("property", f"The property '{prop}' is not allowed in document 'job_execution_request'.",
                           document="job_execution_request", property=prop)
        else:
            params = {"ImportFile": data.get("file_name"), "ImportMode": data.get("mode")}
        file, mode = params.get("ImportFile"), params.get("ImportMode") or "merge"
        if not isinstance(file, str) or not file or mode != "merge":
            raise _Refusal("body", "Give file_name (or an ImportFile parameter) and mode 'merge', the only mode a "
                           "site import supports.")
        return file, mode

    def _scapi(self, method: str, path: str, headers: dict, body: bytes) -> Response:
        match = SCAPI_ROUTE.fullmatch(path)
        if not match or match["org"] != f"f_ecom_{self.tenant}":
            raise _Refusal("path", f"No resource at '{path}' for this organization.")
        scope = self._scope(headers.get("authorization", ""))
        if scope is None:
            raise _Refusal("token", "The access token is missing, invalid or expired.")
        granted, tenant = set(scope.split()), f"SALESFORCE_COMMERCE_API:{self.tenant}"
        if tenant not in granted or not ("sfcc.jobs.rw" in granted or method == "GET" and "sfcc.jobs" in granted):
            raise _Refusal("scope", f"The access token needs the scopes {tenant} and sfcc.jobs.rw; it has '{scope}'.")
        return self._job(method, match, "scapi", lambda: self._scapi_request(body),
                         lambda e: _camel(self._document(e, "")))

    @staticmethod
    def _scapi_request(body: bytes) -> tuple[str, str]:
        params = _parameters(_json_body(body))
        if not isinstance(params.get("ImportFile"), str) or not params["ImportFile"]:
            raise _Refusal("body", 'Expected {"parameters": [{"name": "ImportFile", "value": "<name>.zip"}]}.')
        return params["ImportFile"], params.get("ImportMode") or "merge"

    @staticmethod
    def _method(method: str, wanted: str) -> None:
        if method != wanted:
            raise _Refusal("method", f"Method '{method}' is not allowed here; use {wanted}.")

    def _job(self, method: str, match: re.Match, api: str, request, present) -> Response:
        """What both APIs share: POST …/executions starts an import, GET …/executions/<id> polls one."""
        self._method(method, "GET" if match["id"] else "POST")
        if match["job"] != JOB:
            raise _Refusal("job", f"Job '{match['job']}' not found.", jobId=match["job"])
        if not match["id"]:
            return _json(202, present(self._start(*request(), api)))
        execution = self._poll(match["id"])
        if execution is None:
            raise _Refusal("execution", f"Job execution '{match['id']}' not found.")
        return _json(200, present(execution))

    def _search(self, v: str, body: bytes) -> Response:
        """POST /job_execution_search, with b2c-tooling's body (run.ts searchJobExecutions); lenient parsing."""
        try:
            request = _json_body(body)
        except _Refusal:
            request = {}
        with self._lock:
            hits = [d for e in self._executions.values() if _matches(request.get("query"), d := self._document(e, v))]
        sort = (request.get("sorts") or [{}])[0]
        hits.sort(key=lambda d: (d.get(sort.get("field", "start_time")) or "", int(d["id"])),
                  reverse=sort.get("sort_order", "desc") == "desc")
        start, count = int(request.get("start") or 0), int(request.get("count") or 25)
        return _json(200, {"_v": v, "_type": "job_execution_search_result", "count": len(hits[start:start + count]),
                           "hits": hits[start:start + count], "query": request.get("query") or {"match_all_query": {}},
                           "select": "(**)", "start": start, "total": len(hits)})

    def _start(self, file: str, mode: str, api: str) -> _Execution:
        """Queue an import of a file already uploaded to Impex/src/instance; one import at a time (§1.3)."""
        if "/" in file or "\\" in file or not (self.sites / INSTANCE / file).is_file():
            raise _Refusal("file", f"File '{file}' not found in {INSTANCE} (give the simple name of an uploaded "
                           ".zip).", file=file)
        with self._lock:
            if any(e.state in ("pending", "running") for e in self._executions.values()):
                raise _Refusal("busy", f"Job '{JOB}' is already running.", jobId=JOB)
            now, names = datetime.now(timezone.utc), {e.log_name for e in self._executions.values()}
            while (log_name := f"Job-{JOB}-{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}.log") in names:
                now += timedelta(milliseconds=1)
            execution = _Execution(str(1001 + len(self._executions)), file, api, log_name, now, mode)
            self._executions[execution.id] = execution
            return execution

    def _poll(self, execution_id: str) -> _Execution | None:
        """One GET: `polls_pending` GETs see pending, `polls_running` see running, then the import runs and
        every later GET sees the end. The knobs are read at each GET, so a test may change them mid-run."""
        with self._lock:
            execution = self._executions.get(execution_id)
            if execution and execution.state == "pending":
                if execution.seen < self.polls_pending:
                    execution.seen += 1
                    return execution
                execution.state, execution.seen = "running", 0
            if execution and execution.state == "running":
                if execution.seen < self.polls_running:
                    execution.seen += 1
                    return execution
                self._finish(execution)
            return execution

    def _document(self, e: _Execution, v: str) -> dict:
        """OCAPI's job_execution (§1.3, §1.4); exit_status, log path and steps only once it has ended."""
        doc = {"_v": v, "_type": "job_execution", "client_id": self.client_id, "execution_status": e.state,
               "id": e.id, "is_log_file_existing": e.ended is not None, "is_restart": False, "job_id": JOB,
               "log_file_name": e.log_name, "modification_time": _iso(e.ended or e.started),
               "parameters": [{"_type": "job_execution_parameter", "name": "ImportMode", "value": e.mode},
                              {"_type": "job_execution_parameter", "name": "ImportFile", "value": e.file}],
               "start_time": _iso(e.started), "status": e.exit["code"] if e.exit else e.state.upper()}
        if e.exit and e.ended:
            exit_status = {"_type": "status", **e.exit}
            doc.update(exit_status=exit_status, end_time=_iso(e.ended),
                       duration=int((e.ended - e.started).total_seconds() * 1000),
                       log_file_path=f"/Sites/{JOB_LOGS}/{e.log_name}",
                       step_executions=[{"_type": "job_step_execution", "id": f"{e.id}-1",
                                         "step_id": "ImportSiteArchive", "step_type_id": "ImportSiteArchive",
                                         "execution_status": e.state, "exit_status": exit_status}])
        return doc

    def _finish(self, e: _Execution) -> None:
        """The end of a run: the next scripted outcome, the import itself, the log in both places, `imports`."""
        outcome = self.outcomes.pop(0) if self.outcomes else "OK"
        log = _Log()
        log.add(f"Starting Import of site archive '{e.file}' (mode {e.mode}, execution {e.id})")
        counts, errors, warnings = Counter(), 0, 0
        if outcome == "aborted":
            log.add("Job execution aborted on request; nothing more is imported.")
            e.state, e.exit = "aborted", {"code": "ABORTED", "status": "error", "message": "The job was aborted."}
        else:
            counts, errors, warnings, reason = self._import(self.sites / INSTANCE / e.file, log)
            if reason is None and outcome == "ERROR":
                reason = "ImportSiteArchive failed (scripted outcome ERROR)."
            e.state = "finished"
            e.exit = {"code": "ERROR", "status": "error", "message": reason} if reason else {"code": "OK", "status": "ok"}
            if reason:
                log.add(f"Import failed: {reason}", "ERROR")
            log.add(f"Import finished: {sum(counts.values())} elements, {errors} data errors, {warnings} data "
                    f"warnings; exit status {e.exit['code']}")
        e.ended = datetime.now(timezone.utc)
        for folder in (JOB_LOGS, OLD_LOGS):
            (self.sites / folder).mkdir(parents=True, exist_ok=True)
            (self.sites / folder / e.log_name).write_text("\n".join(log) + "\n", encoding="utf-8")
        self.imports.append({"file": e.file, "execution": e.id, "status": e.state,
                             "exit": "OK" if e.exit["code"] == "OK" else "ERROR", "dataerrors": errors,
                             "datawarnings": warnings, "counts": dict(counts), "api": e.api,
                             "message": e.exit.get("message"), "log": e.log_name})

    def _import(self, path: Path, log: "_Log") -> tuple[Counter, int, int, str | None]:
        """Check the layout and validate every XML file, then count what a merge imports. As on SFCC, an
        invalid file fails the job before anything is imported; a bad record only skips that record."""
        if not zipfile.is_zipfile(path):
            return Counter(), 0, 0, f"'{path.name}' is missing or not a zip archive."
        roots = []
        with zipfile.ZipFile(path) as archive:
            reason = _layout(archive.namelist(), path.name.removesuffix(".zip"))
            xml = [] if reason else sorted((n for n in archive.namelist() if n.lower().endswith(".xml")),
                                           key=lambda n: (FOLDERS.index(n.split("/")[1]), n))
            for name in xml:
                root, reason = self._validate(name, archive.read(name))
                if reason:
                    break
                roots.append((name, root))
        if reason:
            return Counter(), 0, 0, reason
        total, errors, warnings = Counter(), 0, 0
        for name, root in roots:
            counts, e, w = self._count(name, root, log)
            total, errors, warnings = total + counts, errors + e, warnings + w
        return total, errors, warnings, None

    def _validate(self, name: str, data: bytes) -> tuple[etree._Element | None, str | None]:
        """The root element picks the schema; each XSD is parsed from its path so xml.xsd resolves offline."""
        parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as error:
            return None, f"{name}: the file is not well-formed XML: {error}"
        kind = etree.QName(root).localname
        xsd = SCHEMAS.get(kind, f"{kind}.xsd")
        if not (self.xsd_dir / xsd).is_file():
            return None, f"{name}: no schema for the root element <{kind}>."
        if xsd not in self._schemas:
            self._schemas[xsd] = etree.XMLSchema(etree.parse(str(self.xsd_dir / xsd), parser))
        if not self._schemas[xsd].validate(root):
            first = self._schemas[xsd].error_log[0]
            return None, f"{name}: the file failed to validate against {xsd}: line {first.line}: {first.message}"
        return root, None

    def _count(self, name: str, root: etree._Element, log: "_Log") -> tuple[Counter, int, int]:
        """Count one file's records; bad products are skipped with a [DATAERROR], warned ones imported with a
        [DATAWARNING], in the shape of the real `WARN [DATAERROR] [4/56] Job: ...` line (§1.5)."""
        kind = etree.QName(root).localname
        records = [el for el in root if isinstance(el.tag, str) and etree.QName(el).localname != "header"]
        records += [el for el in root.iter() if isinstance(el.tag, str) and el.getparent() is not root
                    and etree.QName(el).localname in NESTED.get(kind, ())]
        log.add(f"Importing file '{name}' (<{kind}>, {len(records)} elements)")
        if kind == "catalog":
            log.add("Phase 1 - Items")
        counts, errors, warnings = Counter(), 0, 0
        for number, el in enumerate(records, 1):
            tag, pid = etree.QName(el).localname, el.get("product-id", "")
            where = f"[{number}/{len(records)}] Job: {JOB}: {name} line {el.sourceline}: <product product-id=\"{pid}\">"
            if tag == "product" and (pid in self.bad_products if self.bad_products else pid.startswith("BAD-")):
                log.add(f"[DATAERROR] {where}: invalid data for product '{pid}'; the element was skipped.", "WARN")
                errors += 1
                continue
            if tag == "product" and (pid in self.warn_products if self.warn_products else pid.startswith("WARN-")):
                log.add(f"[DATAWARNING] {where}: questionable data for product '{pid}'; imported anyway.", "WARN")
                warnings += 1
            counts[tag] += 1
        if kind == "catalog":
            log.add("Phase 2 - Relations")
        for tag, n in counts.items():
            log.add(f"Processed {n} {tag} elements successfully")
        log.add(f"Processed {sum(counts.values())} total elements")
        return counts, errors, warnings


def _layout(names: list[str], stem: str) -> str | None:
    """Why an archive lacks the import layout (sfcc-xml.md §10): one top folder named like the zip, ASCII
    names, known folders below it; None when it has it."""
    for name in names:
        parts = name.split("/")
        if not name.isascii():
            return f"the entry name {name!r} is not ASCII."
        if parts[0] != stem:
            return f"the entry {name!r} is not under the single top folder '{stem}/' named like the zip."
        if len(parts) == 2 and parts[1] not in ("", "version.txt"):
            return f"the file {name!r} lies at the top of the archive, outside the import folders."
        if len(parts) > 2 and parts[1] not in FOLDERS:
            return f"the folder '{parts[1]}' in {name!r} is not one of {', '.join(FOLDERS)}."
    return None if names else "the archive is empty."


class _Log(list):
    """An import log's lines, in SFCC's shape: `[timestamp GMT] LEVEL message`."""

    def add(self, message: str, level: str = "INFO") -> None:
        now = datetime.now(timezone.utc)
        self.append(f"[{now:%Y-%m-%d %H:%M:%S}.{now.microsecond // 1000:03d} GMT] {level} {message}")
