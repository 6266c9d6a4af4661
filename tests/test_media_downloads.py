"""Media downloads: exactly the media files and asset binaries the products, models and assets
reference, each once, by code, from a PIM that serves no media list (405); a bad code is a distinct
safe file or one entry of the report's download_errors, and never a request outside the media
endpoint or a file outside the store's media folder. Expected sets are read from the snapshot's
JSON as the API reference describes it, not computed by the client's code."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from lxml import etree

from transformer.cli import demo_snapshot, main
from transformer.config import load_config
from transformer.errors import SourceError
from transformer.sfcc import PATH_MAX, SEGMENT_MAX, safe_path
from transformer.sources.media import ASSET_FILES, MEDIA_FILES, api_path
from transformer.sources.pull import pull
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store

from conftest import ROOT
from fake_akeneo import FakeAkeneo
from test_akeneo_source import client_for, connect

CONFIG = load_config(ROOT)
API = "/api/rest/v1/"
MEDIA, ASSETS = API + "media-files/", API + "asset-media-files/"
STATIC = Path("latest/site-import/catalogs/akeneo-master/static/default")
IMAGES = Path("latest/site-import/catalogs/akeneo-master/images.xml")
NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
LIST_READ = re.compile(r"/api/oauth/v1/token|/api/rest/v1/[a-z-]+(/[A-Za-z0-9_-]+/[a-z-]+)*")
# Codes no PIM should hold, and two pairs that sanitise alike ("a b.jpg", "a?b.jpg", "a_b.jpg"; ".." and "../../x").
BAD_CODES = ["/", "//", "\\", "..", ".", "...", " ", "x" * 500, "a/../../../../tmp/escape.jpg", "../../x",
             "a b.jpg", "a?b.jpg", "a_b.jpg", "a/./b.png", "%2E%2E/y.png"]


def _json(snapshot: Path, name: str) -> list[dict]:
    return json.loads((snapshot / name).read_text(encoding="utf-8"))


def referenced_media(snapshot: Path) -> list[str]:
    """The media codes of the image and file values (akeneo-api.md §5.3) of the products and models."""
    media = {a["code"] for a in _json(snapshot, "attributes.json") if a["type"] in ("pim_catalog_image", "pim_catalog_file")}
    return sorted({entry["data"] for name in ("products.json", "product-models.json") for item in _json(snapshot, name)
                   for attribute, entries in item["values"].items() if attribute in media for entry in entries})


def referenced_asset_files(snapshot: Path) -> list[str]:
    """The media codes of the assets' media_file values (§5.6)."""
    codes = set()
    for family in (snapshot / "asset-families").iterdir():
        media = {a["code"] for a in _json(family, "attributes.json") if a["type"] == "media_file"}
        codes |= {entry["data"] for asset in _json(family, "assets.json")
                  for attribute, entries in asset["values"].items() if attribute in media for entry in entries}
    return sorted(codes)


def run(job: str, tmp_path: Path, *options: str) -> dict:
    """Run one job against the PIM the environment names; returns its report."""
    assert main(["run", job, *options, "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "out"),
                 "--config", str(ROOT)]) == 0
    return json.loads((tmp_path / "out" / "latest" / "reports" / f"{job}.json").read_text())


def downloads(server: FakeAkeneo, prefix: str) -> list[str]:
    """The codes of the download requests below `prefix`, in request order (repeats kept)."""
    suffix = "/download" if prefix == MEDIA else ""
    return [r.path.removeprefix(prefix).removesuffix(suffix) for r in server.requests if r.path.startswith(prefix)]


# -- exactly what is referenced ----------------------------------------------------------------

