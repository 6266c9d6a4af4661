"""`run full` through a fault-injecting proxy (tests/fault_proxy.py) in front of the fake PIM
writes the same archive, byte for byte, as a run straight against the fake PIM.

At 10 % and 30 % of the requests (token and binary downloads included) the proxy answers 429 (with
and without Retry-After), 5xx, drops the connection before answering or mid-body, stalls past the
client's read timeout (before the headers or mid-body), sends truncated JSON with a matching
Content-Length, or a body cut below its Content-Length. The seeds are fixed, and the proxy decides
per request (the n-th arrival of one METHOD target), not per arrival order, so the same faults hit
the same requests on every run; they were picked so that, over the two runs, every kind of fault
happens, the token request fails once in each run, binary downloads are cut, and no request fails
more than twice in a row (the tool's backoff doubles from 1 s: longer chains only cost time). Should
the demo data or the requests the client sends change, the faults move to other requests: if the
coverage test then fails, pick new seeds (each run prints what its proxy injected, with -s).

The tool is the real console script, with `--read-timeout 1.5` so that a stall costs 1.5 s, not 60.

What is compared: every file of the archive (the zip's members, below its top folder, which is the
run id) and of out/latest/site-import/, as bytes. No normalisation is needed: no file content embeds
the run id or a time (checked: two direct runs give identical members; only the zip's top folder
name and its members' timestamps differ, and these are not compared).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import archive_of, copy_config
from fake_akeneo import FakeAkeneo
from fault_proxy import BINARY, BODY_KINDS, KINDS, TOKEN_PATH, FaultProxy
from transformer.cli import demo_snapshot

READ_TIMEOUT = 1.5
STALL = READ_TIMEOUT + 1.0  # a stall outlasts the client's read timeout
TOOL = Path(sys.executable).with_name("akeneo-sfcc")
RUNS = {"10%": (0.10, 27), "30%": (0.30, 124)}  # rate, seed
RETRY = re.compile(r"^(/\S+): (.+), retrying in \d+ s \(attempt \d+/\d+\)$")
SITE_IMPORT = "site-import"


def run_full(pim_url: str, folder: Path) -> tuple[int, str, str, float]:
    """`run full` against the PIM at `pim_url`, in a private copy of the shipped config."""
    folder.mkdir(parents=True)
    config = copy_config(folder)
    env = os.environ | {"AKENEO_URL": pim_url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                        "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}
    began = time.monotonic()
    done = subprocess.run([TOOL, "run", "full", "--config", config, "--store", folder / "store.sqlite",
                           "--out", folder / "out", "--retry-budget", "120", "--read-timeout", str(READ_TIMEOUT)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=150)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - began


def contents(out: Path) -> dict[str, bytes]:
    """Every file of the run's archive, by its path below the zip's top folder (the run id), as bytes;
    checked to be the same as out/latest/site-import/."""
    with zipfile.ZipFile(archive_of(out)) as archive:
        members = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    folder = out / "latest" / SITE_IMPORT
    on_disk = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == members, "the archive and out/latest/site-import differ"
    return members


@pytest.fixture(scope="module")
def direct(tmp_path_factory) -> dict[str, bytes]:
    """The archive of `run full` straight against the fake PIM."""
    folder = tmp_path_factory.mktemp("direct") / "run"
    with FakeAkeneo(demo_snapshot()) as fake:
        code, out, err, took = run_full(fake.url, folder)
    assert code == 0, err
    assert not [line for line in err.splitlines() if RETRY.match(line)], "no fault, no retry"
    files = contents(folder / "out")
    assert any(name.startswith("catalogs/akeneo-master/static/") for name in files), "binaries are in the archive"
    print(f"direct run: {took:.1f}s, {len(files)} files")
    return files


_proxied: dict[str, tuple[FaultProxy, int, str, str, float, Path]] = {}


def proxied(name: str, tmp_path_factory) -> tuple[FaultProxy, int, str, str, float, Path]:
    """`run full` through the proxy at one of RUNS (run once per module, whichever test asks first)."""
    if name not in _proxied:
        rate, seed = RUNS[name]
        folder = tmp_path_factory.mktemp(f"faults-{int(rate * 100)}") / "run"
        with FakeAkeneo(demo_snapshot()) as fake, FaultProxy(fake.url, rate=rate, seed=seed, stall=STALL) as proxy:
            code, out, err, took = run_full(proxy.url, folder)
        _proxied[name] = proxy, code, out, err, took, folder
    return _proxied[name]


@pytest.mark.parametrize("name", RUNS)
def test_run_full_through_faults_writes_the_same_bytes(name: str, direct: dict[str, bytes], tmp_path_factory) -> None:
    proxy, code, out, err, took, folder = proxied(name, tmp_path_factory)
    print(f"{name}: {took:.1f}s; {proxy.summary()}")
    assert code == 0, f"{proxy.summary()}\n{err}"
    assert "Traceback" not in err and "internal error" not in err.lower(), err
    assert "0 failed downloads" in out, out
    files = contents(folder / "out")
    assert files.keys() == direct.keys()
    assert [n for n in files if files[n] != direct[n]] == [], "files whose bytes differ from the direct run's"
    assert not [p for p in folder.rglob("*.part")], "no half-downloaded binary is left"
    # Every fault was seen and retried: one stderr line per fault (timeouts of a slow machine may add some).
    retried = Counter(m[1] for line in err.splitlines() if (m := RETRY.match(line)))
    faulted = Counter(urlsplit(e.target).path for e in proxy.events if e.fault)
    assert sum(faulted.values()) >= (10 if name == "10%" else 25), proxy.summary()
    assert {path: n for path, n in faulted.items() if retried[path] < n} == {}, "faults without a retry line"


def test_every_kind_of_fault_was_injected(tmp_path_factory) -> None:
    """Over the two runs: each kind at least once, the token request hit in each run, binaries cut."""
    runs = [proxied(name, tmp_path_factory)[0] for name in RUNS]
    injected = sum((proxy.injected for proxy in runs), Counter())
    print("injected over the runs:", dict(injected), "5xx statuses:", dict(sum((p.statuses for p in runs), Counter())))
    assert [kind for kind in KINDS if not injected[kind]] == []
    assert all(proxy.on_token for proxy in runs), [dict(proxy.on_token) for proxy in runs]
    assert sum(n for proxy in runs for kind, n in proxy.on_binaries.items() if kind in BODY_KINDS) >= 3


# -- a short body where urllib3 does not raise ---------------------------------------------------

@pytest.fixture
def lenient_urllib3(monkeypatch):
    """urllib3 as 1.x was (requests>=2.31 accepts it): a body shorter than its Content-Length is handed
    over without an error. The tool must notice by itself."""
    from urllib3.connectionpool import HTTPConnectionPool

    urlopen = HTTPConnectionPool.urlopen
    monkeypatch.setattr(HTTPConnectionPool, "urlopen",
                        lambda self, *args, **kwargs: urlopen(self, *args, **kwargs, enforce_content_length=False))


def test_cut_bodies_are_retried_even_when_urllib3_does_not_raise(lenient_urllib3, tmp_path: Path) -> None:
    import hashlib
    import logging

    import requests

    from transformer.http import RetryPolicy
    from transformer.sources.akeneo import AkeneoClient, Connection
    from transformer.sources.media import MEDIA_FILES, api_path

    demo = demo_snapshot()
    code = next(p for p in (demo / "media-files").rglob("*") if p.is_file()).relative_to(demo / "media-files").as_posix()
    whole = (demo / "media-files" / code).read_bytes()
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())
    logging.getLogger("akeneo_sfcc").addHandler(handler)  # it may not propagate (the CLI's own handler)
    with FakeAkeneo(demo) as fake:
        grant = requests.post(fake.url + TOKEN_PATH, auth=("client", "s3cret"), timeout=5,
                              json={"grant_type": "password", "username": "user", "password": "pass"}).json()
        with FaultProxy(fake.url, rate=1.0, seed=0, kinds=("cut-body",), most=1) as proxy:
            cut = requests.get(f"{proxy.url}/api/rest/v1/{api_path(MEDIA_FILES, code)}", timeout=5,
                               headers={"Authorization": f"Bearer {grant['access_token']}"})
            assert cut.ok and len(cut.content) < len(whole), "the lenient urllib3 hands over a cut body without an error"
        try:
            with FaultProxy(fake.url, rate=1.0, seed=0, kinds=("cut-body",), most=1) as proxy:
                client = AkeneoClient(Connection(proxy.url, "client", "s3cret", "user", "pass"),
                                      retry=RetryPolicy(attempts=3, base=0.01, cap=0.05, budget=5))
                digest = client.download(api_path(MEDIA_FILES, code), tmp_path / "file")
                assert client.get_json("currencies")["_embedded"]["items"]
        finally:
            logging.getLogger("akeneo_sfcc").removeHandler(handler)
    assert (tmp_path / "file").read_bytes() == whole and digest == hashlib.sha256(whole).hexdigest()
    hits = [urlsplit(e.target).path for e in proxy.events if e.fault]
    assert len(hits) == 3 and {TOKEN_PATH, "/api/rest/v1/currencies"} < set(hits) and any(map(BINARY.fullmatch, hits))
    assert len(said) == 3 and all("cut short" in line for line in said), said
