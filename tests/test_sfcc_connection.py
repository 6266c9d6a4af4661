"""Where the SFCC connection comes from, how it authenticates, and what never shows: secrets stay out
of output, reports and tracebacks; a refused client is permanent, an unreachable one retryable."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from transformer.deliver.auth import DeliveryError, SfccConnection
from transformer.deliver.delivery import Delivery, DeliverySettings
from transformer.deliver.parts import write_parts
from transformer.http import RetryPolicy

from conftest import ROOT
from fake_sfcc import FakeSfcc

SECRET = "s3cr+t%"
QUICK = RetryPolicy(attempts=3, base=0.01, cap=0.02, budget=1)


def test_environment_beats_dotenv_beats_dw_json(tmp_path: Path) -> None:
    (tmp_path / "dw.json").write_text(json.dumps({"hostname": "from-dw.example.com", "client-id": "dw-id",
                                                  "client-secret": "dw-secret", "username": "dw-user",
                                                  "password": "dw-key"}))
    (tmp_path / ".env").write_text("SFCC_CLIENT_ID=env-file-id\nSFCC_SHORTCODE=kv7kzm78\nSFCC_TENANT_ID=zzxy_prd\n"
                                   "OTHER=ignored\n")
    found = SfccConnection.from_env({"SFCC_CLIENT_SECRET": "environment-secret",
                                     "SFCC_WEBDAV_SERVER": "http://127.0.0.1:8080/"}, tmp_path)
    assert (found.server, found.webdav, found.account_manager) == (
        "https://from-dw.example.com", "http://127.0.0.1:8080", "https://account.demandware.com")
    assert (found.client_id, found.client_secret, found.username, found.password) == (
        "env-file-id", "environment-secret", "dw-user", "dw-key")
    assert (found.short_code, found.tenant, found.scapi) == ("kv7kzm78", "zzxy_prd",
                                                             "https://kv7kzm78.api.commercecloud.salesforce.com")
    assert "environment-secret" not in repr(found) and "dw-key" not in repr(found)


@pytest.mark.parametrize("environ, missing", [
    ({}, "SFCC_SERVER"),
    ({"SFCC_SERVER": "x.example.com", "SFCC_CLIENT_ID": "id"}, "SFCC_CLIENT_SECRET"),
    ({"SFCC_SERVER": "x.example.com", "SFCC_CLIENT_ID": "id", "SFCC_CLIENT_SECRET": "s", "SFCC_CERTIFICATE": "c.p12",
      "SFCC_CERTIFICATE_PASSPHRASE": "p"}, "SFCC_CERTIFICATE_KEY"),
])
def test_an_incomplete_connection_names_what_to_set(tmp_path: Path, environ: dict, missing: str) -> None:
    with pytest.raises(DeliveryError, match=missing) as raised:
        SfccConnection.from_env(environ, tmp_path)
    assert not raised.value.retryable


def test_a_bad_dw_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "dw.json").write_text("{not json")
    with pytest.raises(DeliveryError, match="dw.json: not readable JSON"):
        SfccConnection.from_env({}, tmp_path)


def _deliver(out: Path, environ: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFCC_") or k == "SFCC_XSD_DIR"} | environ
    return subprocess.run([sys.executable, "-m", "transformer.cli", "deliver", "--out", str(out), "--config", str(ROOT),
                           "--poll-interval", "0.01", *extra], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "out"
    from transformer.cli import main

    assert main(["run", "import-attributes", "--demo", "--out", str(out), "--config", str(ROOT)]) == 0
    return out


def _environ(fake: FakeSfcc, secret: str = SECRET, **more: str) -> dict[str, str]:
    return {"SFCC_SERVER": fake.url, "SFCC_ACCOUNT_MANAGER_HOST": fake.url, "SFCC_CLIENT_ID": "client-id",
            "SFCC_CLIENT_SECRET": secret, **more}


def test_a_refused_client_is_permanent_and_its_secret_shows_nowhere(built: Path, tmp_path: Path) -> None:
    wrong = "wr0ng+secret%2F"
    with FakeSfcc(tmp_path / "sfcc") as fake:
        done = _deliver(built, _environ(fake, wrong), "--json")
    assert done.returncode == 1, done.stderr
    assert "Account Manager refused the API client" in done.stderr and "check SFCC_CLIENT_ID" in done.stderr
    written = [done.stdout, done.stderr, *(p.read_text() for p in built.rglob("*.json"))]
    assert not any(wrong in text or "wr0ng" in text for text in written)
    assert json.loads(done.stdout)["status"] == "failed"


@pytest.mark.xsd  # the fake instance imports the archive (XSD order)
def test_webdav_with_a_business_manager_access_key(built: Path, tmp_path: Path) -> None:
    """SFCC_USERNAME + SFCC_PASSWORD: WebDAV takes the user's access key (Basic), the jobs API the client's token."""
    with FakeSfcc(tmp_path / "sfcc", webdav_user="merchandiser@example.com", webdav_password="k3y+/%") as fake:
        done = _deliver(built, _environ(fake, SFCC_USERNAME="merchandiser@example.com", SFCC_PASSWORD="k3y+/%"))
        webdav = [r.headers.get("Authorization", "") for r in fake.requests if "/webdav/" in r.path]
    assert done.returncode == 0, done.stderr
    assert webdav and all(value.startswith("Basic ") for value in webdav)
    assert "k3y+/%" not in done.stdout + done.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_instance_or_token_endpoint_is_retryable(built: Path, tmp_path: Path) -> None:
    site_import = next(built.glob("2*/site-import"))
    parts = write_parts(site_import, tmp_path / "parts", "run", 1 << 20)
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    with FakeSfcc(tmp_path / "sfcc") as fake:
        fake.fail(r"/dwsso/oauth2/access_token", *[503] * 10)
        cases = {"token endpoint down": SfccConnection.from_env(_environ(fake), tmp_path),
                 "no server": SfccConnection.from_env({**_environ(fake), "SFCC_SERVER": nowhere,
                                                       "SFCC_ACCOUNT_MANAGER_HOST": nowhere}, tmp_path)}
        for case, connection in cases.items():
            with pytest.raises(DeliveryError) as raised:
                Delivery(connection, DeliverySettings(), QUICK, sleep=lambda _: None).deliver(
                    "run", parts, tmp_path / "parts")
            assert raised.value.retryable, case
            assert SECRET not in str(raised.value) and SECRET not in repr(raised.value.__cause__), case
