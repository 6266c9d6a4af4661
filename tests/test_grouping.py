"""Record grouping (5): the configured records in one Content attribute group; unknown ones warned."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from transformer.cli import main

from conftest import without_xsd_notes

NS = {"m": "http://www.demandware.com/xml/impex/metadata/2006-10-31"}


def test_configured_records_are_grouped_and_unknown_ones_reported(tmp_path: Path, config_dir: Path) -> None:
    content = config_dir / "mappings" / "content.yaml"
    content.write_text(content.read_text().replace("records: [maison_lune, nordvik]", "records: [maison_lune, nordvik, nobody]"))
    assert main(["run", "5", "--demo", "--out", str(tmp_path), "--config", str(config_dir)]) == 0
    root = etree.parse(str(tmp_path / "latest" / "site-import" / "meta" / "content-groups.xml")).getroot()
    group = root.find("m:type-extension[@type-id='Content']/m:group-definitions/m:attribute-group", NS)
    assert group.get("group-id") == "AkeneoEntityRecords"
    assert [a.get("attribute-id") for a in group.iterfind("m:attribute", NS)] == [
        "akeneo_entity_brand_maison_lune", "akeneo_entity_brand_nordvik"]
    report = json.loads((tmp_path / "latest" / "reports" / "entity-record-grouping.json").read_text())
    assert without_xsd_notes(report["warnings"]) == ["akeneo_entity_brand_nobody: no such record in the PIM, left out of the group"]
