"""Attribute metadata (job 1): a definition for every custom attribute the master catalog writes,
with a type that fits its values, and select options as value definitions."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from transformer.cli import main

from conftest import ROOT

NS = {"m": "http://www.demandware.com/xml/impex/metadata/2006-10-31",
      "c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}


def test_every_custom_attribute_written_is_defined_with_a_fitting_type(tmp_path: Path) -> None:
    assert main(["run", "1", "--demo", "--out", str(tmp_path / "meta"), "--config", str(ROOT)]) == 0
    assert main(["run", "3-2-1", "--demo", "--out", str(tmp_path / "catalog"), "--config", str(ROOT)]) == 0
    meta = etree.parse(str(tmp_path / "meta" / "latest" / "site-import" / "meta" / "system-objecttype-extensions.xml")).getroot()
    definitions = {d.get("attribute-id"): d for d in meta.iterfind(".//m:attribute-definition", NS)}
    catalog = etree.parse(str(tmp_path / "catalog" / "latest" / "site-import" / "catalogs" / "akeneo-master" / "catalog.xml"))
    written = {a.get("attribute-id") for a in catalog.iterfind(".//c:custom-attribute", NS)}
    assert any(w.count("_") >= 2 for w in written)  # akeneo_<asset>_<attribute> among them
    assert written <= set(definitions)
    types = {code: d.findtext("m:type", namespaces=NS) for code, d in definitions.items()}
    assert types["color"] == "enum-of-string" and types["akeneo_material"] == "enum-of-string"
    assert definitions["akeneo_material"].findtext("m:select-multiple-flag", namespaces=NS) == "true"
    assert types["akeneo_weight"] == "string" and types["akeneo_rating"] == "double"
    assert types["akeneo_ecoFriendly"] == "boolean" and types["akeneo_brandEntity"] == "set-of-string"
    red = definitions["color"].find("m:value-definitions/m:value-definition[m:value='red']", NS)
    assert {d.get("{http://www.w3.org/XML/1998/namespace}lang"): d.text for d in red.iterfind("m:display", NS)}["fr-FR"] == "Rouge"
    group = meta.find(".//m:attribute-group[@group-id='AkeneoAttributes']", NS)
    assert {a.get("attribute-id") for a in group.iterfind("m:attribute", NS)} == set(definitions)
