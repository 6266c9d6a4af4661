"""The SFCC fake against plain `requests`: if the fake lies about the protocol, the delivery tests built on it
prove nothing, so each behaviour the reference (shared/reference/sfcc-delivery.md) names is shown here."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import requests

from fake_sfcc import MOUNT, FakeSfcc

pytestmark = pytest.mark.xsd  # the fake instance validates and merges what it imports with the SFCC XSDs

OCAPI = "/s/-/dw/data/v25_6/jobs/sfcc-site-archive-import/executions"
SEARCH = "/s/-/dw/data/v25_6/job_execution_search"
SCAPI = "/operation/jobs/v1/organizations/f_ecom_zzxy_prd/jobs/sfcc-site-archive-import/executions"
JOBS_SCOPE = "SALESFORCE_COMMERCE_API:zzxy_prd sfcc.jobs.rw"
CATALOG = """<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns="http://www.demandware.com/xml/impex/catalog/2006-10-31" catalog-id="master">
  <category category-id="root"><display-name xml:lang="x-default">Root</display-name></category>
  {products}
  <category-assignment category-id="root" product-id="P-1"/>
</catalog>
"""
GOOD = ('<product product-id="P-1"><display-name xml:lang="x-default">One</display-name></product>'
        '<product product-id="BAD-1"><display-name xml:lang="x-default">Bad</display-name></product>')


def archive(name: str = "import-p01", products: str = GOOD, top: str | None = None) -> bytes:
    """A site-import zip in memory: one top folder named like the zip, holding one master catalog."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr(f"{top or name}/catalogs/master/catalog.xml", CATALOG.format(products=products))
    return data.getvalue()


