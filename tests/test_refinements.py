"""Catalog refinements (6): saved from an SFCC export, parsed safely, and written back by the
storefront job after each category's custom attributes (catalog.xsd order)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from transformer.config import load_config
from transformer.cli import demo_snapshot
from transformer.pipeline import run_jobs
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store

NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE catalog [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<catalog xmlns="http://www.demandware.com/xml/impex/catalog/2006-10-31" catalog-id="akeneo-storefront">
    <category category-id="tshirts">
        <display-name xml:lang="x-default">T-shirts</display-name>
        <refinement-definitions>
            <refinement-definition type="attribute" attribute-id="color" bucket-type="none">
                <display-name xml:lang="x-default">Colour &amp; tone &secret;</display-name>
                <sort-mode>value-name</sort-mode>
            </refinement-definition>
        </refinement-definitions>
    </category>
    <category category-id="footwear"><display-name xml:lang="x-default">Shoes</display-name></category>
</catalog>
"""


def test_refinements_are_saved_safely_and_written_back(tmp_path: Path, config_dir: Path) -> None:
    (config_dir / "export.xml").write_text(EXPORT)
    settings = config_dir / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text() + "refinements_export: export.xml\n")
    config = load_config(config_dir)
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(demo_snapshot(), store)
        reports = run_jobs(config, "save-catalog-refinements", store, tmp_path / "six", workers=1)
        assert reports[0].counts["categories_with_refinements"] == 1
        assert "root:x:0" not in store.refinements("akeneo-storefront")["tshirts"]  # the entity was not expanded
        run_jobs(config, "full-import-storefront", store, tmp_path / "out", workers=1)
    root = etree.parse(str(tmp_path / "out" / "latest" / "site-import/catalogs/akeneo-storefront/catalog.xml")).getroot()
    tshirts = root.find("c:category[@category-id='tshirts']", NS)
    assert [etree.QName(child).localname for child in tshirts][-2:] == ["custom-attributes", "refinement-definitions"]
    assert tshirts.find(".//c:refinement-definition", NS).get("attribute-id") == "color"
    assert root.find("c:category[@category-id='footwear']/c:refinement-definitions", NS) is None
    assert root.find("c:category[@category-id='root']/c:refinement-definitions/c:refinement-definition", NS).get("type") == "category"
