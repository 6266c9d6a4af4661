"""Who and where the SFCC instance is, and the Account Manager token its APIs take.

The connection comes from the `SFCC_*` variables Salesforce's CLIs use, completed by a `.env` file
and a `dw.json` (sfcc-ci's and b2c-tooling's file). Secrets are kept out of repr and messages.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import quote_plus

import requests

from ..errors import TransformerError
from ..http import RetryPolicy, request, with_retries

ACCOUNT_MANAGER = "account.demandware.com"
TOKEN_PATH = "/dwsso/oauth2/access_token"
VARIABLES = ("SFCC_SERVER", "SFCC_WEBDAV_SERVER", "SFCC_CLIENT_ID", "SFCC_CLIENT_SECRET", "SFCC_USERNAME",
             "SFCC_PASSWORD", "SFCC_SHORTCODE", "SFCC_TENANT_ID", "SFCC_CERTIFICATE", "SFCC_CERTIFICATE_KEY",
             "SFCC_CERTIFICATE_PASSPHRASE", "SFCC_ACCOUNT_MANAGER_HOST", "SFCC_SCAPI_SERVER")
DW_JSON = {"hostname": "SFCC_SERVER", "client-id": "SFCC_CLIENT_ID", "client-secret": "SFCC_CLIENT_SECRET",
           "username": "SFCC_USERNAME", "password": "SFCC_PASSWORD"}


class DeliveryError(TransformerError):
    """Delivery to SFCC failed; `retryable` when trying later may work."""


def base_url(host_or_url: str) -> str:
    """`my.sandbox.com` -> `https://my.sandbox.com`; a full URL (tests: http://127.0.0.1:PORT) as it is."""
    value = host_or_url.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


@dataclass(frozen=True)
class SfccConnection:
    server: str  # the instance, for OCAPI (base URL)
    webdav: str  # the WebDAV host: the instance, or the two-factor staging host
    account_manager: str
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None  # a Business Manager user with a WebDAV access key
    password: str | None = field(default=None, repr=False)
    short_code: str | None = None  # SCAPI
    tenant: str | None = None
    scapi: str | None = None  # SCAPI host (default from the short code)
    certificate: str | None = None  # client certificate (PEM) for two-factor staging WebDAV
    certificate_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, folder: Path = Path(".")) -> "SfccConnection":
        """From SFCC_* environment variables, completed by `.env` and then `dw.json` in `folder`."""
        values: dict[str, str] = {}
        dw_json = folder / "dw.json"
        if dw_json.is_file():
            try:
                found = json.loads(dw_json.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DeliveryError(f"{dw_json}: not readable JSON ({exc})") from None
            values.update({name: str(found[key]) for key, name in DW_JSON.items() if found.get(key)})
        if (folder / ".env").is_file():
            from dotenv import dotenv_values

            values.update({k: v for k, v in dotenv_values(folder / ".env").items() if k in VARIABLES and v})
        values.update({k: v for k, v in (os.environ if environ is None else environ).items() if k in VARIABLES and v})
        if not values.get("SFCC_SERVER"):
            raise DeliveryError("no SFCC instance: set SFCC_SERVER (environment, .env or dw.json 'hostname')")
        if not values.get("SFCC_CLIENT_ID") or not values.get("SFCC_CLIENT_SECRET"):
            raise DeliveryError("no Account Manager API client: set SFCC_CLIENT_ID and SFCC_CLIENT_SECRET "
                                "(environment, .env or dw.json)")
        if values.get("SFCC_CERTIFICATE_PASSPHRASE") and not values.get("SFCC_CERTIFICATE_KEY"):
            raise DeliveryError("SFCC_CERTIFICATE must be a PEM certificate with its key in SFCC_CERTIFICATE_KEY: "
                                "convert a PKCS#12 file with `openssl pkcs12 -in cert.p12 -out cert.pem -nodes`")
        server = base_url(values["SFCC_SERVER"])
        short_code = values.get("SFCC_SHORTCODE")
        scapi = values.get("SFCC_SCAPI_SERVER") or (f"{short_code}.api.commercecloud.salesforce.com" if short_code else None)
        return cls(server, base_url(values.get("SFCC_WEBDAV_SERVER") or server),
                   base_url(values.get("SFCC_ACCOUNT_MANAGER_HOST") or ACCOUNT_MANAGER), values["SFCC_CLIENT_ID"],
                   values["SFCC_CLIENT_SECRET"], values.get("SFCC_USERNAME"), values.get("SFCC_PASSWORD"), short_code,
                   values.get("SFCC_TENANT_ID"), base_url(scapi) if scapi else None, values.get("SFCC_CERTIFICATE"),
                   values.get("SFCC_CERTIFICATE_KEY"))


class AccountManager:
    """Client-credentials tokens, per scope; renewed ahead of expiry (they live about 30 minutes,
    imports for hours) and when one was refused."""

    def __init__(self, connection: SfccConnection, session: requests.Session, retry: RetryPolicy,
                 timeout: tuple[float, float] = (10.0, 60.0)):
        self.connection, self.session, self.retry, self.timeout = connection, session, retry, timeout
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, renew at)

    def token(self, scope: str = "", stale: str | None = None) -> str:
        with self._lock:
            token, renew_at = self._tokens.get(scope, (None, 0.0))
            if token is None or token == stale or time.monotonic() > renew_at:
                token, lifetime = self._grant(scope)
                # Renew 2 minutes ahead (a poll in flight must not outlive its token), less for short-lived ones.
                self._tokens[scope] = token, time.monotonic() + lifetime - min(120.0, lifetime / 10)
            return token

    def _grant(self, scope: str) -> tuple[str, float]:
        c = self.connection
        # Each part is form-encoded before Base64 (RFC 6749 §2.3.1): requests' auth= does not, and
        # secrets with '+' or '%' would then fail.
        basic = base64.b64encode(f"{quote_plus(c.client_id)}:{quote_plus(c.client_secret)}".encode()).decode()
        body = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        url = c.account_manager + TOKEN_PATH
        response = with_retries(self.retry, TOKEN_PATH, lambda: request(
            self.session, "POST", url, self.timeout, data=body, headers={"Authorization": f"Basic {basic}"}),
            DeliveryError)
        if response.status_code != 200:
            raise DeliveryError(f"Account Manager refused the API client at {TOKEN_PATH}: HTTP {response.status_code} "
                                f"{_oauth_error(response)} (check SFCC_CLIENT_ID and SFCC_CLIENT_SECRET)")
        try:
            found = response.json()
            return found["access_token"], float(found.get("expires_in", 1799))
        except (ValueError, KeyError, TypeError):
            raise DeliveryError(f"{TOKEN_PATH}: the answer holds no access token", retryable=True) from None


def _oauth_error(response: requests.Response) -> str:
    try:
        found = response.json()
    except ValueError:
        return ""
    return str(found.get("error_description") or found.get("error") or "")[:200] if isinstance(found, dict) else ""