def test_images_and_pricebook_jobs_download_exactly_the_referenced_media_once(tmp_path: Path, monkeypatch) -> None:
    snapshot = demo_snapshot()
    with FakeAkeneo(snapshot, disabled=("media-files",)) as pim:
        connect(monkeypatch, pim)
        reports = [run(job, tmp_path) for job in ("full-master-image", "full-import-media-assets-pricebook")]
        assert sorted(downloads(pim, MEDIA)) == referenced_media(snapshot)  # each once, over both jobs
        assert sorted(downloads(pim, ASSETS)) == referenced_asset_files(snapshot)
        assert not [r for r in pim.requests if r.path.rstrip("/") == API + "media-files"]  # no list is read
        with pytest.raises(SourceError, match="HTTP 405"):  # which this PIM does not serve
            client_for(pim).get_json("media-files")
        assert [r["pull"]["download_errors"] for r in reports] == [[], []]
        assert reports[1]["pull"]["downloaded"] == 0  # the images job had fetched what job 2-2 references
        pim.requests.clear()
        again = [run(job, tmp_path) for job in ("full-master-image", "full-import-media-assets-pricebook")]
        assert downloads(pim, MEDIA) == downloads(pim, ASSETS) == []
        total = len(referenced_media(snapshot)) + len(referenced_asset_files(snapshot))
        assert [(r["pull"]["downloaded"], r["pull"]["unchanged"]) for r in again] == [(0, total), (0, total)]


def test_the_old_media_list_in_a_snapshot_is_ignored_and_referenced_binaries_are_copied(tmp_path: Path) -> None:
    with_list, without = tmp_path / "with", tmp_path / "without"
    shutil.copytree(demo_snapshot(), with_list)
    shutil.copytree(demo_snapshot(), without, ignore=shutil.ignore_patterns("media-files.json"))
    kept = []
    for snapshot in (with_list, without):
        with Store(snapshot.with_suffix(".sqlite")) as store:
            loaded = load_snapshot(snapshot, store)
            assert loaded.warnings == [] and "media-files" not in loaded.items
            kept.append(store.media_paths())
    expected = sorted([safe_path(code) for code in referenced_media(with_list)] +
                      [f"assets/{safe_path(code)}" for code in referenced_asset_files(with_list)])
    assert kept[0] == kept[1] == expected


def test_a_snapshot_binary_is_never_read_outside_its_folder(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snapshot)
    products = _json(snapshot, "products.json")
    products[0]["values"]["main_image"] = [{"locale": None, "scope": None, "data": "../products.json"}]
    (snapshot / "products.json").write_text(json.dumps(products))
    with Store(tmp_path / "s.sqlite") as store:
        loaded = load_snapshot(snapshot, store)
        assert loaded.warnings == ["media-files: 1 binaries are not in the snapshot, first: ../products.json"]
        assert store.media("media-files", "../products.json") is None


# -- bad codes -----------------------------------------------------------------------------------

def with_bad_codes(pim: FakeAkeneo) -> dict[str, bytes]:
    """Simple products whose main image is one bad code each, served by the fake (content per code)."""
    products = _json(demo_snapshot(), "products.json")
    template = next(p for p in products if not p.get("parent"))
    served = {code: f"binary of {code!r}".encode() for code in BAD_CODES}
    for number, code in enumerate(BAD_CODES):
        product = copy.deepcopy(template) | {"identifier": f"BAD-{number}"}
        product["values"] = {"main_image": [{"locale": None, "scope": None, "data": code}]}
        products.append(product)
        pim.put_binary("media-files", code, served[code])
    pim.set_items("products", products)
    return served


