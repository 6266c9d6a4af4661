"""Delivery into SFCC against real components on 127.0.0.1: a real WebDAV server (WsgiDAV) and a fake
Account Manager and OCAPI/SCAPI job API (tests/fake_sfcc.py, written from the protocol reference) whose
import job opens the uploaded zip, checks its layout, validates its XML and writes an import log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
import requests

from transformer.cli import main
from transformer.store import Store

from conftest import ROOT
from fake_sfcc import FakeSfcc

pytestmark = pytest.mark.xsd  # the fake instance imports each part into the SFCC simulator, which merges in XSD order

FAST = ["--poll-interval", "0.01"]
OUTPUT = "catalogs/akeneo-master/catalog.xml"


@pytest.fixture
def sfcc(tmp_path: Path, monkeypatch):
    with FakeSfcc(tmp_path / "sfcc") as fake:
        for name, value in {"SFCC_SERVER": fake.url, "SFCC_WEBDAV_SERVER": fake.url, "SFCC_ACCOUNT_MANAGER_HOST": fake.url,
                            "SFCC_CLIENT_ID": "client-id", "SFCC_CLIENT_SECRET": "s3cr+t%"}.items():
            monkeypatch.setenv(name, value)
        for name in ("SFCC_SHORTCODE", "SFCC_TENANT_ID", "SFCC_USERNAME", "SFCC_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        yield fake


def delivered(out: Path) -> dict:
    return json.loads((out / "latest" / "delivery.json").read_text())


def uploads(fake: FakeSfcc) -> list[str]:
    return sorted(p.name for p in (fake.sites / "Impex/src/instance").iterdir())


def test_a_whole_chain_is_delivered_and_only_then_committed(sfcc: FakeSfcc, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store.sqlite"
    assert main(["load", str(ROOT / "transformer/demo/pim"), "--store", str(store)]) == 0
    code = main(["run", "full", "--offline", "--store", str(store), "--out", str(tmp_path / "out"), "--config", str(ROOT),
                 "--deliver", *FAST])
    assert code == 0, capsys.readouterr()
    assert [(i["status"], i["exit"], i["api"]) for i in sfcc.imports] == [("finished", "OK", "ocapi")]
    assert sfcc.imports[0]["counts"]["product"] > 60 and sfcc.imports[0]["dataerrors"] == 0
    report = delivered(tmp_path / "out")
    assert report["status"] == "succeeded" and report["parts"][0]["import"]["total"] > 0
    assert uploads(sfcc) == [] and not (sfcc.sites / "Impex/akeneo-sfcc/lock").exists()  # cleaned up, unlocked
    assert (sfcc.sites / "Impex/akeneo-sfcc/receipts" / report["parts"][0]["sha256"]).is_dir()
    with Store(store) as opened:
        assert opened.output_state(OUTPUT) is not None and opened.run_status(report["run"]) == "committed"
    assert "delivered in" in capsys.readouterr().out


def test_the_demo_quick_path_delivers(sfcc: FakeSfcc, tmp_path: Path) -> None:
    assert main(["run", "full", "--demo", "--out", str(tmp_path / "out"), "--config", str(ROOT), "--deliver", *FAST]) == 0
    assert len(sfcc.imports) == 1 and sfcc.imports[0]["exit"] == "OK"


@pytest.mark.parametrize("outcome, status", [("ERROR", "finished"), ("aborted", "aborted")])
def test_a_failed_import_exits_1_and_leaves_the_state_where_it_was(sfcc: FakeSfcc, tmp_path: Path, capsys,
                                                                    outcome: str, status: str) -> None:
    store = tmp_path / "store.sqlite"
    assert main(["load", str(ROOT / "transformer/demo/pim"), "--store", str(store)]) == 0
    sfcc.outcomes = [outcome]
    code = main(["run", "differential-import-master", "--offline", "--store", str(store), "--out", str(tmp_path / "out"),
                 "--config", str(ROOT), "--deliver", *FAST])
    err = capsys.readouterr().err
    assert code == 1 and f"ended {status}" in err
    report = delivered(tmp_path / "out")
    with Store(store) as opened:
        assert opened.output_state(OUTPUT) is None and opened.run_status(report["run"]) == "built"
    # Delivered again once SFCC is well: imported, and only then does the state move.
    assert main(["deliver", "--out", str(tmp_path / "out"), "--store", str(store), "--config", str(ROOT), *FAST]) == 0
    with Store(store) as opened:
        assert opened.output_state(OUTPUT) is not None and opened.run_status(report["run"]) == "committed"


def test_a_multi_part_archive_goes_in_order_each_part_under_the_limit(sfcc: FakeSfcc, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", "full", "--demo", "--out", str(out), "--config", str(ROOT), "--deliver", "--part-size", "0.015",
                 "--keep-archive", *FAST]) == 0
    parts = json.loads((out / "latest" / "parts" / "parts.json").read_text())
    assert len(parts) > 2 and all(p["bytes"] <= 0.015 * (1 << 20) for p in parts)
    assert [i["file"] for i in sfcc.imports] == [p["file"] for p in parts]  # in order, each once
    assert all(i["exit"] == "OK" and i["dataerrors"] == 0 for i in sfcc.imports)  # each part valid on its own
    with zipfile.ZipFile(out / "latest" / f"{(out / 'latest').resolve().name}.zip") as whole:
        expected = {name.split("/", 1)[1] for name in whole.namelist() if not name.endswith(".xml")}
    found = set()
    for part in parts:
        with zipfile.ZipFile(out / "latest" / "parts" / part["file"]) as opened:
            names = opened.namelist()
            assert {name.split("/", 1)[0] for name in names} == {part["name"]}  # one top folder named like the zip
            found |= {name.split("/", 1)[1] for name in names}
    assert expected <= found  # every binary in some part, metadata and XML before the static files
    first_static = next(i for i, p in enumerate(parts) if "static" in json.dumps(p) or i == len(parts) - 1)
    assert first_static > 0


def test_pending_and_running_are_no_ends(sfcc: FakeSfcc, tmp_path: Path) -> None:
    sfcc.polls_pending, sfcc.polls_running = 3, 4
    assert main(["run", "import-attributes", "--demo", "--out", str(tmp_path / "out"), "--config", str(ROOT), "--deliver",
                 *FAST]) == 0
    polls = [r for r in sfcc.requests if r.method == "GET" and "/executions/" in r.path]
    assert len(polls) >= 8 and sfcc.imports[0]["exit"] == "OK"


def test_sfcc_data_errors_are_reported_and_fail_only_under_strict(sfcc: FakeSfcc, tmp_path: Path, capsys) -> None:
    sfcc.bad_products = {"AC-BOTTLE-STEEL-750"}
    args = ["run", "full-import-master", "--demo", "--config", str(ROOT), "--deliver", *FAST]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert "1 SFCC data error(s)" in capsys.readouterr().out
    part = delivered(tmp_path / "a")["parts"][0]
    assert part["import"]["dataerrors"] == 1 and "AC-BOTTLE-STEEL-750" in part["import"]["first_dataerrors"][0]
    assert main(args + ["--out", str(tmp_path / "b"), "--strict"]) == 3


def test_a_token_that_expires_while_polling_is_renewed(sfcc: FakeSfcc, tmp_path: Path) -> None:
    sfcc.polls_running = 6
    poll, polls = sfcc._poll, []

    def expiring_at_the_third_poll(execution_id: str):
        polls.append(execution_id)
        if len(polls) == 3:
            sfcc.expire_tokens()  # the import outlives the token, whatever the machine's speed
        return poll(execution_id)

    sfcc._poll = expiring_at_the_third_poll
    assert main(["run", "import-attributes", "--demo", "--out", str(tmp_path / "out"), "--config", str(ROOT),
                 "--deliver", *FAST]) == 0
    assert len(polls) > 3 and sfcc.tokens_issued >= 2 and sfcc.imports[0]["exit"] == "OK"


def test_too_large_an_upload_says_what_to_change(tmp_path: Path, monkeypatch, capsys) -> None:
    with FakeSfcc(tmp_path / "sfcc", upload_limit=10_000) as fake:
        for name in ("SFCC_SERVER", "SFCC_WEBDAV_SERVER", "SFCC_ACCOUNT_MANAGER_HOST"):
            monkeypatch.setenv(name, fake.url)
        monkeypatch.setenv("SFCC_CLIENT_ID", "client-id")
        monkeypatch.setenv("SFCC_CLIENT_SECRET", "s3cr+t%")
        code = main(["run", "full-import-master", "--demo", "--out", str(tmp_path / "out"), "--config", str(ROOT),
                     "--deliver", *FAST])
    err = capsys.readouterr().err
    assert code == 1 and "HTTP 413" in err and "--part-size" in err and "s3cr+t%" not in err


def test_scapi_is_used_when_a_short_code_and_tenant_are_set(sfcc: FakeSfcc, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SFCC_SHORTCODE", "kv7kzm78")
    monkeypatch.setenv("SFCC_TENANT_ID", "zzxy_prd")
    monkeypatch.setenv("SFCC_SCAPI_SERVER", sfcc.url)
    assert main(["run", "import-attributes", "--demo", "--out", str(tmp_path / "out"), "--config", str(ROOT), "--deliver",
                 "--json", *FAST]) == 0
    assert sfcc.imports[0]["api"] == "scapi" and delivered(tmp_path / "out")["api"] == "SCAPI"


def test_an_import_already_running_is_waited_for(sfcc: FakeSfcc, tmp_path: Path) -> None:
    """Someone else's import runs on the instance: the delivery waits for it, then imports."""
    other = tmp_path / "other"
    assert main(["run", "import-attributes", "--demo", "--out", str(other), "--config", str(ROOT)]) == 0
    sfcc.polls_running = 5
    token = requests.post(sfcc.url + "/dwsso/oauth2/access_token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": "Basic Y2xpZW50LWlkOnMzY3IlMkJ0JTI1"}).json()["access_token"]
    archive = next((other / "latest").glob("*.zip"))
    with open(archive, "rb") as body:
        requests.put(f"{sfcc.url}/on/demandware.servlet/webdav/Sites/Impex/src/instance/{archive.name}", data=body,
                     headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    running = requests.post(f"{sfcc.url}/s/-/dw/data/v25_6/jobs/sfcc-site-archive-import/executions",
                            json={"file_name": archive.name, "mode": "merge"}, headers={"Authorization": f"Bearer {token}"})
    assert running.status_code == 202
    ticker = threading.Thread(target=lambda: [requests.get(
        f"{sfcc.url}/s/-/dw/data/v25_6/jobs/sfcc-site-archive-import/executions/{running.json()['id']}",
        headers={"Authorization": f"Bearer {token}"}) or time.sleep(0.05) for _ in range(20)], daemon=True)
    ticker.start()
    assert main(["run", "import-attributes", "--demo", "--out", str(tmp_path / "out"), "--config", str(ROOT), "--deliver",
                 *FAST]) == 0
    assert [i["exit"] for i in sfcc.imports] == ["OK", "OK"]


def _deliver_process(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "transformer.cli", "deliver", "--out", str(out), "--config", str(ROOT),
                             "--part-size", "0.015", *FAST, *extra], env=os.environ.copy(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_delivery_killed_between_parts_resumes_and_imports_nothing_twice(sfcc: FakeSfcc, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", "full", "--demo", "--out", str(out), "--config", str(ROOT)]) == 0
    sfcc.polls_running = 10
    process = _deliver_process(out)
    receipts = sfcc.sites / "Impex/akeneo-sfcc/receipts"
    deadline = time.monotonic() + 60
    while not (receipts.is_dir() and any(receipts.iterdir()) and len(sfcc.imports) >= 2) \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)  # mid-delivery: the first part in, the second importing
    process.wait()
    assert len(sfcc.imports) >= 2 and any(receipts.iterdir())
    again = _deliver_process(out)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    parts = json.loads((out / "latest" / "parts" / "parts.json").read_text())
    imported = [i["file"] for i in sfcc.imports]
    assert sorted(imported) == sorted(p["file"] for p in parts) and len(imported) == len(set(imported))
    assert "imported before, skipped" in stderr + stdout


def test_two_deliveries_at_once_the_second_refuses_as_retryable(sfcc: FakeSfcc, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", "import-attributes", "--demo", "--out", str(out), "--config", str(ROOT)]) == 0
    sfcc.polls_running = 200
    first = _deliver_process(out)
    deadline = time.monotonic() + 30
    while not (sfcc.sites / "Impex/akeneo-sfcc/lock/owner.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        code = main(["deliver", "--out", str(out), "--config", str(ROOT), *FAST])
        assert code == 75 and "holds the lock" in capsys.readouterr().err
    finally:
        sfcc.polls_running = 0
        first.communicate(timeout=60)
    assert first.returncode == 0 and len(sfcc.imports) == 1


def test_the_business_manager_documents_carry_the_client_id(sfcc: FakeSfcc, capsys) -> None:
    assert main(["deliver", "--print-bm-config"]) == 0
    out = capsys.readouterr().out
    assert '"client_id": "client-id"' in out and "/jobs/*/executions" in out and '"/impex"' in out


@pytest.mark.skipif(not os.environ.get("SFCC_LIVE_SANDBOX"), reason="set SFCC_LIVE_SANDBOX=1 and the SFCC_* variables "
                    "of a sandbox to deliver the demo there")
def test_a_real_sandbox_imports_the_demo(tmp_path: Path) -> None:
    assert main(["run", "full", "--demo", "--out", str(tmp_path / "out"), "--config", str(ROOT), "--deliver"]) == 0
