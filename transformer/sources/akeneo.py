"""A small, resilient client for the Akeneo REST API.

OAuth2 password grant with refresh ahead of expiry and re-authentication on 401; one pooled
session with a timeout on every request; retries (the shared `http` policy) on 429 (honouring
Retry-After), 408, 5xx, dropped connections, timeouts and truncated JSON, within a bounded
number of tries and a bounded total wait. Credentials and tokens never appear in errors or logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from ..errors import SourceError, redact
from ..http import RetryPolicy, Retryable, request, short, with_retries

API = "/api/rest/v1/"
TOKEN_PATH = "/api/oauth/v1/token"
ENV_VARS = ("AKENEO_URL", "AKENEO_CLIENT_ID", "AKENEO_SECRET", "AKENEO_USERNAME", "AKENEO_PASSWORD")


@dataclass(frozen=True)
class Connection:
    """Where the PIM is and who we are; secrets are left out of repr."""

    url: str
    client_id: str
    secret: str = field(repr=False)
    username: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> "Connection":
        """From AKENEO_* environment variables, completed by a `.env` file when there is one."""
        values = {}
        if dotenv is not None and dotenv.is_file():
            from dotenv import dotenv_values  # python-dotenv: quoting, `export`, comments done right

            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update({k: v for k, v in (os.environ if environ is None else environ).items() if k in ENV_VARS and v})
        missing = [name for name in ENV_VARS if not values.get(name)]
        if missing:
            raise SourceError(f"no PIM connection: set {', '.join(missing)} (environment or .env)")
        return cls(pim_url(values["AKENEO_URL"]), values["AKENEO_CLIENT_ID"], values["AKENEO_SECRET"],
                   values["AKENEO_USERNAME"], values["AKENEO_PASSWORD"])


def pim_url(value: str) -> str:
    """The PIM's base URL from AKENEO_URL: a bare host gets https://, the API path and any trailing
    slash are dropped (users paste what the Connections screen or the API docs show)."""
    url = value.strip()
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SourceError(f"AKENEO_URL must be the PIM's address, such as https://pim.example.com, not {value!r}")
    path = parts.path.rstrip("/")
    path = path[:-len(API.rstrip("/"))] if path.endswith(API.rstrip("/")) else path
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


class AkeneoClient:
    """One connection to one PIM; safe to share between threads."""

    def __init__(self, connection: Connection, *, concurrency: int = 4, timeout: tuple[float, float] = (10.0, 60.0),
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep):
        """`retry`: the command's policy (its budget is shared by everything the command sends)."""
        self.connection, self.concurrency, self.timeout, self.sleep = connection, concurrency, timeout, sleep
        self.retry = retry or RetryPolicy()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=concurrency)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._renew_at = 0.0
        self._failed: SourceError | None = None  # authentication gave up: so does every later request

    # -- authentication -----------------------------------------------------------------

    def _token(self, stale: str | None = None) -> str:
        """A valid access token; renewed ahead of expiry, or when `stale` was refused. A failure is
        the command's: the connections waiting for the token get it too, without asking again."""
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if self._access is None or self._access == stale or time.monotonic() > self._renew_at:
                try:
                    self._authenticate()
                except SourceError as exc:
                    self._failed = exc
                    raise
            return self._access

    def _authenticate(self) -> None:
        if self._refresh is not None:
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh})
            except SourceError:
                pass  # an expired refresh token: fall back to the password grant
        c = self.connection
        self._grant({"grant_type": "password", "username": c.username, "password": c.password})

    def _grant(self, body: dict) -> None:
        c = self.connection

        def attempt() -> tuple[requests.Response, dict | None]:
            response = self._send("POST", c.url + TOKEN_PATH, TOKEN_PATH, json=body, auth=(c.client_id, c.secret),
                                  authenticated=False)
            # The token's JSON is parsed inside the retried attempt. A 200 whose JSON does not
            # parse (a body cut with a matching Content-Length) is a transient fault like a dropped
            # connection; parsed after the retries, it ended the command at once ("not valid JSON").
            return response, (_token_json(response) if response.status_code == 200 else None)

        response, token = self._with_retries(TOKEN_PATH, attempt)
        if response.status_code != 200:
            self._refresh = None if body["grant_type"] == "refresh_token" else self._refresh
            raise SourceError(f"PIM authentication failed at {TOKEN_PATH}: HTTP {response.status_code} "
                              f"{_message(response)} (check AKENEO_CLIENT_ID, AKENEO_SECRET, AKENEO_USERNAME, AKENEO_PASSWORD)")
        self._access, self._refresh = token["access_token"], token.get("refresh_token")
        lifetime = float(token.get("expires_in", 3600))
        # Renew 2 minutes ahead (a page in flight must not outlive its token), less for short-lived tokens.
        self._renew_at = time.monotonic() + lifetime - min(120.0, lifetime / 10)

    # -- requests -----------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """An absolute URL on the configured host; `next` links are re-based onto it (proxies
        may hand out http:// links for an https:// PIM)."""
        if "://" not in path_or_url:
            return self.connection.url + (path_or_url if path_or_url.startswith("/") else API + path_or_url)
        base, link = urlsplit(self.connection.url), urlsplit(path_or_url)
        return urlunsplit((base.scheme, base.netloc, link.path, link.query, ""))

    def get_json(self, path_or_url: str, params: Mapping[str, str] | None = None) -> object:
        url = self.url(path_or_url)
        endpoint = urlsplit(url).path
        return self._with_retries(endpoint, lambda: _checked_json(self._send("GET", url, endpoint, params=params), endpoint))

    def pages(self, path_or_url: str, params: Mapping[str, str] | None = None) -> Iterator[tuple[list[dict], str | None]]:
        """(items, next URL or None) per page, following `_links.next`; a bare list is one page."""
        url: str | None = path_or_url
        seen: set[str] = set()
        while url is not None:
            body = self.get_json(url, params)
            params = None  # the next link carries the query
            if isinstance(body, list):
                yield body, None
                return
            if not isinstance(body, dict):
                raise SourceError(f"{urlsplit(self.url(url)).path}: expected a list page, got {type(body).__name__}")
            link = ((body.get("_links") or {}).get("next") or {}).get("href")
            url = self.url(link) if link else None
            if url is not None and url in seen:
                raise SourceError(f"{urlsplit(url).path}: the PIM's next link repeats a page already read ({url}); stopped")
            seen.add(url or "")
            yield (body.get("_embedded") or {}).get("items", []), url

    def download(self, path_or_url: str, target: Path) -> str:
        """Stream a binary to `target` atomically; returns its SHA-256."""
        url = self.url(path_or_url)
        endpoint = urlsplit(url).path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{threading.get_ident()}.part")

        def attempt() -> str:
            digest = hashlib.sha256()
            with self._send("GET", url, endpoint, stream=True, accept="*/*") as response:
                _raise_for_status(response, endpoint)
                try:
                    with open(temporary, "wb") as handle:
                        for block in response.iter_content(1 << 16):
                            handle.write(block)
                            digest.update(block)
                except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                    raise Retryable(f"download interrupted ({type(exc).__name__})") from None
                # A binary is checked against its Content-Length before it is stored; a cut one
                # is retried, never kept as if whole (urllib3 1.x does not raise on a short body).
                if short(response):
                    raise Retryable("download cut short (fewer bytes than announced)")
            os.replace(temporary, target)
            return digest.hexdigest()

        try:
            return self._with_retries(endpoint, attempt)
        finally:
            temporary.unlink(missing_ok=True)

    def _timeout(self) -> tuple[float, float]:
        """The read timeout, never past the command's deadline (a PIM that never answers ends it there)."""
        connect, read = self.timeout
        if self.retry.deadline is None:
            return connect, read
        left = max(0.5, self.retry.deadline - time.monotonic())
        return min(connect, left), min(read, left)

    def _with_retries(self, endpoint: str, attempt: Callable[[], object]) -> object:
        return with_retries(self.retry, endpoint, attempt, SourceError, self.sleep)

    def _send(self, method: str, url: str, endpoint: str, *, authenticated: bool = True, accept: str = "application/json",
              **kwargs) -> requests.Response:
        """One HTTP exchange; transient failures raise Retryable, a refused token is renewed once."""
        for _ in range(2):
            headers = {"Accept": accept}
            token = self._token() if authenticated else None
            if token:
                headers["Authorization"] = f"Bearer {token}"
            response = request(self.session, method, url, self._timeout(), headers=headers, **kwargs)
            if response.status_code == 401 and authenticated:
                response.close()
                self._token(stale=token)
                continue
            return response
        raise SourceError(f"{endpoint}: HTTP 401 even with a fresh token: the API user may lack permissions")


