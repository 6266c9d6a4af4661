"""WebDAV on the instance (`/on/demandware.servlet/webdav/Sites/`): the only way an archive gets in.

Authenticated with a Business Manager user and WebDAV access key (Basic) when both are set, else
with the API client's Account Manager token (Bearer, renewed once when refused). A refusal says
which Business Manager setting to fix.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable

import requests

from ..http import RetryPolicy, request, with_retries
from .auth import AccountManager, DeliveryError, SfccConnection

MOUNT = "/on/demandware.servlet/webdav/Sites/"
PERMISSIONS = ("Business Manager > Administration > Organization > WebDAV Client Permissions "
               "(`akeneo-sfcc deliver --print-bm-config` prints what to paste)")


class WebDav:
    def __init__(self, connection: SfccConnection, session: requests.Session, account_manager: AccountManager,
                 retry: RetryPolicy, timeout: tuple[float, float] = (10.0, 300.0),
                 sleep: Callable[[float], None] = time.sleep):
        self.connection, self.session, self.account_manager = connection, session, account_manager
        self.retry, self.timeout, self.sleep = retry, timeout, sleep
        self.basic = bool(connection.username and connection.password)
        self.cert = (connection.certificate, connection.certificate_key) if connection.certificate else None

    def put(self, path: str, file: Path) -> None:
        """Upload a file (one PUT with its length: WebDAV on SFCC has no chunked or resumable upload)."""
        size = file.stat().st_size
        headers = {"Content-Type": "application/zip", "Content-Length": str(size)}
        response = self._retrying(path, lambda: self._send("PUT", path, headers, body=file))
        if response.status_code not in (200, 201, 204):
            raise self._refusal(response, path, size)

    def mkcol(self, path: str) -> bool:
        """Create a folder; False when it was there already (SFCC answers 405)."""
        response = self._retrying(path, lambda: self._send("MKCOL", path))
        if response.status_code == 405:
            return False
        if response.status_code not in (200, 201):
            raise self._refusal(response, path)
        return True

    def mkdirs(self, path: str) -> None:
        """`path` and every folder above it (MKCOL where one is missing)."""
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            self.mkcol("/".join(parts[:depth]) + "/")

    def delete(self, path: str) -> None:
        response = self._retrying(path, lambda: self._send("DELETE", path))
        if response.status_code not in (200, 204, 404):  # 404: gone already
            raise self._refusal(response, path)

    def get(self, path: str) -> bytes | None:
        """The file's bytes, or None when there is none."""
        response = self._retrying(path, lambda: self._send("GET", path))
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refusal(response, path)
        return response.content

    def exists(self, path: str) -> bool:
        response = self._retrying(path, lambda: self._send("HEAD", path))
        if response.status_code not in (200, 404):
            raise self._refusal(response, path)
        return response.status_code == 200

    # -------------------------------------------------------------------------------------

    def _retrying(self, path: str, send: Callable[[], requests.Response]) -> requests.Response:
        return with_retries(self.retry, f"WebDAV {path}", send, DeliveryError, self.sleep)

    def _send(self, method: str, path: str, headers: dict | None = None, body: Path | None = None
              ) -> requests.Response:
        """One exchange; a refused token is renewed once. `body`: a file, opened afresh for each send."""
        url = self.connection.webdav + MOUNT + path.lstrip("/")
        for _ in range(2):
            token = None if self.basic else self.account_manager.token()
            auth = (self.connection.username, self.connection.password) if self.basic else None
            sent = dict(headers or {}) | ({} if self.basic else {"Authorization": f"Bearer {token}"})
            with open(body, "rb") if body else contextlib.nullcontext() as data:
                response = request(self.session, method, url, self.timeout, headers=sent, auth=auth, cert=self.cert,
                                   data=data)
            if response.status_code != 401 or token is None:
                return response
            response.close()
            self.account_manager.token(stale=token)
        return response

    def _refusal(self, response: requests.Response, path: str, size: int | None = None) -> DeliveryError:
        status = response.status_code
        if status == 401:
            how = ("check SFCC_USERNAME and SFCC_PASSWORD (a Business Manager user's WebDAV access key)" if self.basic
                   else f"give the API client read_write on /impex and /logs in {PERMISSIONS}")
            return DeliveryError(f"WebDAV refused the credentials for {path} (HTTP 401): {how}")
        if status == 403:
            return DeliveryError(f"WebDAV forbids {path} (HTTP 403): allow the path in {PERMISSIONS}")
        if status == 409:
            return DeliveryError(f"WebDAV has no folder for {path} (HTTP 409)")
        if status == 413:
            return DeliveryError(f"WebDAV refused {path} as too large ({size or 0:,} bytes, HTTP 413): lower "
                                 "--part-size (SFCC takes 100 MB per upload), or the sandbox may be stopped")
        return DeliveryError(f"WebDAV {path}: HTTP {status}", retryable=status >= 500)