def token(fake: FakeSfcc, scope: str | None = None) -> str:
    """Account Manager's client-credentials grant, with the Basic header form-encoded before Base64 (§1.1)."""
    basic = base64.b64encode(f"{quote_plus('client-id')}:{quote_plus('s3cr+t%')}".encode()).decode()
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    answer = requests.post(fake.url + "/dwsso/oauth2/access_token", data=form, headers={"Authorization": f"Basic {basic}"},
                           timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def session(bearer: str) -> requests.Session:
    http = requests.Session()
    http.headers.update({"Authorization": f"Bearer {bearer}", "x-dw-client-id": "client-id"})
    return http


def upload(fake: FakeSfcc, http: requests.Session, name: str = "import-p01", data: bytes | None = None) -> None:
    answer = http.put(f"{fake.url}{MOUNT}/Impex/src/instance/{name}.zip", data=data or archive(name),
                      headers={"Content-Type": "application/zip"}, timeout=5)
    assert answer.status_code == 201, answer.status_code


def poll(fake: FakeSfcc, http: requests.Session, path: str, execution: str, key: str = "execution_status") -> list:
    """Every state seen until a terminal one, and the last document."""
    seen = []
    while True:
        doc = http.get(f"{fake.url}{path}/{execution}", timeout=5).json()
        seen.append(doc[key])
        if doc[key] in ("finished", "aborted"):
            return seen + [doc]


@pytest.fixture
def fake(tmp_path: Path):
    with FakeSfcc(tmp_path) as running:
        yield running


@pytest.fixture
def http(fake: FakeSfcc) -> requests.Session:
    return session(token(fake))


def test_token_needs_the_form_encoded_basic_header(fake):
    ok = requests.post(fake.url + "/dwsso/oauth2/access_token", data={"grant_type": "client_credentials",
                       "scope": JOBS_SCOPE}, headers={"Authorization": "Basic " + base64.b64encode(
                           b"client-id:s3cr%2Bt%25").decode()}, timeout=5)
    assert ok.status_code == 200
    assert ok.json()["expires_in"] == 1799 and ok.json()["token_type"] == "Bearer"
    assert ok.json()["scope"] == JOBS_SCOPE and ok.json()["access_token"]
    naive = requests.post(fake.url + "/dwsso/oauth2/access_token", data={"grant_type": "client_credentials"},
                          auth=("client-id", "s3cr+t%"), timeout=5)
    assert naive.status_code == 401 and naive.json()["error"] == "invalid_client"
    assert "s3cr" not in naive.text + ok.text


def test_webdav_answers_like_sfcc(fake, http):
    url = f"{fake.url}{MOUNT}/Impex/src/instance/a.zip"
    assert http.put(url, data=b"one", timeout=5).status_code == 201
    assert http.put(url, data=b"two", timeout=5).status_code == 204
    assert (fake.sites / "Impex/src/instance/a.zip").read_bytes() == b"two"
    assert requests.put(url, data=b"x", timeout=5).status_code == 401
    assert requests.put(url, data=b"x", headers={"Authorization": "Bearer forged"}, timeout=5).status_code == 401
    assert http.put(f"{fake.url}{MOUNT}/Impex/missing/a.zip", data=b"x", timeout=5).status_code == 409
    lock = f"{fake.url}{MOUNT}/Impex/akeneo-sfcc/"
    assert [http.request("MKCOL", lock, timeout=5).status_code for _ in range(2)] == [201, 405]
    assert http.delete(url, timeout=5).status_code == 204
    assert fake.requests[-1].method == "DELETE" and fake.requests[-1].path.endswith("/a.zip")


def test_webdav_upload_limit_and_basic_access_key(tmp_path):
    with FakeSfcc(tmp_path, upload_limit=1000, webdav_user="bm-user", webdav_password="access-key") as fake:
        url = f"{fake.url}{MOUNT}/Impex/src/instance/a.zip"
        assert requests.put(url, data=b"x" * 1000, auth=("bm-user", "access-key"), timeout=5).status_code == 201
        assert requests.put(url, data=b"x", auth=("bm-user", "wrong"), timeout=5).status_code == 401
        assert requests.put(url, data=b"x" * 1001, auth=("bm-user", "access-key"), timeout=5).status_code == 413
        assert (fake.sites / "Impex/src/instance/a.zip").stat().st_size == 1000


def test_ocapi_import_finishes_ok_and_logs_the_data_error(fake, http):
    upload(fake, http)
    started = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip", "mode": "merge"}, timeout=5)
    assert started.status_code == 202
    doc = started.json()
    assert (doc["_type"], doc["execution_status"], doc["status"]) == ("job_execution", "pending", "PENDING")
    assert "exit_status" not in doc and {"name": "ImportFile", "value": "import-p01.zip"} in [
        {k: p[k] for k in ("name", "value")} for p in doc["parameters"]]
    *states, end = poll(fake, http, OCAPI, doc["id"])
    assert states == ["pending", "running", "finished"]
    assert end["exit_status"]["code"] == "OK" and end["exit_status"]["status"] == "ok" and end["status"] == "OK"
    assert end["is_log_file_existing"] and end["log_file_path"] == f"/Sites/LOGS/jobs/sfcc-site-archive-import/{doc['log_file_name']}"
    log = http.get(f"{fake.url}{MOUNT}/{end['log_file_path'].removeprefix('/Sites/')}", timeout=5)
    assert log.status_code == 200
    assert "Starting Import" in log.text and "Processed 1 product elements successfully" in log.text
    assert "Processed 1 category-assignment elements successfully" in log.text
    assert "Processed 3 total elements" in log.text
    (error,) = [line for line in log.text.splitlines() if "[DATAERROR]" in line]
    assert "WARN [DATAERROR] [3/4] Job: sfcc-site-archive-import:" in error and "BAD-1" in error and "<product" in error
    assert (fake.sites / "Impex/log" / doc["log_file_name"]).read_text() == log.text
    assert fake.imports[-1] == {**fake.imports[-1], "file": "import-p01.zip", "execution": doc["id"], "api": "ocapi",
                                "status": "finished", "exit": "OK", "dataerrors": 1, "datawarnings": 0,
                                "counts": {"category": 1, "product": 1, "category-assignment": 1}}
    assert (fake.sites / "Impex/src/instance/import-p01.zip").exists()  # the client deletes it, not the job


def test_parameters_form_after_unknown_property(fake, http):
    upload(fake, http)
    fake.unknown_property = True
    refused = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip", "mode": "merge"}, timeout=5)
    assert refused.status_code == 400
    fault = refused.json()["fault"]
    assert fault["type"] == "UnknownPropertyException" and fault["arguments"]["document"] == "job_execution_request"
    started = http.post(fake.url + OCAPI, json={"parameters": [{"name": "ImportFile", "value": "import-p01.zip"}]},
                        timeout=5)
    assert started.status_code == 202 and poll(fake, http, OCAPI, started.json()["id"])[-1]["status"] == "OK"


def test_one_import_at_a_time_and_the_search_finds_it(fake, http):
    upload(fake, http)
    first = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip"}, timeout=5).json()
    busy = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip"}, timeout=5)
    assert busy.status_code == 400
    assert busy.json()["fault"]["type"] == "JobAlreadyRunningException"
    assert busy.json()["fault"]["arguments"]["jobId"] == "sfcc-site-archive-import"
    scapi = session(token(fake, JOBS_SCOPE)).post(fake.url + SCAPI, json={"parameters": [
        {"name": "ImportFile", "value": "import-p01.zip"}]}, timeout=5)
    assert "job-already-running" in scapi.json()["type"] and scapi.json()["title"] == "Job Already Running"
    query = {"bool_query": {"must": [
        {"term_query": {"fields": ["job_id"], "operator": "is", "values": ["sfcc-site-archive-import"]}},
        {"term_query": {"fields": ["status"], "operator": "one_of", "values": ["RUNNING", "PENDING"]}}]}}
    search = {"query": query, "count": 1, "start": 0, "sorts": [{"field": "start_time", "sort_order": "asc"}]}
    found = http.post(fake.url + SEARCH, json=search, timeout=5).json()
    assert found["total"] == 1 and found["hits"][0]["id"] == first["id"]
    poll(fake, http, OCAPI, first["id"])
    assert http.post(fake.url + SEARCH, json=search, timeout=5).json()["hits"] == []
    assert http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip"}, timeout=5).status_code == 202


@pytest.mark.parametrize("data, reason", [
    (archive(products='<product product-id="P-1"><colour>red</colour></product>'), "failed to validate"),
    (archive(products="<product"), "not well-formed"),
    (archive(top="other-name"), "named like the zip"),
    (b"not a zip", "not a zip"),
])
def test_a_broken_archive_ends_error(fake, http, data, reason):
    upload(fake, http, data=data)
    started = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip"}, timeout=5).json()
    end = poll(fake, http, OCAPI, started["id"])[-1]
    assert (end["execution_status"], end["exit_status"]["code"], end["exit_status"]["status"]) == \
        ("finished", "ERROR", "error")
    assert reason in end["exit_status"]["message"] and reason in end["step_executions"][-1]["exit_status"]["message"]
    assert reason in (fake.sites / "LOGS/jobs/sfcc-site-archive-import" / end["log_file_name"]).read_text()
    assert fake.imports[-1]["exit"] == "ERROR" and fake.imports[-1]["counts"] == {}


def test_scripted_outcomes(fake, http):
    upload(fake, http)
    fake.outcomes = ["aborted", "ERROR"]
    fake.polls_pending = fake.polls_running = 0
    first = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip"}, timeout=5).json()
    assert poll(fake, http, OCAPI, first["id"])[0] == "aborted"
    second = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip"}, timeout=5).json()
    assert poll(fake, http, OCAPI, second["id"])[-1]["exit_status"]["code"] == "ERROR"
    assert [(i["status"], i["exit"]) for i in fake.imports] == [("aborted", "ERROR"), ("finished", "ERROR")]


def test_expired_token_mid_poll_and_other_faults(fake, http):
    upload(fake, http)
    started = http.post(fake.url + OCAPI, json={"file_name": "import-p01.zip"}, timeout=5).json()
    assert http.get(f"{fake.url}{OCAPI}/{started['id']}", timeout=5).json()["execution_status"] == "pending"
    fake.expire_tokens()
    expired = http.get(f"{fake.url}{OCAPI}/{started['id']}", timeout=5)
    assert expired.status_code == 401 and expired.json()["fault"]["type"] == "InvalidAccessTokenException"
    assert http.put(f"{fake.url}{MOUNT}/Impex/src/instance/b.zip", data=b"x", timeout=5).status_code == 401
    fresh = session(token(fake))
    fake.fail(r"/executions/\d+$", 503)
    assert fresh.get(f"{fake.url}{OCAPI}/{started['id']}", timeout=5).status_code == 503
    assert poll(fake, fresh, OCAPI, started["id"])[-1]["status"] == "OK"
    assert fresh.get(f"{fake.url}{OCAPI}/999999", timeout=5).status_code == 404
    missing = fresh.post(fake.url + OCAPI, json={"file_name": "nope.zip"}, timeout=5)
    assert missing.status_code == 404 and "nope.zip" in missing.json()["fault"]["message"]


def test_scapi_needs_the_tenant_and_jobs_scopes(fake):
    plain = session(token(fake))
    upload(fake, plain)
    body = {"parameters": [{"name": "ImportFile", "value": "import-p01.zip"}]}
    refused = plain.post(fake.url + SCAPI, json=body, timeout=5)
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert {"type", "title", "detail"} <= refused.json().keys()
    scoped = session(token(fake, JOBS_SCOPE))
    started = scoped.post(fake.url + SCAPI, json=body, timeout=5)
    assert started.status_code == 202 and started.json()["executionStatus"] == "pending"
    *states, end = poll(fake, scoped, SCAPI, started.json()["id"], key="executionStatus")
    assert states == ["pending", "running", "finished"]
    assert end["exitStatus"] == {"code": "OK", "status": "ok"} and end["isLogFileExisting"]
    assert scoped.get(f"{fake.url}{MOUNT}/{end['logFilePath'].removeprefix('/Sites/')}", timeout=5).ok
    assert fake.imports[-1]["api"] == "scapi" and fake.imports[-1]["dataerrors"] == 1
