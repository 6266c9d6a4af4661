"""Variations (3-2-2): product models become SFCC variation masters with their axes, values and
variants; every variant sits under exactly one master with axis values the master declares."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from transformer.cli import demo_snapshot, main
from transformer.synth import generate

from conftest import ROOT

NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def run_variations(tmp_path: Path, snapshot: Path, config: Path = ROOT) -> etree._Element:
    out = tmp_path / "out"
    assert main(["run", "full-import-master-variation", "--snapshot", str(snapshot), "--out", str(out),
                 "--config", str(config)]) == 0
    return etree.parse(str(out / "latest" / "site-import" / "catalogs" / "akeneo-master" / "variations.xml")).getroot()


def masters(root: etree._Element) -> dict[str, dict]:
    """master id -> {variants, groups, values: {attribute-id: [values]}, labels}."""
    found = {}
    for product in root.iterfind("c:product", NS):
        found[product.get("product-id")] = {
            "variants": [v.get("product-id") for v in product.iterfind(".//c:variant", NS)],
            "groups": [g.get("product-id") for g in product.iterfind(".//c:variation-group", NS)],
            "values": {a.get("attribute-id"): [v.get("value") for v in a.iterfind(".//c:variation-attribute-value", NS)]
                       for a in product.iterfind(".//c:variation-attribute", NS)},
        }
    return found


def check_every_variant_under_one_master_with_matching_axes(root: etree._Element, snapshot: Path) -> None:
    products = {}
    for name in ("products.json", "products.jsonl"):
        path = snapshot / name
        if path.is_file():
            lines = [json.loads(line) for line in path.open()] if name.endswith("l") else json.loads(path.read_text())
            products.update({p["identifier"]: p for p in lines})
    found = masters(root)
    owners: dict[str, str] = {}
    for master, info in found.items():
        for variant in info["variants"]:
            assert variant not in owners, f"{variant} under {owners[variant]} and {master}"
            owners[variant] = master
            values = products[variant]["values"]
            for attribute_id, allowed in info["values"].items():
                code = {"color": "color", "size": "size"}.get(attribute_id, attribute_id.removeprefix("akeneo_"))
                data = values[code][0]["data"]
                text = data if isinstance(data, str) else f"{float(data['amount']):g} {data['unit']}"
                assert text in allowed, f"{variant}: {attribute_id}={text} not among {allowed}"
    assert set(owners) == {code for code, p in products.items() if p.get("parent")}


def test_demo_variants_sit_under_exactly_one_master(tmp_path: Path) -> None:
    root = run_variations(tmp_path, demo_snapshot())
    assert set(masters(root)) == {m["code"] for m in json.loads((demo_snapshot() / "product-models.json").read_text())
                                  if m["parent"] is None}
    check_every_variant_under_one_master_with_matching_axes(root, demo_snapshot())


def test_sizes_follow_the_option_order_and_labels_are_localized(tmp_path: Path) -> None:
    root = run_variations(tmp_path, demo_snapshot())
    assert masters(root)["ts_classic"]["values"]["size"][:3] == ["xs", "s", "m"]
    value = root.find(".//c:product[@product-id='ts_classic']//c:variation-attribute-value[@value='red']", NS)
    assert {d.get(LANG): d.text for d in value} == {"x-default": "Red", "en-US": "Red", "fr-FR": "Rouge", "de-DE": "Rot"}


def test_master_group_variation_lists_level_one_models_as_groups(tmp_path: Path, config_dir: Path) -> None:
    products = config_dir / "mappings" / "products.yaml"
    products.write_text(products.read_text() + "variations: master-group-variation\n")
    found = masters(run_variations(tmp_path, demo_snapshot(), config_dir))
    assert found["ts_classic"]["groups"] == ["ts_classic_navy", "ts_classic_red", "ts_classic_white"]
    assert found["sh_city_sneaker"]["groups"] == []  # one level: no groups


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(30, 400), seed=st.integers(0, 1000))
def test_generated_catalogs_keep_every_variant_under_one_master(tmp_path_factory, count, seed) -> None:
    tmp_path = tmp_path_factory.mktemp("variations")
    generate(demo_snapshot(), tmp_path / "snap", count, seed)
    root = run_variations(tmp_path, tmp_path / "snap")
    check_every_variant_under_one_master_with_matching_axes(root, tmp_path / "snap")
