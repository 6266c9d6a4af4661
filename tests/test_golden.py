"""Golden files: each job of jobs.yaml run on the demo PIM must write exactly the reviewed
files, and each must validate against its SFCC XSD. Regenerate on purpose with
UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from transformer.cli import main
from transformer.config import load_config
from transformer.xsd import validate_file

from conftest import ROOT

pytestmark = pytest.mark.xsd  # golden files are checked against the SFCC XSDs

GOLDEN = Path(__file__).parent / "golden"
# Every job of jobs.yaml that writes files (job 6 only saves what it reads into the store).
JOBS = sorted(job.id for job in load_config(ROOT).jobs.values() if job.outputs)


@pytest.mark.parametrize("job", JOBS)
def test_job_on_demo_matches_golden_and_xsd(job: str, tmp_path: Path) -> None:
    assert main(["run", job, "--demo", "--out", str(tmp_path), "--config", str(ROOT)]) == 0
    written = sorted(p for p in (tmp_path / "latest" / "site-import").rglob("*.xml"))
    assert written, "the job wrote no file"
    for path in written:
        validate_file(path)
        golden = GOLDEN / job / path.relative_to(tmp_path / "latest" / "site-import")
        if os.environ.get("UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(path.read_bytes())
        assert path.read_bytes() == golden.read_bytes(), f"{golden} differs: review, then UPDATE_GOLDEN=1"
    goldens = sorted(p.relative_to(GOLDEN / job) for p in (GOLDEN / job).rglob("*.xml"))
    assert goldens == [p.relative_to(tmp_path / "latest" / "site-import") for p in written]


def test_golden_files_themselves_validate() -> None:
    files = list(GOLDEN.rglob("*.xml"))
    assert files
    for path in files:
        validate_file(path)


def test_demo_catalog_holds_every_demo_product_and_model_of_the_site_trees(tmp_path: Path, config_dir: Path) -> None:
    import json
    from lxml import etree

    demo = ROOT / "transformer" / "demo" / "pim"
    categories = {c["code"]: c["parent"] for c in json.loads((demo / "categories.json").read_text())}

    def tree(code: str) -> str:
        while categories.get(code):
            code = categories[code]
        return code

    products = json.loads((demo / "products.json").read_text())
    outside = {p["identifier"] for p in products if p["categories"] and not p["parent"]
               and all(tree(c) != "master" for c in p["categories"])}  # the site's tree (categories.yaml)
    assert outside == {"AC-CAP-TRUCKER-OLIVE"}
    assert main(["run", "full-import-master", "--demo", "--out", str(tmp_path), "--config", str(ROOT)]) == 0
    expected = {p["identifier"] for p in products} - outside | {
        m["code"] for m in json.loads((demo / "product-models.json").read_text()) if not m["parent"]}
    tree = etree.parse(str(tmp_path / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml"))
    ids = tree.xpath("//c:product/@product-id", namespaces={"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"})
    assert sorted(ids) == sorted(expected) and len(ids) == len(set(ids))
    report = json.loads((tmp_path / "latest" / "reports" / "full-import-master.json").read_text())
    assert report["status"] == "succeeded" and report["errors"] == []


def test_product_template_writes_every_system_attribute_in_xsd_order() -> None:
    from transformer.sfcc import SYSTEM_ATTRIBUTES

    template = (ROOT / "templates" / "catalog" / "product.xml.j2").read_text()
    positions = [template.index(f"<{a.element}") for a in SYSTEM_ATTRIBUTES]
    assert all(f's["{a.name}"]' in template for a in SYSTEM_ATTRIBUTES)
    # The table is in XSD order except the store attributes, which close the product.
    assert positions[:29] == sorted(positions[:29])


def test_products_outside_the_trees_can_be_kept(tmp_path: Path, config_dir: Path) -> None:
    settings = config_dir / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text() + "products_outside_trees: keep\n")
    assert main(["run", "full-import-master", "--demo", "--out", str(tmp_path), "--config", str(config_dir)]) == 0
    catalog = (tmp_path / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml").read_text()
    assert 'product-id="AC-CAP-TRUCKER-OLIVE"' in catalog
