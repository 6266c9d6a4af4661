"""Unattended runs end cleanly, whatever happens: real processes, real signals, two commands on one
store, a broken snapshot, a PIM that accepts connections and never answers."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT

TOOL = Path(sys.executable).with_name("akeneo-sfcc")
CATALOG = "site-import/catalogs/akeneo-master/catalog.xml"


def start(*argv: object, cwd: Path = ROOT, env: dict | None = None) -> subprocess.Popen:
    """The tool in its own session (a terminal's Ctrl-C reaches the whole process group)."""
    return subprocess.Popen([str(TOOL), *map(str, argv)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def statuses(store: Path) -> list[str]:
    with sqlite3.connect(store) as db:
        return [row[0] for row in db.execute("SELECT status FROM runs ORDER BY started")]


def until(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> Path:
    """A store of 6,000 synthetic products: enough that the master job starts its worker pool."""
    folder = tmp_path_factory.mktemp("big")
    subprocess.run([TOOL, "synth", "--products", "6000", "--out", folder / "snap"], check=True, capture_output=True)
    subprocess.run([TOOL, "load", folder / "snap", "--store", folder / "store.sqlite"], cwd=ROOT, check=True,
                   capture_output=True)
    return folder / "store.sqlite"


@pytest.fixture(scope="module")
def reference_catalog(big_store: Path, tmp_path_factory) -> bytes:
    """The master catalog of an uninterrupted run of the big store."""
    folder = tmp_path_factory.mktemp("reference")
    assert finish(master_run(copy_store(big_store, folder), folder / "out"))[0] == 0
    return (folder / "out" / "latest" / CATALOG).read_bytes()


def copy_store(store: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(store, target / store.name)
    if Path(f"{store}.media").is_dir():
        shutil.copytree(f"{store}.media", target / f"{store.name}.media")
    return target / store.name


def master_run(store: Path, out: Path, *more: str) -> subprocess.Popen:
    return start("run", "full-import-master", "--offline", "--store", store, "--out", out, "--workers", "2", *more)


@pytest.mark.parametrize("signum, code, name", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_mid_run_ends_cleanly_and_the_next_run_writes_the_same_bytes(big_store: Path, reference_catalog: bytes,
                                                                               tmp_path: Path, signum, code, name) -> None:
    store, out = copy_store(big_store, tmp_path / "mine"), tmp_path / "out"
    process = master_run(store, out)
    until(lambda: any(out.rglob(".catalog.xml.*.tmp")), what="the catalog being written")
    sent = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # as a terminal does: the workers get it too
    else:
        process.send_signal(signum)  # as Kubernetes or a CI cancel does: the main process only
    returncode, _, err = finish(process)
    assert time.monotonic() - sent < 5, "the command stops promptly"
    assert returncode == code
    assert err.strip().splitlines()[-1] == f"interrupted ({name}): nothing was half-written; run again to redo the job"
    assert "Traceback" not in err and "database is locked" not in err
    assert not list(out.rglob("*.tmp")), "no temporary file is left"
    assert statuses(store)[-1] == "interrupted"
    (report,) = (out / "latest" / "reports").glob("*.json")
    assert json.loads(report.read_text())["status"] == "interrupted"
    assert finish(master_run(store, out))[0] == 0
    assert (out / "latest" / CATALOG).read_bytes() == reference_catalog


def test_a_killed_run_leaves_debris_the_next_run_sweeps(big_store: Path, tmp_path: Path) -> None:
    store, out = copy_store(big_store, tmp_path / "mine"), tmp_path / "out"
    process = master_run(store, out)
    until(lambda: any(out.rglob(".catalog.xml.*.tmp")), what="the catalog being written")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert list(out.rglob(".*.tmp")) and statuses(store) == ["running"]
    assert finish(master_run(store, out))[0] == 0
    assert not list(out.rglob(".*.tmp")), "the killed run's half-written file is swept"
    assert statuses(store) == ["interrupted", "committed"]


def test_a_second_command_on_the_same_store_refuses_or_waits(big_store: Path, tmp_path: Path) -> None:
    store, out = copy_store(big_store, tmp_path / "mine"), tmp_path / "out"
    first = master_run(store, out)
    until(lambda: Path(f"{store}.lock").is_file() and Path(f"{store}.lock").read_text(), what="the lock")
    code, _, err = finish(master_run(store, tmp_path / "other"))
    assert code == 75
    assert f"error: store {store} is in use by `run full-import-master` (pid {first.pid}, since " in err
    assert "or pass --wait" in err
    waiting = master_run(store, tmp_path / "waited", "--wait")
    assert finish(first)[0] == 0 and finish(waiting)[0] == 0
    assert statuses(store) == ["committed", "committed"], "one after the other, never side by side"


def test_a_broken_snapshot_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    from transformer.cli import demo_snapshot

    store = tmp_path / "store.sqlite"
    assert subprocess.run([TOOL, "load", demo_snapshot(), "--store", store], cwd=ROOT, capture_output=True).returncode == 0
    with sqlite3.connect(store) as db:
        before = db.execute("SELECT kind, code, hash FROM entities ORDER BY kind, code").fetchall()
    broken = tmp_path / "broken"
    shutil.copytree(demo_snapshot(), broken)
    models = json.loads((broken / "product-models.json").read_text())
    (broken / "product-models.json").write_text(json.dumps(models[:3]))  # loads before products.json, in name order
    (broken / "products.json").write_text((broken / "products.json").read_text()[:-200])  # cut short
    done = subprocess.run([TOOL, "load", broken, "--store", store], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "products.json" in done.stderr
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT kind, code, hash FROM entities ORDER BY kind, code").fetchall() == before


def test_ctrl_c_while_the_pim_never_answers_ends_at_once(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    accepted = []
    threading.Thread(target=lambda: [accepted.append(silent.accept()) for _ in range(16)], daemon=True).start()
    env = os.environ | {"AKENEO_URL": f"http://127.0.0.1:{silent.getsockname()[1]}", "AKENEO_CLIENT_ID": "c",
                        "AKENEO_SECRET": "s", "AKENEO_USERNAME": "u", "AKENEO_PASSWORD": "p"}
    try:
        process = start("pull", "--store", tmp_path / "store.sqlite", env=env)
        until(lambda: accepted, timeout=30, what="a connection")
        time.sleep(0.5)
        sent = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        code, _, err = finish(process, timeout=30)
        assert time.monotonic() - sent < 2 and code == 130, err
        assert "Traceback" not in err
    finally:
        silent.close()


def silent_pim(connections: int = 64) -> socket.socket:
    """A loopback socket that accepts connections and never answers."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(connections)
    kept = []
    threading.Thread(target=lambda: [kept.append(silent.accept()) for _ in range(connections)], daemon=True).start()
    return silent


def pim_env(port: int) -> dict:
    return os.environ | {"AKENEO_URL": f"http://127.0.0.1:{port}", "AKENEO_CLIENT_ID": "c", "AKENEO_SECRET": "s3cr3t",
                         "AKENEO_USERNAME": "u", "AKENEO_PASSWORD": "p4ss"}


def test_a_pim_that_never_answers_ends_the_command_within_its_deadline(tmp_path: Path) -> None:
    silent = silent_pim()
    try:
        began = time.monotonic()
        code, _, err = finish(start("pull", "--store", tmp_path / "s.sqlite", "--deadline", "4",
                                    env=pim_env(silent.getsockname()[1])), timeout=60)
        took = time.monotonic() - began
    finally:
        silent.close()
    assert code == 75 and took < 10, (took, err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: /api/oauth/v1/token: no answer within") and "gave up after" in last
    assert "(the command's retry budget or deadline is spent)" in last
    assert "s3cr3t" not in err and "p4ss" not in err


def test_one_retry_budget_for_the_whole_command_and_every_retry_said(tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked = []

    class Unavailable(BaseHTTPRequestHandler):
        def do_POST(self):
            asked.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        began = time.monotonic()
        code, _, err = finish(start("pull", "--store", tmp_path / "s.sqlite", "--retry-budget", "5",
                                    env=pim_env(server.server_address[1])), timeout=120)
        took = time.monotonic() - began
    finally:
        server.shutdown()
    retries = [line for line in err.splitlines() if "HTTP 503, retrying in" in line]
    assert code == 75 and took < 20, (took, err)
    assert retries and all(line.startswith("/api/oauth/v1/token: HTTP 503, retrying in ") for line in retries)
    assert len(asked) == len(retries) + 1, "one token request at a time, however many connections"
    assert err.strip().splitlines()[-1].startswith("error: /api/oauth/v1/token: HTTP 503; gave up after ")


def json_head(handler, status: int, length: int) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(length))
    handler.end_headers()


def serve(handler_class) -> tuple[str, callable]:
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server.shutdown


def test_an_answer_cut_below_its_content_length_is_retried() -> None:
    from http.server import BaseHTTPRequestHandler

    from transformer.sources.akeneo import AkeneoClient, Connection

    served = []

    class CutOnce(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer(json.dumps({"access_token": "t", "expires_in": 3600}).encode())

        def do_GET(self):
            body = json.dumps({"_embedded": {"items": [{"code": "web"}]}, "_links": {}}).encode()
            served.append(self.path)
            if len(served) == 1:  # announce it all, send half, hang up
                json_head(self, 200, len(body))
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._answer(body)

        def _answer(self, body: bytes) -> None:
            json_head(self, 200, len(body))
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    url, stop = serve(CutOnce)
    try:
        client = AkeneoClient(Connection(url, "id", "secret", "user", "pass"), concurrency=1, sleep=lambda _: None)
        assert client.get_json("channels")["_embedded"]["items"] == [{"code": "web"}]
    finally:
        stop()
    assert len(served) == 2


def test_a_pim_echoing_the_credentials_in_its_error_never_gets_them_printed(tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            body = json.dumps({"code": 400, "message": f"refused {self.headers.get('Authorization')} {sent}"}).encode()
            json_head(self, 400, len(body))
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    url, stop = serve(Echo)
    try:
        env = pim_env(0) | {"AKENEO_URL": url}
        code, out, err = finish(start("pull", "--store", tmp_path / "s.sqlite", env=env), timeout=60)
    finally:
        stop()
    assert code == 1 and "PIM authentication failed" in err and "refused Basic *** " in err
    assert '"password": "***"' in err

    basic = base64.b64encode(b"c:s3cr3t").decode()
    for secret in ("s3cr3t", "p4ss", basic):
        assert secret not in out + err


def test_values_no_json_store_takes_are_kept_safely_and_items_without_a_code_skipped(tmp_path: Path) -> None:
    """A lone surrogate, NaN and Infinity, an identifier that is null or a number: the load goes on."""
    from transformer.cli import demo_snapshot

    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap)
    products = json.loads((snap / "products.json").read_text())
    products[0]["values"]["name"] = [{"locale": "en_US", "scope": None, "data": "broken \ud800 text"}]
    products[1]["values"]["weight"] = [{"locale": None, "scope": None, "data": {"amount": float("nan"), "unit": "GRAM"}}]
    products[2]["values"]["rating"] = [{"locale": None, "scope": None, "data": float("inf")}]
    extra = [dict(products[3], identifier=None, uuid="u-null"), dict(products[3], identifier=42, uuid="u-number")]
    (snap / "products.json").write_text(json.dumps(products + extra))
    store = tmp_path / "s.sqlite"
    done = subprocess.run([TOOL, "load", snap, "--store", store], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "products.json: 2 item(s) without 'identifier' skipped" in done.stderr
    with sqlite3.connect(store) as db:
        name = db.execute("SELECT json_extract(data, '$.values.name[0].data') FROM entities WHERE code = ?",
                          (products[0]["identifier"],)).fetchone()[0]
        amount = db.execute("SELECT json_extract(data, '$.values.weight[0].data.amount') FROM entities WHERE code = ?",
                            (products[1]["identifier"],)).fetchone()[0]
    assert name == "broken \ufffd text" and amount is None
    done = subprocess.run([TOOL, "run", "full-import-master", "--offline", "--store", store, "--out", tmp_path / "out"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "internal error" not in done.stderr, done.stderr


def test_status_says_what_the_store_holds_and_which_runs_are_stuck(big_store: Path, tmp_path: Path) -> None:
    store, out = copy_store(big_store, tmp_path / "mine"), tmp_path / "out"
    assert finish(master_run(store, out))[0] == 0
    killed = master_run(store, out)
    until(lambda: any(out.rglob(".catalog.xml.*.tmp")), what="the catalog being written")
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    code, shown, _ = finish(start("status", "--store", store))
    assert code == 0
    lines = shown.splitlines()
    first, second = statuses_ids(store)
    assert lines[0].startswith(f"store {store} (store version ")
    with sqlite3.connect(store) as db:
        products = db.execute("SELECT COUNT(*) FROM entities WHERE kind = 'products'").fetchone()[0]
    assert products and f", {products} products," in lines[1]
    assert any(line.endswith(f"  catalogs/akeneo-master/catalog.xml  ({first})") for line in lines)
    assert any(line.startswith(f"  {first}  full-import-master") and " committed " in line for line in lines)
    assert lines[-1].startswith(f"stuck: {second} left running by a process that died")
    assert statuses(store) == ["committed", "running"], "status changes nothing"


def statuses_ids(store: Path) -> list[str]:
    with sqlite3.connect(store) as db:
        return [row[0] for row in db.execute("SELECT id FROM runs ORDER BY started")]


def test_off_a_terminal_a_long_job_says_it_is_alive() -> None:
    import io

    from transformer.report import Progress

    log = io.StringIO()
    progress = Progress("full-import-master", 400, log, heartbeat=0.0)
    for _ in range(4):
        progress.advance(100)
    progress.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].startswith("full-import-master: 100/400 records (") and " s left)" in lines[0]
    assert "\r" not in log.getvalue() and lines[-1].startswith("full-import-master: 400/400 records (")


def test_each_job_is_said_as_it_ends_and_quiet_says_nothing_but_problems(tmp_path: Path) -> None:
    process = start("run", "catalog", "--demo", "--out", tmp_path / "out")
    first = process.stdout.readline()  # a pipe, not a terminal: the line comes as the job ends, not at exit
    assert first.startswith("[1/4] full-import-master: succeeded in ") and process.poll() is None
    code, rest, _ = finish(process)
    lines = [first.rstrip("\n")] + rest.splitlines()
    assert code == 0 and [line[:5] for line in lines[:4]] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert lines[-1].startswith("Done: 4 jobs, 4 ok, 0 skipped, 0 record errors, 0 failed downloads, ")
    code, out, err = finish(start("run", "catalog", "--demo", "--out", tmp_path / "quiet", "--quiet"))
    assert code == 0 and out == ""


def test_run_json_says_what_ran_and_how_it_ended_even_when_it_failed(tmp_path: Path, config_dir: Path) -> None:
    import jsonschema

    schema = json.loads((ROOT / "transformer" / "schemas" / "run.schema.json").read_text())
    code, _, _ = finish(start("run", "catalog", "--demo", "--out", tmp_path / "ok", "--config", config_dir))
    summary = json.loads(next((tmp_path / "ok").glob("*/run.json")).read_text())
    jsonschema.validate(summary, schema)
    assert code == 0 and summary["status"] == "succeeded" and summary["pim"] == "demo"
    assert [job["job"] for job in summary["jobs"]] == ["full-import-master", "full-import-master-variation",
                                                       "full-master-image", "full-import-storefront"]
    assert all(job["watermark_set"] for job in summary["jobs"]) and summary["archive"].endswith(".zip")
    template = config_dir / "templates" / "catalog" / "variations.xml.j2"
    template.write_text(template.read_text().replace("{{", "{{ undefined_name.x ~ ", 1))
    code, _, _ = finish(start("run", "catalog", "--demo", "--out", tmp_path / "failed", "--config", config_dir))
    summary = json.loads(next((tmp_path / "failed").glob("*/run.json")).read_text())
    jsonschema.validate(summary, schema)
    assert code == 1 and summary["status"] == "failed" and summary["archive"] is None
    assert [job["status"] for job in summary["jobs"]] == ["succeeded", "failed"] and summary["jobs"][1]["reason"]


def test_every_job_report_follows_its_schema(tmp_path: Path, config_dir: Path) -> None:
    """Reports of a whole chain, of a job with record errors, and of a failed job."""
    import jsonschema

    schema = json.loads((ROOT / "transformer" / "schemas" / "report.schema.json").read_text())
    assert finish(start("run", "full", "--demo", "--out", tmp_path / "full"))[0] == 0
    from transformer.cli import demo_snapshot

    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap)
    products = json.loads((snap / "products.json").read_text())
    (snap / "products.json").write_text(json.dumps(products + [dict(products[0], identifier=" padded", uuid="u")]))
    template = config_dir / "templates" / "catalog" / "variations.xml.j2"
    template.write_text(template.read_text().replace("{{", "{{ undefined_name.x ~ ", 1))
    assert finish(start("run", "catalog", "--snapshot", snap, "--out", tmp_path / "bad", "--config", config_dir))[0] == 1
    reports = sorted(p for p in tmp_path.glob("[bf]*/*/reports/*.json") if p.parts[-3] != "latest")
    assert len(reports) == 10  # the chain's eight, then the catalog's first two
    checked = [json.loads(path.read_text()) for path in reports]
    for report in checked:
        jsonschema.validate(report, schema)
    assert {r["status"] for r in checked} >= {"succeeded", "failed"}
    assert any(r["error_groups"] for r in checked), "a report with record errors was checked too"


def test_record_errors_are_grouped_with_a_count_and_examples() -> None:
    from transformer.report import RunReport

    report = RunReport("j", "t", "full")
    dropped, skipped = "value dropped", "record skipped"
    report.errors = [{"id": f"p{i}", "field": "ean", "message": "too long", "action": dropped} for i in range(7)] + [
        {"id": "q", "field": "name", "message": "not text", "action": dropped, "mapping": "mappings/products.yaml:14:10"},
        {"id": "r", "field": "ean", "message": "too long", "action": skipped}]
    assert report.as_dict()["error_groups"] == [
        {"field": "ean", "message": "too long", "action": dropped, "count": 7, "examples": ["p0", "p1", "p2", "p3", "p4"]},
        {"field": "ean", "message": "too long", "action": skipped, "count": 1, "examples": ["r"]},
        {"field": "name", "message": "not text", "action": dropped, "count": 1, "examples": ["q"],
         "mapping": "mappings/products.yaml:14:10"}]


def test_several_names_select_exclude_and_full_refresh(capsys, tmp_path: Path) -> None:
    from transformer.cli import demo_snapshot, main

    store = tmp_path / "s.sqlite"
    assert main(["load", str(demo_snapshot()), "--store", str(store), "--config", str(ROOT)]) == 0
    assert main(["run", "1", "full-import-master", "catalog", "--exclude", "3-2-4,full-master-image", "--offline",
                 "--store", str(store), "--out", str(tmp_path / "a"), "--config", str(ROOT)]) == 0
    summary = json.loads(next((tmp_path / "a").glob("*/run.json")).read_text())
    assert [job["job"] for job in summary["jobs"]] == ["import-attributes", "full-import-master",
                                                       "full-import-master-variation"], "in order, once each"
    capsys.readouterr()
    assert main(["run", "differential", "--select", "3-1-1", "--offline", "--store", str(store), "--out",
                 str(tmp_path / "b"), "--config", str(ROOT)]) == 0
    first = json.loads(next((tmp_path / "b").glob("*/run.json")).read_text())["jobs"]
    assert [job["job"] for job in first] == ["differential-import-master"] and first[0]["watermark_used"] is not None
    assert main(["run", "3-1-1", "--full-refresh", "--offline", "--store", str(store), "--out", str(tmp_path / "c"),
                 "--config", str(ROOT)]) == 0
    (refreshed,) = json.loads(next((tmp_path / "c").glob("*/run.json")).read_text())["jobs"]
    assert refreshed["watermark_used"] is None and refreshed["counts"]["products"] == 60
    code = main(["run", "catalog", "--select", "1", "--offline", "--store", str(store), "--config", str(ROOT)])
    assert code == 1 and "no job left to run of catalog after --select and --exclude" in capsys.readouterr().err
