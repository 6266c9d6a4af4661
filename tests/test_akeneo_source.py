"""The Akeneo REST source against a real HTTP server on 127.0.0.1 that speaks the Akeneo API
(tests/fake_akeneo.py): auth, paging, declared filters, differential pulls, faults, resume, media."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from transformer.cli import demo_snapshot, main
from transformer.config import load_config
from transformer.errors import SourceError
from transformer.http import RetryPolicy
from transformer.sources.akeneo import AkeneoClient, Connection
from transformer.sfcc import safe_path
from transformer.sources.pull import JobPuller, pull
from transformer.store import Store
from transformer.synth import generate

from conftest import ROOT
from fake_akeneo import Drop, FakeAkeneo, Malformed, ServerError, Slow, TooMany

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05, budget=5)
CONFIG = load_config(ROOT)
CATALOG = Path("latest/site-import/catalogs/akeneo-master/catalog.xml")


@pytest.fixture
def pim():
    with FakeAkeneo(demo_snapshot()) as server:
        yield server


def client_for(server: FakeAkeneo, **kwargs) -> AkeneoClient:
    kwargs.setdefault("retry", FAST)
    return AkeneoClient(Connection(server.url, "client", "s3cret", "user", "pass"), **kwargs)


def data_requests(server: FakeAkeneo, path: str) -> list:
    return [r for r in server.requests if r.path == f"/api/rest/v1/{path}"]


def pull_job(server: FakeAkeneo, store: Store, job: str = "full-import-master", since: str | None = None, **kwargs):
    return pull(client_for(server, **kwargs), store, CONFIG.jobs[job].sources, since=since)


# -- auth ---------------------------------------------------------------------------------

def test_password_grant_with_basic_auth_then_bearer_on_every_call(pim, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        pull_job(pim, store)
    token_calls = [r for r in pim.requests if r.path == "/api/oauth/v1/token"]
    assert len(token_calls) == 1 and token_calls[0].headers["Authorization"].startswith("Basic ")
    assert json.loads(token_calls[0].body) == {"grant_type": "password", "username": "user", "password": "pass"}
    data = [r for r in pim.requests if r.path.startswith("/api/rest/v1/")]
    assert data and all(r.headers["Authorization"].startswith("Bearer ") for r in data)


def test_token_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    with FakeAkeneo(demo_snapshot(), token_lifetime=1) as server:
        client = client_for(server)
        client.get_json("locales")
        time.sleep(0.95)  # past 90% of the token's life, not yet expired
        client.get_json("currencies")
        assert server.refreshes == 1 and server.tokens_issued == 2


def test_a_refused_token_is_renewed_and_the_call_repeated(pim) -> None:
    client = client_for(pim)
    client.get_json("locales")
    pim.expire_tokens()
    assert client.get_json("currencies")["_embedded"]["items"]
    assert pim.refreshes == 1


def test_bad_credentials_are_one_clear_line_without_secrets(pim) -> None:
    client = AkeneoClient(Connection(pim.url, "client", "wrong-secret-123", "user", "pw-456"), retry=FAST)
    with pytest.raises(SourceError) as raised:
        client.get_json("locales")
    message = str(raised.value)
    assert message.startswith("PIM authentication failed at /api/oauth/v1/token: HTTP 401")
    assert "wrong-secret-123" not in message and "pw-456" not in message
    assert "wrong-secret-123" not in repr(client.connection)


def test_connection_from_environment_and_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('export AKENEO_URL="https://pim.example/"\nAKENEO_CLIENT_ID=id # comment\nAKENEO_SECRET=\'s#1\'\n')
    connection = Connection.from_env({"AKENEO_USERNAME": "u", "AKENEO_PASSWORD": "p", "HOME": "/x"}, dotenv)
    assert (connection.url, connection.client_id, connection.secret, connection.username) == (
        "https://pim.example", "id", "s#1", "u")
    with pytest.raises(SourceError, match="set AKENEO_USERNAME, AKENEO_PASSWORD"):
        Connection.from_env({}, dotenv)


# -- paging and declared filters ------------------------------------------------------------

def test_search_after_paging_over_many_pages(tmp_path: Path) -> None:
    generate(demo_snapshot(), tmp_path / "snap", 1050)
    with FakeAkeneo(tmp_path / "snap") as server, Store(tmp_path / "s.sqlite") as store:
        report = pull_job(server, store, concurrency=1)
        assert store.count("products") == 1050
        pages = data_requests(server, "products")
    assert len(pages) == 11 and report.items["products"] == 1050
    assert parse_qs(urlsplit("?" + "&".join(f"{k}={v[0]}" for k, v in pages[0].query.items())).query) == {
        "pagination_type": ["search_after"], "limit": ["100"]}
    assert all("search_after" in p.query for p in pages[1:])


def test_declared_filters_are_sent_as_written(pim, tmp_path: Path) -> None:
    from dataclasses import replace

    declared = {"family": [{"operator": "IN", "value": ["shoes"]}],
                "updated": [{"operator": ">", "value": "2020-01-01 00:00:00"}]}
    sources = tuple(replace(s, search=declared, scope="ecommerce", locales=("en_US", "fr_FR"),
                            attributes=("name", "ean")) if s.endpoint.name == "products" else s
                    for s in CONFIG.jobs["differential-import-master"].sources)
    client = client_for(pim, concurrency=1)
    with Store(tmp_path / "s.sqlite") as store:
        pull(client, store, sources)  # no watermark yet: the filter as written
        first = data_requests(pim, "products")[0].query
        assert json.loads(first["search"][0]) == declared
        assert (first["scope"], first["locales"], first["attributes"]) == (["ecommerce"], ["en_US,fr_FR"], ["name,ean"])
        pim.requests.clear()
        pull(client, store, sources, since="2025-06-01T12:30:00+02:00")
        delta = json.loads(data_requests(pim, "products")[0].query["search"][0])
    # The engine's `updated` replaces the user's; other criteria stay; PIM format, in UTC.
    assert delta == {"family": [{"operator": "IN", "value": ["shoes"]}],
                     "updated": [{"operator": ">", "value": "2025-06-01 10:30:00"}]}


def test_product_reads_are_split_by_family_and_read_side_by_side(tmp_path: Path) -> None:
    generate(demo_snapshot(), tmp_path / "snap", 1200)
    with FakeAkeneo(tmp_path / "snap", page_latency=0.05) as server, Store(tmp_path / "s.sqlite") as store:
        report = pull_job(server, store, concurrency=4)
        assert store.count("products") == report.items["products"] == 1200
        families = sorted(item["code"] for _, item in store.rows("families"))
    firsts = [json.loads(r.query["search"][0])["family"] for r in data_requests(server, "products")
              if "search_after" not in r.query and "search" in r.query]
    firsts = [json.loads(text) for text in dict.fromkeys(json.dumps(c) for c in firsts)]  # the probe repeats one
    split = sorted(value for criteria in firsts if criteria[0]["operator"] == "IN" for value in criteria[0]["value"])
    assert split == families  # every known family in exactly one part
    assert [{"operator": "NOT IN", "value": families}] in firsts and [{"operator": "EMPTY"}] in firsts
    assert report.notes == []


def test_product_reads_are_not_split_where_a_family_filter_is_dear(tmp_path: Path) -> None:
    """A PIM whose filtered pages cost many plain ones (akeneo-api.md: filtered reads can be far
    more expensive): one page of each is measured, and the products are read in one plain pass."""
    generate(demo_snapshot(), tmp_path / "snap", 1200)
    with FakeAkeneo(tmp_path / "snap", page_latency=0.01, family_filter_latency=0.3) as server, \
            Store(tmp_path / "s.sqlite") as store:
        report = pull_job(server, store, concurrency=4)
        assert store.count("products") == report.items["products"] == 1200
    for path in ("products", "product-models"):
        filtered = [r for r in data_requests(server, path) if "family" in "".join(r.query.get("search", []))]
        assert len(filtered) == 1, path  # the measured page
    assert [note.split(":")[0] for note in report.notes] == ["product-models", "products"]
    assert all("a page filtered by family took" in note for note in report.notes)


def test_differential_pull_reads_only_what_changed_and_keeps_the_rest(pim, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        pull_job(pim, store)
        everything = store.count("products")
        report = pull_job(pim, store, job="differential-import-master", since="2025-11-08T16:38:07+00:00")
        assert 0 < report.items.get("products", 0) < everything
        assert store.count("products") == everything


def test_a_product_of_another_shape_does_not_stop_a_pull_split_by_family(tmp_path: Path) -> None:
    """A product whose family is a list (found by the bad-input property): the parts read by
    family skip it, the parts for no or another family hold it, and the pull goes on."""
    snap = tmp_path / "snap"
    generate(demo_snapshot(), snap, 300)
    lines = (snap / "products.jsonl").read_text().splitlines()
    odd = json.loads(lines[0]) | {"family": []}
    (snap / "products.jsonl").write_text("\n".join([json.dumps(odd)] + lines[1:]) + "\n")
    with FakeAkeneo(snap) as server, Store(tmp_path / "s.sqlite") as store:
        pull_job(server, store, concurrency=4)  # the families, first
        pull_job(server, store, concurrency=4)
        assert store.count("products") == 300 and store.get("products", odd["identifier"]) is not None


def test_categories_come_with_their_position_among_their_siblings(pim, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        pull_job(pim, store, "full-import-storefront")
        categories = [r for r in pim.requests if r.path == "/api/rest/v1/categories"]
        assert categories and all(r.query.get("with_position") == ["true"] for r in categories)
        stored = {item["code"]: item for _, item in store.rows("categories")}
    listed = json.loads((demo_snapshot() / "categories.json").read_text())
    for parent in {c["parent"] for c in listed}:
        siblings = [c["code"] for c in listed if c["parent"] == parent]
        assert [stored[code]["position"] for code in siblings] == list(range(1, len(siblings) + 1))


def test_owners_are_read_before_what_they_own(pim, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        pull_job(pim, store, job="import-attributes")
        selects = [a["code"] for _, a in store.rows("attributes") if a["type"].endswith("select")]
        assert {p for p, _ in store.rows("attribute-options")} == set(selects)
    paths = [r.path for r in pim.requests]
    assert max(i for i, p in enumerate(paths) if p == "/api/rest/v1/attributes") < min(
        i for i, p in enumerate(paths) if p.endswith("/options"))


def test_a_full_pull_forgets_what_the_pim_deleted(pim, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        pull_job(pim, store)
        products = list(store.iter("products"))
        pim.set_items("products", [{k: v for k, v in p.items() if k != "_links"} for p in products[1:]])
        pull_job(pim, store)
        assert store.count("products") == len(products) - 1
        assert store.get("products", products[0]["identifier"]) is None


# -- faults ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [TooMany(retry_after=0.2), TooMany(), ServerError(500), ServerError(502),
                                   ServerError(503), Drop(), Malformed(), Slow(1.5)], ids=repr)
def test_transient_faults_are_retried(pim, fault) -> None:
    waits: list[float] = []
    client = client_for(pim, timeout=(2.0, 1.0), sleep=lambda s: waits.append(s) or time.sleep(s))
    pim.fail(r"/locales$", fault)
    assert client.get_json("locales")["_embedded"]["items"]
    assert len(waits) == 1 and len(data_requests(pim, "locales")) == 2
    if isinstance(fault, TooMany) and fault.retry_after:
        assert waits == [0.2]  # Retry-After is honoured


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(base=1, cap=8)
    for attempt, ceiling in enumerate([1, 2, 4, 8, 8]):
        delays = [policy.delay(attempt, None) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(set(delays)) > 1


def test_giving_up_names_the_endpoint_and_status(pim) -> None:
    pim.fail(r"/currencies$", *[ServerError(502)] * 4)
    with pytest.raises(SourceError) as raised:
        client_for(pim).get_json("currencies")
    assert str(raised.value).startswith("/api/rest/v1/currencies: HTTP 502; gave up after 4 tries")


def test_the_wait_budget_bounds_the_total_time(pim) -> None:
    pim.fail(r"/currencies$", *[TooMany(retry_after=0.3)] * 10)
    client = client_for(pim, retry=RetryPolicy(attempts=10, budget=0.7))
    started = time.monotonic()
    with pytest.raises(SourceError, match="HTTP 429; gave up after 3 tries"):
        client.get_json("currencies")
    assert time.monotonic() - started < 2


def test_client_errors_are_not_retried(pim) -> None:
    with pytest.raises(SourceError, match=r"/api/rest/v1/attributes/nope/options: HTTP 404"):
        client_for(pim).get_json("attributes/nope/options")
    assert len(data_requests(pim, "attributes/nope/options")) == 1


def test_a_next_link_that_loops_is_stopped(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Looping(BaseHTTPRequestHandler):
        def do_POST(self):  # the token
            self._json({"access_token": "t", "expires_in": 3600, "refresh_token": "r"})

        def do_GET(self):  # every page says the next one is page 2
            self._json({"_links": {"next": {"href": f"http://127.0.0.1:{port}/api/rest/v1/categories?page=2"}},
                        "_embedded": {"items": [{"code": "c"}]}})

        def _json(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Looping)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = AkeneoClient(Connection(f"http://127.0.0.1:{port}", "c", "s", "u", "p"), retry=FAST)
        with pytest.raises(SourceError, match="next link repeats a page already read"):
            list(client.pages("categories"))
    finally:
        server.shutdown()


def test_download_errors_fail_the_pull_when_configured(pim, tmp_path: Path) -> None:
    from dataclasses import replace

    sources = tuple(replace(s, download_errors="fail") if s.download else s
                    for s in CONFIG.jobs["full-import-media-assets-pricebook"].sources)
    pim.fail(r"^/api/rest/v1/media-files/.+/download$", ServerError(404))
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(SourceError, match=r"1 download\(s\) failed, first: "):
        pull(client_for(pim), store, sources)


def test_next_links_are_rebased_on_the_configured_host(pim) -> None:
    client = client_for(pim)
    assert client.url("http://proxy.internal:8080/api/rest/v1/products?search_after=x") == \
        f"{pim.url}/api/rest/v1/products?search_after=x"


def test_an_interrupted_pull_resumes_at_the_page_it_stopped(tmp_path: Path, capsys) -> None:
    generate(demo_snapshot(), tmp_path / "snap", 500)
    with FakeAkeneo(tmp_path / "snap") as server, Store(tmp_path / "s.sqlite") as store:
        # Pages 1-2 come through, then the PIM fails longer than the retry policy lasts.
        server.fail(r"/products$", *[Slow(0)] * 2, *[ServerError(500)] * 4)
        with pytest.raises(SourceError, match="products: HTTP 500"):
            pull_job(server, store, concurrency=1)
        # Products, and the reads of the same level the failure stopped before they began.
        unfinished = store.unfinished_pulls()
        assert store.count("products") == 200 and "products" in unfinished
        code = main(["run", "full-import-master", "--offline", "--store", str(tmp_path / "s.sqlite"), "--out",
                     str(tmp_path / "out"), "--config", str(ROOT)])
        warning = f"warning: the store's last pull of {', '.join(unfinished)} did not finish"
        assert code == 0 and warning in capsys.readouterr().err
        server.requests.clear()
        pull_job(server, store, concurrency=1)
        assert store.unfinished_pulls() == []
        first = data_requests(server, "products")[0]
        assert "search_after" in first.query  # resumed, not restarted
        assert len(data_requests(server, "products")) == 3
        assert store.count("products") == 500


def test_a_resumed_pull_does_not_read_again_what_it_had_read_to_the_end(tmp_path: Path) -> None:
    """Two connections read the products in parts by family; the PIM fails on the last pages, after
    every other part was read to the end. Resumed, the pull asks for those pages only (it used to
    read every finished part again, and to time its pages again before choosing to split)."""
    generate(demo_snapshot(), tmp_path / "snap", 1200)
    with FakeAkeneo(tmp_path / "snap") as server, Store(tmp_path / "s.sqlite") as store:
        pull_job(server, store, concurrency=2)  # families first: the next pulls split the products by family
        server.requests.clear()
        pull_job(server, store, concurrency=2)
        requests = len(data_requests(server, "products"))
        families = {json.dumps(r.query.get("search")) for r in data_requests(server, "products")}
        assert len(families) > 3, families  # read in parts
        expected = store.count("products")
        for _ in range(3):  # a pull that times a filtered page slow on a busy machine reads in one part: again
            # Enough failures that whichever reads are still going at the end give up.
            server.fail(r"/products$", *[Slow(0)] * (requests - 1), *[ServerError(500)] * 40)
            try:
                pull_job(server, store, concurrency=2)
            except SourceError as exc:
                assert "products: HTTP 500" in str(exc)
                break
            server.clear_faults()
        assert "products" in store.unfinished_pulls()
        server.clear_faults()
        server.requests.clear()
        pull_job(server, store, concurrency=2)
        assert 1 <= len(data_requests(server, "products")) <= 2  # the last page of each read still going
        assert store.unfinished_pulls() == [] and store.count("products") == expected


# -- media ----------------------------------------------------------------------------------

def test_media_and_asset_binaries_are_downloaded_once_under_safe_names(pim, tmp_path: Path) -> None:
    job = CONFIG.jobs["full-import-media-assets-pricebook"]
    with Store(tmp_path / "s.sqlite") as store:
        root = store.media_root
        report = pull(client_for(pim), store, job.sources)
        media = sorted({r.path.removeprefix("/api/rest/v1/media-files/").removesuffix("/download")
                        for r in pim.requests if r.path.startswith("/api/rest/v1/media-files/")})
        assert media and report.downloaded > len(media) and report.download_errors == []
        for code in media:
            original = demo_snapshot() / "media-files" / code
            assert (root / safe_path(code)).read_bytes() == original.read_bytes()
        again = pull(client_for(pim), store, job.sources)
        assert again.downloaded == 0 and again.unchanged == report.downloaded
        # A media file no product or model references any more leaves the media folder with the next read.
        gone = media[0]
        for route in ("products", "product-models"):
            items = json.loads((demo_snapshot() / f"{route}.json").read_text())
            pim.set_items(route, [{**item, "values": {attribute: [e for e in entries if e.get("data") != gone]
                                                      for attribute, entries in item["values"].items()}}
                                  for item in items])
        pull(client_for(pim), store, job.sources)
        assert not (root / safe_path(gone)).exists() and store.media("media-files", gone) is None


def test_a_failed_download_is_reported_and_the_rest_goes_on(pim, tmp_path: Path) -> None:
    job = CONFIG.jobs["full-import-media-assets-pricebook"]
    pim.fail(r"^/api/rest/v1/media-files/.+/download$", ServerError(404))
    with Store(tmp_path / "s.sqlite") as store:
        report = pull(client_for(pim), store, job.sources)
    assert len(report.download_errors) == 1 and "HTTP 404" in report.download_errors[0]["message"]
    assert report.downloaded > 0


@pytest.mark.parametrize("code, expected", [
    ("7/5/8/e/758e_Fancy_Umlaut_1_.JPG", "7/5/8/e/758e_Fancy_Umlaut_1_.JPG"),  # Akeneo's codes are their own names
    ("7/5/8/e/758e_Fancy Ümlaut (1).JPG", "7/5/8/e/758e_Fancy_Umlaut_1_-4e730acd.JPG"),  # others: a hash of the code
    ("../../etc/passwd", "_/_/etc/passwd-3754d6cb"),
    ("/abs/olute.png", "abs/olute-ff636665.png"),
    ("a\\..\\b.png", "a/_/b-857e0e84.png"),
    ("日本.png", "_-831c5343.png"),
    ("assets/x.png", "assets/x-fab48609.png"),  # never in the asset binaries' folder
])
def test_safe_paths_are_ascii_and_stay_inside(code: str, expected: str, tmp_path: Path) -> None:
    path = safe_path(code)
    assert path == expected and path.isascii()
    assert (tmp_path / path).resolve().is_relative_to(tmp_path.resolve())


# -- end to end -----------------------------------------------------------------------------

def connect(monkeypatch, server: FakeAkeneo, secret: str = "s3cret") -> None:
    for name, value in {"AKENEO_URL": server.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": secret,
                        "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}.items():
        monkeypatch.setenv(name, value)


def test_pull_then_run_equals_the_snapshot_run_even_with_faults(pim, tmp_path: Path, monkeypatch, capsys) -> None:
    connect(monkeypatch, pim)
    assert main(["run", "full-import-master", "--demo", "--out", str(tmp_path / "snapshot"), "--config", str(ROOT)]) == 0
    pim.fail(r"/products$", TooMany(retry_after=0.1), ServerError(500), Drop(), ServerError(502), Malformed(), Slow(0.3))
    pim.fail(r"/attributes$", Drop())
    store = str(tmp_path / "store.sqlite")
    assert main(["pull", "full-import-master", "--store", store, "--config", str(ROOT)]) == 0
    assert main(["run", "full-import-master", "--offline", "--store", store, "--out", str(tmp_path / "pulled"),
                 "--config", str(ROOT)]) == 0
    assert (tmp_path / "pulled" / CATALOG).read_bytes() == (tmp_path / "snapshot" / CATALOG).read_bytes()
    # `run` without --offline pulls first, and says so in its report.
    assert main(["run", "3-2-1", "--store", store, "--out", str(tmp_path / "run"), "--config", str(ROOT)]) == 0
    report = json.loads((tmp_path / "run" / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["pull"]["items"]["products"] == 61 and "pull" in report["timings_seconds"]
    assert (tmp_path / "run" / CATALOG).read_bytes() == (tmp_path / "snapshot" / CATALOG).read_bytes()


def test_secrets_never_reach_output_or_reports(pim, tmp_path: Path, monkeypatch, capsys) -> None:
    connect(monkeypatch, pim, secret="TopSecret-987")
    code = main(["run", "full-import-master", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"),
                 "--config", str(ROOT)])
    captured = capsys.readouterr()
    assert code == 1 and "PIM authentication failed" in captured.err
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.json"))
    for secret in ("TopSecret-987", "pass"):
        assert secret not in captured.err + captured.out + written.replace('"passed"', "")


def test_chained_jobs_read_a_shared_source_once(pim, tmp_path: Path) -> None:
    puller = JobPuller(client_for(pim))
    with Store(tmp_path / "s.sqlite") as store:
        puller(CONFIG.jobs["full-import-master"], store)
        before = len(data_requests(pim, "products"))
        second = puller(CONFIG.jobs["full-import-master-variation"], store)
    assert len(data_requests(pim, "products")) == before and second["items"] == {}


def test_a_community_edition_pim_skips_enterprise_jobs_in_one_line(pim, tmp_path: Path, monkeypatch, capsys) -> None:
    connect(monkeypatch, pim)
    pim.system = {"version": "7.0.0", "edition": "CE"}
    code = main(["run", "differential-import-assets", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"),
                 "--config", str(ROOT)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == 0 and lines[0] == ("[1/1] differential-import-assets: job 'differential-import-assets' needs the "
                                      "Asset Manager, which this CE PIM does not have: skipped")
    assert len(lines) == 2 and lines[1].startswith("Done: 1 jobs, 0 ok, 1 skipped, ")
    assert not [r for r in pim.requests if "/asset" in r.path]
    # Jobs that only use assets on the side run without them.
    assert main(["run", "full-import-master", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"),
                 "--config", str(ROOT)]) == 0
    assert not [r for r in pim.requests if "/asset" in r.path]


# -- differential pulls ---------------------------------------------------------------------

def test_a_differential_pull_sees_deletions_and_what_the_updated_read_missed(pim, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        pull_job(pim, store)
        products = [{k: v for k, v in p.items() if k != "_links"} for p in store.iter("products")]
        deleted, missed = products[0], products[1]
        # The PIM's clock is behind: the change carries an `updated` older than the read's start.
        missed = {**missed, "updated": "2001-01-01T00:00:00+00:00", "enabled": not missed["enabled"]}
        pim.set_items("products", products[2:] + [missed])
        report = pull_job(pim, store, job="differential-import-master", since="2026-01-01T00:00:00+00:00")
        listing = [r for r in data_requests(pim, "products") if r.query.get("attributes") == ["sku"]]
        assert listing and all("updated" not in r.query.get("search", [""])[0] for r in listing)  # same filters, no delta
        assert report.gone == {"products": 1} and report.read_again == 1
        assert store.get("products", deleted["identifier"]) is None
        assert store.get("products", missed["identifier"])["enabled"] == missed["enabled"]
        assert [code for code, _ in store.gone_since("products", 0)] == [deleted["identifier"]]


def test_a_second_differential_run_writes_nothing_and_a_deletion_goes_offline_in_the_next(
        pim, tmp_path: Path, monkeypatch, capsys) -> None:
    connect(monkeypatch, pim)
    store = str(tmp_path / "s.sqlite")
    args = ["run", "catalog-differential", "--store", store, "--config", str(ROOT)]
    assert main(args + ["--out", str(tmp_path / "first")]) == 0

    def written(out: Path) -> dict[str, set[str]]:
        found = {}
        for name in ("catalog.xml", "variations.xml", "images.xml"):
            path = out / "latest" / "site-import/catalogs/akeneo-master" / name
            found[name] = set(etree.parse(str(path)).getroot().xpath("//*[local-name()='product']/@product-id"))
        storefront = etree.parse(str(out / "latest" / "site-import/catalogs/akeneo-storefront/catalog.xml")).getroot()
        found["assignments"] = set(storefront.xpath("//*[local-name()='category-assignment']/@product-id"))
        return found

    assert all(written(tmp_path / "first").values())
    assert main(args + ["--out", str(tmp_path / "second")]) == 0
    assert written(tmp_path / "second") == {"catalog.xml": set(), "variations.xml": set(), "images.xml": set(),
                                            "assignments": set()}
    products = json.loads((demo_snapshot() / "products.json").read_text())
    gone = next(p for p in products if not p.get("parent") and p.get("categories"))
    pim.set_items("products", [p for p in products if p is not gone])
    assert main(args + ["--out", str(tmp_path / "third")]) == 0
    third = tmp_path / "third" / "latest" / "site-import/catalogs"
    catalog = etree.parse(str(third / "akeneo-master/catalog.xml")).getroot()
    offline = catalog.xpath(f"//*[local-name()='product'][@product-id='{gone['identifier']}']/*")
    assert [(etree.QName(e).localname, e.text) for e in offline] == [("online-flag", "false")]
    storefront = etree.parse(str(third / "akeneo-storefront/catalog.xml")).getroot()
    deleted = storefront.xpath(f"//*[local-name()='category-assignment'][@product-id='{gone['identifier']}']")
    assert deleted and all(a.get("mode") == "delete" for a in deleted)
    assert {a.get("category-id") for a in deleted} >= set(gone["categories"]) & {
        c["code"] for c in json.loads((demo_snapshot() / "categories.json").read_text()) if c["parent"]}


def test_an_item_read_again_is_stored_as_the_filtered_read_gives_it(pim, tmp_path: Path) -> None:
    from dataclasses import replace

    sources = tuple(replace(s, locales=("en_US",), attributes=("name", "sku")) if s.endpoint.name == "products" else s
                    for s in CONFIG.jobs["differential-import-master"].sources)
    with Store(tmp_path / "s.sqlite") as store:
        pull(client_for(pim), store, sources)  # the first read: in full, filtered
        products = [{k: v for k, v in p.items() if k != "_links"} for p in json.loads((demo_snapshot() / "products.json").read_text())]
        missed = {**products[0], "updated": "2001-01-01T00:00:00+00:00", "enabled": not products[0]["enabled"]}
        pim.set_items("products", [missed] + products[1:])
        report = pull(client_for(pim), store, sources, since="2026-01-01T00:00:00+00:00")
        stored = store.get("products", missed["identifier"])
    assert report.read_again == 1 and stored["enabled"] == missed["enabled"]
    assert set(stored["values"]) <= {"name", "sku"}
    assert all(e["locale"] in (None, "en_US") for entries in stored["values"].values() for e in entries)