def _checked_json(response: requests.Response, endpoint: str) -> object:
    _raise_for_status(response, endpoint)
    try:
        return response.json()
    except ValueError:
        raise Retryable("the answer was not valid JSON") from None


def _token_json(response: requests.Response) -> dict:
    """The token answer of a 200; one that does not parse is retried (Retryable). One that parses
    without an access token is the PIM's (or a proxy's) mistake: a clear error, not a KeyError."""
    try:
        token = response.json()
    except ValueError:
        raise Retryable("the answer was not valid JSON") from None
    if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
        raise SourceError(f"{TOKEN_PATH}: the PIM's answer holds no access token")
    return token


def _raise_for_status(response: requests.Response, endpoint: str) -> None:
    if response.status_code >= 400:
        raise SourceError(f"{endpoint}: HTTP {response.status_code} {_message(response)}", status=response.status_code)


def _message(response: requests.Response) -> str:
    """The PIM's own message ({code, message} or OAuth {error, error_description}), kept short."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    text = body.get("message") or body.get("error_description") or body.get("error") or ""
    return redact(str(text), _sent_secrets(response.request))[:300]


def _sent_secrets(sent: requests.PreparedRequest | None) -> list[str]:
    """What the request carried that must never be printed, should the PIM echo it: the
    Authorization header (and a Basic header's id and secret), the grant's password and tokens."""
    if sent is None:
        return []
    found = []
    kind, _, value = (sent.headers.get("Authorization") or "").partition(" ")
    if value:
        found.append(value)
        if kind == "Basic":
            try:
                found += base64.b64decode(value).decode().split(":", 1)
            except ValueError:
                pass
    try:
        grant = json.loads(sent.body or b"{}")
    except (ValueError, TypeError):
        grant = {}
    if isinstance(grant, dict):
        found += [str(grant[k]) for k in ("password", "refresh_token", "username") if grant.get(k)]
    return found
