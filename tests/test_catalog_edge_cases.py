"""Odd PIM data and modes across the catalog jobs: bad ids, variants without axis values,
per-language axis rules, products leaving the trees, level-1 models per variation mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import etree

from transformer.cli import demo_snapshot, main
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store

from conftest import ROOT

NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
MASTER = Path("latest/site-import/catalogs/akeneo-master")
STOREFRONT = Path("latest/site-import/catalogs/akeneo-storefront/catalog.xml")


def line_of(text: str) -> int:
    """The line of the shipped product mapping that holds `text`."""
    return next(n for n, line in enumerate((ROOT / "mappings" / "products.yaml").read_text().splitlines(), 1) if text in line)


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    target = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), target, ignore=shutil.ignore_patterns("README.md"))
    return target


def change_products(snap: Path, change) -> None:
    """Apply `change` to every product (in place) and write the file back."""
    products = json.loads((snap / "products.json").read_text())
    for product in products:
        change(product)
    (snap / "products.json").write_text(json.dumps(products))


def run(job: str, snap: Path, out: Path, config: Path = ROOT) -> dict:
    assert main(["run", job, "--snapshot", str(snap), "--out", str(out), "--config", str(config)]) == 0
    return json.loads((out / "latest" / "reports" / f"{job}.json").read_text())


def ids(path: Path, xpath: str) -> list[str]:
    return etree.parse(str(path)).xpath(xpath, namespaces=NS)


def test_a_variant_with_an_id_sfcc_refuses_is_left_out_of_every_job(snap: Path, tmp_path: Path) -> None:
    bad = "X" * 101
    change_products(snap, lambda p: p.update(identifier=bad) if p["identifier"] == "TS-CLASSIC-RED-M" else None)
    report = run("full-import-master", snap, tmp_path / "master")
    assert {"id": bad, "field": "identifier", "message": "product id is 101 characters long, SFCC allows 100",
            "action": "record skipped"} in report["errors"]
    for job, path in (("full-import-master-variation", MASTER / "variations.xml"), ("full-master-image", MASTER / "images.xml"),
                      ("full-import-storefront", STOREFRONT)):
        run(job, snap, tmp_path / job)
        assert bad not in etree.parse(str(tmp_path / job / path)).getroot().xpath("string(.)") and \
            bad not in (tmp_path / job / path).read_text()


def test_variants_without_an_axis_value_are_reported_and_left_out(snap: Path, tmp_path: Path) -> None:
    change_products(snap, lambda p: p["values"].pop("size") if p["identifier"] == "TS-GRAPHIC-SUNRISE-M" else None)
    report = run("full-import-master-variation", snap, tmp_path)
    assert {"id": "TS-GRAPHIC-SUNRISE-M", "field": "variations", "message": "not a variant of ts_graphic: no value for axis size",
            "action": "value dropped"} in report["errors"]
    assert "TS-GRAPHIC-SUNRISE-M" not in ids(tmp_path / MASTER / "variations.xml", "//c:variant/@product-id")


def test_an_axis_written_per_language_is_refused(snap: Path, tmp_path: Path, config_dir: Path) -> None:
    products = config_dir / "mappings" / "products.yaml"
    products.write_text(products.read_text().replace("size: {id: size}", "size: {id: size, rule: option_label}"))
    report = run("full-import-master-variation", snap, tmp_path, config_dir)
    assert {"id": "ts_graphic", "field": "variations",
            "message": "axis 'size' uses rule 'option_label', whose value differs per language",
            "action": "record skipped"} in report["errors"]


def test_level_one_models_are_products_only_in_master_group_variation(snap: Path, tmp_path: Path,
                                                                      config_dir: Path) -> None:
    run("full-import-master", snap, tmp_path / "mv")
    assert "ts_classic_red" not in ids(tmp_path / "mv" / MASTER / "catalog.xml", "//c:product/@product-id")
    products = config_dir / "mappings" / "products.yaml"
    products.write_text(products.read_text() + "variations: master-group-variation\n")
    run("full-import-master", snap, tmp_path / "mgv", config_dir)
    assert "ts_classic_red" in ids(tmp_path / "mgv" / MASTER / "catalog.xml", "//c:product/@product-id")


def test_a_product_moved_out_of_the_trees_loses_its_assignments(snap: Path, tmp_path: Path) -> None:
    from transformer.config import load_config
    from transformer.pipeline import run_jobs

    config = load_config(ROOT)
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(snap, store)
        run_jobs(config, "full-import-storefront", store, tmp_path / "one", workers=1)
        before = store.assigned("akeneo-storefront", "AC-BACKPACK-ALPINE-28L")
        change_products(snap, lambda p: p.update(categories=["outlet"]) if p["identifier"] == "AC-BACKPACK-ALPINE-28L" else None)
        load_snapshot(snap, store)
        run_jobs(config, "differential-import-storefront", store, tmp_path / "two", workers=1)
        assert store.assigned("akeneo-storefront", "AC-BACKPACK-ALPINE-28L") == set()
    deleted = ids(tmp_path / "two" / STOREFRONT, "//c:category-assignment[@mode='delete']/@category-id")
    assert before and set(deleted) == before


def test_associations_to_products_the_pim_lacks_are_left_out(snap: Path, tmp_path: Path) -> None:
    change_products(snap, lambda p: p["quantified_associations"]["BUNDLE"]["products"].append(
        {"identifier": "NO-SUCH-PRODUCT", "quantity": 2}) if p["identifier"] == "BDL-OUTDOOR-STARTER" else None)
    report = run("full-import-master", snap, tmp_path / "master")
    assert {"id": "BDL-OUTDOOR-STARTER", "field": "associations",
            "message": "'BUNDLE' targets left out: NO-SUCH-PRODUCT (not in the PIM)", "action": "value dropped",
            "mapping": f"mappings/products.yaml:{line_of('bundles:')}:3"} in report["errors"]  # the setting to look at
    assert "NO-SUCH-PRODUCT" not in (tmp_path / "master" / MASTER / "catalog.xml").read_text()
