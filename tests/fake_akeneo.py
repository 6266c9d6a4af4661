"""A fake Akeneo PIM: a real HTTP server on 127.0.0.1 that serves a snapshot folder as the REST API.

The snapshot mirrors the API paths (`products.json`, `attributes/color/options.json`, ... as JSON arrays or
JSON Lines; binaries under `media-files/`, `asset-media-files/`, `reference-entities-media-files/`), like
transformer/demo/pim. It implements what the client relies on (shared/reference/akeneo-api.md): the OAuth
password and refresh grants, offset and cursor paging, the `search` filter subset below, value filtering,
downloads and `{code, message}` errors; plus fault injection (429, 5xx, dropped connections, slow and
malformed answers) for retry tests, list routes a PIM does not serve (`disabled`: 405), and binaries held
in memory (`put_binary`) for codes no file system can hold. Run `python tests/fake_akeneo.py` for a self-check.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import secrets
import socket
import sys
import threading
import time
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

API = "/api/rest/v1"
TOKEN_PATH = "/api/oauth/v1/token"
BINARIES = (("media-files/", "/download"), ("asset-media-files/", ""), ("reference-entities-media-files/", ""))
# Paging kind per path, written from the API reference rather than imported from transformer/endpoints.py,
# so that a wrong kind in the client's table makes tests fail instead of agreeing with it. Default: offset.
KINDS = ((re.compile(r"products|product-models"), "search_after"),
         (re.compile(r"asset-families(/[^/]+/assets)?|reference-entities(/[^/]+/records)?"), "cursor"),
         (re.compile(r"measurement-families|(asset-families|reference-entities)/[^/]+/attributes(/[^/]+/options)?"),
          "plain"))
# Searchable routes: the properties the fake understands and whether `updated` takes ISO 8601 dates.
SEARCH = ((re.compile(r"products"), {"updated", "family", "identifier", "enabled", "parent", "categories"}, False),
          (re.compile(r"product-models"), {"updated", "family", "parent", "categories"}, False),
          (re.compile(r"(asset-families/[^/]+/assets|reference-entities/[^/]+/records)"), {"updated"}, True))
OFFSET_CAP = 10_000  # offset paging on products/models stops at 10,000 items (§6)


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it (path percent-decoded, without the query; `raw_path` as sent)."""
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""


@dataclass(frozen=True)
class TooMany:
    """429 with Akeneo's throttling body, and a Retry-After header (seconds) when given."""
    retry_after: float | None = None


@dataclass(frozen=True)
class ServerError:
    """That status with a JSON {code, message} body."""
    status: int = 500


@dataclass(frozen=True)
class Drop:
    """Shut the connection down without any response: the client sees a connection error."""


@dataclass(frozen=True)
class Slow:
    """Sleep before answering normally (for read-timeout tests)."""
    seconds: float


@dataclass(frozen=True)
class Malformed:
    """200 application/json with a truncated body."""


Fault = TooMany | ServerError | Drop | Slow | Malformed
Response = tuple[int, dict[str, str], bytes]


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class _Collection:
    """The items of one list path; cursor kinds are kept sorted by key so a cursor is a bisect."""
    items: list[dict]
    key: str
    keys: list[str] = field(init=False)
    index: dict[str, dict] = field(init=False)

    def __post_init__(self):
        self.keys = [str(item.get(self.key, "")) for item in self.items]
        self.index = dict(zip(self.keys, self.items))


def _kind(route: str) -> str:
    return next((kind for regex, kind in KINDS if regex.fullmatch(route)), "offset")