def test_bad_codes_give_distinct_safe_files_or_one_error_each(tmp_path: Path, monkeypatch) -> None:
    escape = Path("/tmp/escape.jpg")
    existed = escape.exists()
    with FakeAkeneo(demo_snapshot(), disabled=("media-files",)) as pim:
        served = with_bad_codes(pim)
        connect(monkeypatch, pim)
        report = run("full-master-image", tmp_path)["pull"]
        failed = {error["code"] for error in report["download_errors"]}
        # `.` and `..` are never sent (clients resolve them); the PIM refuses codes with `..` segments.
        assert failed == {".", "..", "a/../../../../tmp/escape.jpg", "../../x"}
        with Store(tmp_path / "s.sqlite") as store:
            root = store.media_root
            stored = {code: store.media("media-files", code) for code in served}
            for code, content in served.items():
                assert (stored[code] is None) == (code in failed)
                if stored[code] is not None:
                    assert (root / stored[code][0]).read_bytes() == content
            paths = [known[0] for known in stored.values() if known is not None]
            assert len(set(paths)) == len(paths) == len(BAD_CODES) - len(failed)
            assert all(safe(path) and (root / path).resolve().is_relative_to(root.resolve()) for path in paths)
        requestable = set(BAD_CODES) - {".", ".."}
        assert sorted(downloads(pim, MEDIA)) == sorted(set(referenced_media(demo_snapshot())) | requestable)
        for request in pim.requests:  # downloads stay below their endpoint, the other requests name no code
            segments = request.raw_path.split("/")
            assert "." not in segments and ".." not in segments
            assert request.raw_path.startswith((MEDIA, ASSETS)) or LIST_READ.fullmatch(request.raw_path), request
        outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(root)
                   and not p.is_relative_to(tmp_path / "out") and not p.name.startswith("s.sqlite")]
        assert outside == [] and escape.exists() == existed
        # The images point at the files under the same names; a second run fetches none of them again.
        images = etree.parse(str(tmp_path / "out" / IMAGES)).getroot()
        pictured = {image.get("path") for image in images.iterfind(".//c:image", NS)}
        assert set(paths) <= pictured and all((tmp_path / "out" / STATIC / path).is_file() for path in pictured)
        pim.requests.clear()
        again = run("full-master-image", tmp_path)["pull"]
        assert again["downloaded"] == 0 and {e["code"] for e in again["download_errors"]} == failed
        assert {r.path for r in pim.requests if r.path.startswith(MEDIA)} == {
            MEDIA + code + "/download" for code in failed - {".", ".."}}  # only the failed ones are tried again


def test_a_file_that_cannot_be_stored_is_one_error_and_the_rest_is_downloaded(tmp_path: Path) -> None:
    codes = referenced_media(demo_snapshot())
    blocked = sorted(code for code in codes if code.startswith("0/"))
    with FakeAkeneo(demo_snapshot(), disabled=("media-files",)) as pim, Store(tmp_path / "s.sqlite") as store:
        store.media_root.mkdir(exist_ok=True)
        (store.media_root / "0").write_text("a file where a folder must go")
        report = pull(client_for(pim), store, CONFIG.jobs["full-master-image"].sources)
        assert sorted(error["code"] for error in report.download_errors) == blocked
        assert all(store.media("media-files", code) for code in codes if code not in blocked)


def safe(path: str) -> bool:
    """ASCII, bounded, and no empty, `.` or `..` segment."""
    parts = path.split("/")
    return (path.isascii() and len(path) <= PATH_MAX and all(0 < len(p) <= SEGMENT_MAX for p in parts)
            and not any(p in (".", "..") or p.startswith(".") for p in parts) and "\\" not in path)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=300), min_size=2, max_size=8, unique=True))
def test_safe_paths_are_safe_distinct_and_stable(codes: list[str]) -> None:
    paths = [safe_path(code) for code in codes]
    assert all(safe(path) for path in paths)
    assert len(set(paths)) == len(paths) and paths == [safe_path(code) for code in codes]


# -- URLs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, path", [
    ("7/5/8/e/758e_shirt.jpg", "media-files/7/5/8/e/758e_shirt.jpg/download"),  # slashes literal, as Akeneo serves
    ("7/5/8/e/758e_a b?.jpg", "media-files/7/5/8/e/758e_a%20b%3F.jpg/download"),
    ("a/../../../../tmp/escape.jpg", "media-files/a%2F..%2F..%2F..%2F..%2Ftmp%2Fescape.jpg/download"),
    ("/", "media-files/%2F/download"),
    ("a//b", "media-files/a%2F%2Fb/download"),
    ("...", "media-files/.../download"),
    ("a\\..\\b", "media-files/a%5C..%5Cb/download"),
    ("%2E%2E", "media-files/%252E%252E/download"),
])
def test_download_paths_stay_below_the_media_endpoint(code: str, path: str) -> None:
    assert api_path(MEDIA_FILES, code) == path
    assert api_path(ASSET_FILES, code) == "asset-" + path.removesuffix("/download")


@pytest.mark.parametrize("code", ["", ".", ".."])
def test_codes_that_name_the_folder_above_are_not_requested(code: str) -> None:
    with pytest.raises(SourceError, match="cannot be requested"):
        api_path(MEDIA_FILES, code)
