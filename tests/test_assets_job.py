"""Assets (2-1): definitions for the per-asset product attributes, and products whose assets
changed written again by the next differential master run (the documented "2-1, then 3-1-1")."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lxml import etree

from transformer.cli import demo_snapshot
from transformer.config import load_config
from transformer.pipeline import run_jobs
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store

from conftest import ROOT

NS = {"m": "http://www.demandware.com/xml/impex/metadata/2006-10-31",
      "c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
CONFIG = load_config(ROOT)


def test_a_changed_asset_brings_its_products_back_into_the_next_delta(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap, ignore=shutil.ignore_patterns("README.md"))
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(snap, store)
        for job in ("differential-import-assets", "differential-import-master"):
            run_jobs(CONFIG, job, store, tmp_path / "first" / job, workers=1)
        assets_file = snap / "asset-families" / "videos" / "assets.json"
        videos = json.loads(assets_file.read_text())
        videos[0]["values"]["youtube_id"][0]["data"] = "NEWVIDEO123"
        assets_file.write_text(json.dumps(videos))
        load_snapshot(snap, store)
        for job in ("differential-import-assets", "differential-import-master"):
            run_jobs(CONFIG, job, store, tmp_path / "delta" / job, workers=1)
    users = {p["identifier"] for p in json.loads((demo_snapshot() / "products.json").read_text())
             if videos[0]["code"] in (p["values"].get("videos") or [{}])[0].get("data", [])}
    catalog = etree.parse(str(tmp_path / "delta" / "differential-import-master" / "latest" /
                              "site-import/catalogs/akeneo-master/catalog.xml"))
    written = {p.get("product-id") for p in catalog.iterfind("c:product", NS)}
    assert users and users <= written
    assert any("NEWVIDEO123" in (a.text or "") for a in catalog.iterfind(".//c:custom-attribute", NS))
    definitions = etree.parse(str(tmp_path / "delta" / "differential-import-assets" / "latest" /
                                  "site-import/meta/asset-attributes.xml"))
    ids = {d.get("attribute-id") for d in definitions.iterfind(".//m:attribute-definition", NS)}
    per_asset = {a.get("attribute-id") for a in catalog.iterfind(".//c:custom-attribute", NS)
                 if a.get("attribute-id").count("_") >= 2}
    assert per_asset <= ids