def _json(status: int, data: object, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _first(query: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    return query.get(name, [default])[0]


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        value = int(_first(query, name, str(default)))
    except ValueError:
        raise ApiError(422, f'The parameter "{name}" must be a positive integer.') from None
    if value < 1:
        raise ApiError(422, f'The parameter "{name}" must be a positive integer.')
    if name == "limit" and value > 100:
        raise ApiError(422, "You cannot request more than 100 items.")
    return value


def _when(text: object, iso: bool) -> datetime:
    """A filter or item date; product filters use 'YYYY-MM-DD hh:mm:ss' in the PIM's timezone (UTC here)."""
    try:
        when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S") if not iso else datetime.fromisoformat(text)
    except (TypeError, ValueError):
        fmt = "an ISO 8601 date" if iso else '"yyyy-mm-dd H:i:s"'
        raise ApiError(422, f'Property "updated" expects {fmt}, "{text}" given.') from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _load(path: Path) -> list[dict] | dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    return data["_embedded"]["items"] if isinstance(data, dict) and "_embedded" in data else data


class FakeAkeneo:
    """An Akeneo-compatible HTTP API over a snapshot folder, with fault injection. Use as a context manager."""

    def __init__(self, snapshot: Path, *, client_id: str = "client", secret: str = "s3cret", username: str = "user",
                 password: str = "pass", token_lifetime: int = 3600, page_latency: float = 0.0,
                 page_size_cursor: int = 100, disabled: tuple[str, ...] = (), family_filter_latency: float = 0.0):
        """`disabled`: list routes (e.g. "media-files") answered with 405, as by a PIM that lacks them;
        their items' own routes and downloads are still served. `family_filter_latency`: extra seconds
        per list page whose search filters on `family` (a PIM whose search back end makes that dear)."""
        self.family_filter_latency = family_filter_latency
        self.snapshot = Path(snapshot)
        self.disabled = frozenset(route.strip("/") for route in disabled)
        self._binaries: dict[tuple[str, str], bytes] = {}  # (folder, code) -> content, beside the snapshot's files
        self.client_id, self.secret, self.username, self.password = client_id, secret, username, password
        self.token_lifetime, self.page_latency, self.page_size_cursor = token_lifetime, page_latency, page_size_cursor
        self.url = ""
        self.requests: list[Recorded] = []
        self.tokens_issued = 0
        self.refreshes = 0
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}  # access token -> monotonic expiry
        self._refresh: set[str] = set()
        self._faults: list[tuple[re.Pattern, deque]] = []
        self._collections: dict[str, _Collection] = {}
        self.system: dict = {}
        for path in sorted(self.snapshot.rglob("*.json*")):
            route = path.relative_to(self.snapshot).with_suffix("").as_posix()
            if path.suffix not in (".json", ".jsonl") or route.startswith(tuple(p for p, _ in BINARIES)):
                continue
            if route == "system-information":
                self.system = _load(path)
            else:
                self.set_items(route, _load(path))
        self._server: _Server | None = None

    def start(self) -> "FakeAkeneo":
        """Listen on an ephemeral port and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                         daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections (else pooled clients would still get answers)."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server.cut_connections()
            self._thread.join()
            self._server = None

    def __enter__(self) -> "FakeAkeneo":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def fail(self, path_regex: str, *faults: Fault) -> None:
        """The next requests whose path (without query) matches get these faults, one per request, in order."""
        with self._lock:
            self._faults.append((re.compile(path_regex), deque(faults)))

    def clear_faults(self) -> None:
        """Faults not served yet are dropped: the PIM works again."""
        with self._lock:
            self._faults.clear()

    def expire_tokens(self) -> None:
        """All issued access tokens become invalid; refresh tokens stay valid."""
        with self._lock:
            self._access.clear()

    def set_items(self, endpoint_path: str, items: list[dict]) -> None:
        """Replace what a list path serves, e.g. "products" (to simulate PIM changes between pulls)."""
        route = endpoint_path.strip("/")
        key = "identifier" if route == "products" else "code"
        items = list(items)
        if _kind(route) in ("search_after", "cursor"):
            items.sort(key=lambda item: str(item.get(key, "")))
        self._collections[route] = _Collection(items, key)

    def put_binary(self, folder: str, code: str, content: bytes) -> None:
        """Serve `content` as the binary `code` of a download folder ("media-files", "asset-media-files", ...)."""
        self._binaries[(folder.strip("/"), code)] = content

    def _record(self, request: Recorded) -> Fault | None:
        """Record the request and take the first pending fault whose regex matches its path."""
        with self._lock:
            self.requests.append(request)
            for regex, faults in self._faults:
                if faults and regex.search(request.path):
                    return faults.popleft()
        return None

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        if isinstance(fault, TooMany):
            wait = fault.retry_after
            headers = {} if wait is None else {"Retry-After": str(int(wait)) if wait == int(wait) else str(wait)}
            return _json(429, {"code": 429, "message": "You have exceeded the limit of API requests per second."},
                         headers)
        if isinstance(fault, ServerError):
            try:
                phrase = HTTPStatus(fault.status).phrase
            except ValueError:
                phrase = "Server error"
            return _json(fault.status, {"code": fault.status, "message": phrase})
        return 200, {"Content-Type": "application/json"}, b'{"_links": {"self": {"href": "http://'

    def _dispatch(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                  body: bytes) -> Response:
        try:
            if path == TOKEN_PATH:
                if method != "POST":
                    raise ApiError(405, "Method not allowed.")
                return self._token(headers, body)
            route = path[len(API) + 1:].strip("/") if path.startswith(API + "/") else None
            if route is None:
                raise ApiError(404, "No route found.")
            if route != "system-information":  # needs no token since 6.0 (§1)
                self._check_bearer(headers)
            if method != "GET":
                raise ApiError(405, "Method not allowed.")
            binary = self._binary(route)
            if binary is not None:
                return self._download(*binary)
            self._check_accept(headers)
            return self._get(route, query)
        except ApiError as error:
            return _json(error.status, {"code": error.status, "message": error.message})

    def _token(self, headers: dict[str, str], body: bytes) -> Response:
        basic = "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        if headers.get("authorization") != basic:
            raise ApiError(401, 'Parameter "client_id" is missing or does not match any client, or secret is invalid.')
        form = "x-www-form-urlencoded" in headers.get("content-type", "")
        try:
            data = ({k: v[0] for k, v in parse_qs(body.decode()).items()} if form else json.loads(body or b"null"))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Invalid json message received") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Invalid json message received")
        grant = data.get("grant_type")
        if grant == "password":
            if (data.get("username"), data.get("password")) != (self.username, self.password):
                raise ApiError(422, "No user found for the given username and password.")
        elif grant == "refresh_token":
            with self._lock:
                if data.get("refresh_token") not in self._refresh:
                    raise ApiError(422, "Refresh token is invalid or has expired")
                self._refresh.discard(data["refresh_token"])  # one use: a refresh returns a new pair
                self.refreshes += 1
        else:
            raise ApiError(422, 'Parameter "grant_type" is missing or invalid.')
        access, refresh = secrets.token_hex(20), secrets.token_hex(20)
        with self._lock:
            self._access[access] = time.monotonic() + self.token_lifetime
            self._refresh.add(refresh)
            self.tokens_issued += 1
        return _json(200, {"access_token": access, "expires_in": self.token_lifetime, "token_type": "bearer",
                           "scope": None, "refresh_token": refresh})

    def _check_bearer(self, headers: dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        with self._lock:
            expiry = self._access.get(auth[7:]) if auth.startswith("Bearer ") else None
        if expiry is None:
            raise ApiError(401, "The access token provided is invalid.")
        if expiry < time.monotonic():
            raise ApiError(401, "The access token provided has expired.")

    @staticmethod
    def _check_accept(headers: dict[str, str]) -> None:
        accept = headers.get("accept")
        types = {part.split(";")[0].strip() for part in (accept or "").split(",")}
        if accept and not types & {"application/json", "application/*", "*/*"}:
            raise ApiError(406, f"'{accept}' in 'Accept' header is not valid. Only 'application/json' is allowed.")

    def _binary(self, route: str) -> tuple[str, str] | None:
        """(folder, code) of the binary a download route names, or None when the route is not a download."""
        for prefix, suffix in BINARIES:
            if route.startswith(prefix) and route.endswith(suffix) and len(route) > len(prefix) + len(suffix):
                code = route[len(prefix):len(route) - len(suffix)]
                if ".." in code.split("/"):
                    raise ApiError(404, f"Resource `{code}` does not exist.")
                return prefix.rstrip("/"), code
        return None

    def _download(self, folder: str, code: str) -> Response:
        held = self._binaries.get((folder, code))
        if held is not None:
            return 200, {"Content-Type": "application/octet-stream", "Content-Disposition": "attachment"}, held
        path = self.snapshot / folder / code
        try:
            found = path.resolve().is_relative_to(self.snapshot.resolve() / folder) and path.is_file()
        except (OSError, ValueError):  # a name too long for this file system, a NUL
            found = False
        if not found:
            raise ApiError(404, f"Resource `{code}` does not exist.")
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return 200, {"Content-Type": ctype, "Content-Disposition": f'attachment; filename="{path.name}"'}, \
            path.read_bytes()

    def _get(self, route: str, query: dict[str, list[str]]) -> Response:
        if route in self.disabled:
            raise ApiError(405, f'No route found for "GET {API}/{route}": Method Not Allowed')
        if route == "system-information" and self.system:
            return _json(200, self.system)
        collection = self._collections.get(route)
        if collection is None:
            return _json(200, self._single(route, query))
        time.sleep(self.page_latency)
        if self.family_filter_latency and '"family"' in "".join(query.get("search", [])):
            time.sleep(self.family_filter_latency)
        if _kind(route) == "plain":  # these answer the whole list, not an envelope (as the real API)
            return _json(200, collection.items)
        return _json(200, self._page(route, collection, query))

    def _single(self, route: str, query: dict[str, list[str]]) -> dict:
        """GET <list path>/<code> (codes may contain slashes, e.g. media files); else 404."""
        for parent in sorted(self._collections, key=len, reverse=True):
            if route.startswith(parent + "/"):
                item = self._collections[parent].index.get(route[len(parent) + 1:])
                if item is not None:
                    return self._present(parent, item, query)
        raise ApiError(404, f"Resource `{route.rsplit('/', 1)[-1]}` does not exist.")

    def _page(self, route: str, collection: _Collection, query: dict[str, list[str]]) -> dict:
        kind, pagination = _kind(route), _first(query, "pagination_type", "page")
        if pagination not in ("page", "search_after") or (pagination == "search_after" and kind == "offset"):
            raise ApiError(422, f'Pagination type "{pagination}" is not supported.')
        matches = self._matcher(route, query)
        cursor = kind == "cursor" or pagination == "search_after"
        limit = self.page_size_cursor if kind == "cursor" else _int(query, "limit", 10)
        if cursor:
            after = _first(query, "search_after")
            start = bisect_right(collection.keys, _decode(after)) if after else 0
            rows = (collection.items[i] for i in range(start, len(collection.items)))
            page = list(islice(filter(matches, rows), limit + 1))
            links = {"self": self._href(route, query, search_after=after), "first": self._href(route, query)}
            if len(page) > limit:
                last = str(page[limit - 1].get(collection.key, ""))
                links["next"] = self._href(route, query, search_after=_encode(last))
            body = {"_links": links}
        else:
            number = _int(query, "page", 1)
            if kind == "search_after" and number * limit > OFFSET_CAP:
                raise ApiError(422, 'You have reached the maximum number of pages you can retrieve with the "page" '
                                    'pagination type. Please use the search after pagination type instead')
            page = list(islice(filter(matches, collection.items), (number - 1) * limit, number * limit + 1))
            links = {"self": self._href(route, query, page=number, limit=limit),
                     "first": self._href(route, query, page=1, limit=limit)}
            if number > 1:
                links["previous"] = self._href(route, query, page=number - 1, limit=limit)
            if len(page) > limit:
                links["next"] = self._href(route, query, page=number + 1, limit=limit)
            body = {"_links": links, "current_page": number}
        body["_embedded"] = {"items": [self._present(route, item, query) for item in page[:limit]]}
        return body

    def _href(self, route: str, query: dict[str, list[str]], **changes: object) -> dict:
        """An absolute link on this server keeping the request's parameters, with page/cursor replaced."""
        params = {k: v for k, v in query.items() if k not in ("page", "search_after", *changes)}
        params.update({k: [str(v)] for k, v in changes.items() if v is not None})
        qs = urlencode(params, doseq=True)
        return {"href": f"{self.url}{API}/{quote(route)}" + (f"?{qs}" if qs else "")}

    def _present(self, route: str, item: dict, query: dict[str, list[str]]) -> dict:
        """A copy of the item with its self link and only the requested values (never mutate the snapshot)."""
        scope_key = "scope" if route in ("products", "product-models") else "channel"
        attrs, locales = (set(filter(None, _first(query, name, "").split(","))) for name in ("attributes", "locales"))
        scope = _first(query, scope_key)
        links = {**item.get("_links", {}), "self": self._href(f"{route}/{item.get(self._collections[route].key)}", {})}
        if route == "media-files":
            links["download"] = self._href(f"media-files/{item.get('code')}/download", {})
        out = {**item, "_links": links}
        if route == "categories":  # a position among its siblings, only when asked for (Akeneo 7.0)
            out.pop("position", None)
            if _first(query, "with_position") == "true":
                siblings = [c for c in self._collections[route].items
                            if isinstance(c, dict) and c.get("parent") == item.get("parent")]
                out["position"] = next(n for n, c in enumerate(siblings, 1) if c is item)
        if isinstance(item.get("values"), dict) and (attrs or locales or scope):
            out["values"] = {code: kept for code, values in item["values"].items() if not attrs or code in attrs
                             if (kept := [v for v in values
                                          if (not locales or v.get("locale") is None or v["locale"] in locales)
                                          and (not scope or v.get(scope_key) is None or v[scope_key] == scope)])}
        return out

    def _matcher(self, route: str, query: dict[str, list[str]]) -> Callable[[dict], bool]:
        """The AND of the `search` criteria (and, on products/models, of the `scope` channel's category tree)."""
        rule = next(((props, iso) for regex, props, iso in SEARCH if regex.fullmatch(route)), None)
        tests: list[Callable[[dict], bool]] = []
        if rule and _first(query, "search"):
            try:
                search = json.loads(_first(query, "search"))
            except ValueError:
                raise ApiError(400, "Search query parameter should be valid JSON.") from None
            if not isinstance(search, dict) or not all(isinstance(c, list) for c in search.values()):
                raise ApiError(422, "Structure of filter must be an object of arrays.")
            for prop, criteria in search.items():
                if prop not in rule[0]:
                    raise ApiError(422, f'Filter on property "{prop}" is not supported.')
                tests += [self._criterion(route, prop, c if isinstance(c, dict) else {}, rule[1]) for c in criteria]
        if route in ("products", "product-models") and _first(query, "scope"):
            tests.append(self._in_channel(_first(query, "scope")))
        return lambda item: all(test(item) for test in tests)

    def _criterion(self, route: str, prop: str, criterion: dict, iso: bool) -> Callable[[dict], bool]:
        op, value = criterion.get("operator"), criterion.get("value")
        if prop == "updated" and op == ">":
            since = _when(value, iso)
            # A variant is returned when one of its models changed (§7.2): compare the whole lineage.
            chain = self._lineage if route == "products" else lambda item: [item]
            return lambda item: any(_when(x.get("updated"), True) > since for x in chain(item) if x.get("updated"))
        if prop in ("family", "identifier", "parent", "categories") and op in ("IN", "NOT IN") \
                and isinstance(value, list):
            wanted, positive = {v for v in value if isinstance(v, str)}, op == "IN"
            if prop == "categories":  # an item of another shape (a PIM bug) matches no code
                return lambda item: bool(wanted & {c for c in _list(item.get("categories")) if isinstance(c, str)}) \
                    == positive
            return lambda item: (isinstance(item.get(prop), str) and item[prop] in wanted) == positive
        if prop in ("family", "parent") and op in ("EMPTY", "NOT EMPTY"):
            return lambda item: (not item.get(prop)) == (op == "EMPTY")
        if prop == "enabled" and op in ("=", "!=") and isinstance(value, bool):
            return lambda item: (item.get("enabled") == value) == (op == "=")
        raise ApiError(422, f'Filter on property "{prop}" is not supported or does not support operator "{op}".')

    def _lineage(self, item: dict) -> list[dict]:
        """The item, its parent model and that model's parent (root), as far as they exist."""
        models = self._collections.get("product-models")
        chain = [item]
        while models and len(chain) < 3 and (parent := models.index.get(chain[-1].get("parent") or "")):
            chain.append(parent)
        return chain

    def _in_channel(self, scope: str) -> Callable[[dict], bool]:
        """`scope` also keeps only items classified in the channel's tree (§8); models inherit their parents'."""
        channels, categories = self._collections.get("channels"), self._collections.get("categories")
        channel = channels.index.get(scope) if channels else None
        if channel is None:
            raise ApiError(422, f'Channel "{scope}" does not exist.')
        parents = {c.get("code"): c.get("parent") for c in categories.items} if categories else {}

        def root(code: str) -> str:
            while parents.get(code):
                code = parents[code]
            return code
        return lambda item: any(root(c) == channel.get("category_tree")
                                for x in self._lineage(item) for c in x.get("categories") or [])


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise ApiError(422, "Invalid search_after value.") from None


class TracksConnections:
    """A threading server that can cut its open connections (else pooled clients would still get answers)."""

    daemon_threads = True
    block_on_close = False  # idle keep-alive handler threads must not block stop()

    def __init__(self, *args):
        self._open: set[socket.socket] = set()
        super().__init__(*args)

    def process_request(self, request, client_address):
        self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        for sock in list(self._open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Server(TracksConnections, ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up are expected, bugs are not
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    timeout = 60  # idle keep-alive connections end eventually
    fake: FakeAkeneo

    def log_message(self, format, *args):  # silence the default per-request log
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Recorded(self.command, unquote(url.path), parse_qs(url.query, keep_blank_values=True),
                           dict(self.headers.items()), body, url.path)
        fault = self.fake._record(request)
        if isinstance(fault, Drop):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # FIN before any byte: the client sees a connection error
        elif fault is not None and not isinstance(fault, Slow):
            self._send(*self.fake._fault_response(fault))
        else:
            time.sleep(fault.seconds if fault else 0)
            lowered = {k.lower(): v for k, v in request.headers.items()}
            self._send(*self.fake._dispatch(request.method, request.path, request.query, lowered, body))

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _self_check() -> None:
    import requests

    demo = Path(__file__).resolve().parent.parent / "transformer" / "demo" / "pim"
    expected = len(json.loads((demo / "products.json").read_text(encoding="utf-8")))
    with FakeAkeneo(demo) as fake, requests.Session() as http:
        def get(path: str, **params) -> requests.Response:
            return http.get(f"{fake.url}{API}/{path}", params=params, timeout=5)

        def token(**body) -> dict:
            return http.post(f"{fake.url}{TOKEN_PATH}", auth=("client", "s3cret"), json=body, timeout=5).json()

        grant = token(grant_type="password", username="user", password="pass")
        http.headers.update({"Authorization": f"Bearer {grant['access_token']}", "Accept": "application/json"})
        url, seen = f"{fake.url}{API}/products?pagination_type=search_after&limit=7", []
        while url:
            page = http.get(url, timeout=5).json()
            seen += [item["identifier"] for item in page["_embedded"]["items"]]
            url = page["_links"].get("next", {}).get("href")
        assert len(seen) == len(set(seen)) == expected and seen == sorted(seen), (len(seen), expected)
        since = json.dumps({"updated": [{"operator": ">", "value": "2026-01-20 00:00:00"}]})
        delta = get("products", limit=100, search=since)
        assert any(p["parent"] == "fu_oak_table" for p in delta.json()["_embedded"]["items"])  # via its model
        assert (get("products", limit=101).status_code, get("attributes/unknown/options").status_code) == (422, 404)
        assert isinstance(get("measurement-families").json(), list)
        code = json.loads((demo / "media-files.json").read_text())[0]["code"]
        assert get(f"media-files/{code}/download").content == (demo / "media-files" / code).read_bytes()
        fake.fail("/products$", TooMany(retry_after=2), ServerError(503), Drop(), Slow(0.3), Malformed())
        assert get("products").headers["Retry-After"] == "2" and get("products").status_code == 503
        try:
            get("products")
            raise AssertionError("Drop() answered")
        except requests.ConnectionError:
            pass
        began = time.monotonic()
        assert get("products").ok and time.monotonic() - began >= 0.3
        malformed = get("products")
        try:
            malformed.json()
            raise AssertionError("Malformed() parsed")
        except ValueError:
            pass
        assert malformed.ok and get("products").ok  # the faults are used up
        fake.expire_tokens()
        assert get("products").status_code == 401
        fresh = token(grant_type="refresh_token", refresh_token=grant["refresh_token"])
        http.headers["Authorization"] = f"Bearer {fresh['access_token']}"
        assert get("products").ok and (fake.tokens_issued, fake.refreshes) == (2, 1)
    print("ok")


if __name__ == "__main__":
    _self_check()
