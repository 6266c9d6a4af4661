"""Associations: bundles (with quantities) and product sets by family, product links in the master
catalog or recommendations in the storefront catalog, by association type."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from transformer.cli import main

from conftest import ROOT

NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}


def run(tmp_path: Path, job: str, config: Path = ROOT) -> etree._Element:
    assert main(["run", job, "--demo", "--out", str(tmp_path), "--config", str(config)]) == 0
    name = "akeneo-master" if "master" in job else "akeneo-storefront"
    return etree.parse(str(tmp_path / "latest" / "site-import" / "catalogs" / name / "catalog.xml")).getroot()


def product(root: etree._Element, product_id: str) -> etree._Element:
    return root.find(f"c:product[@product-id='{product_id}']", NS)


def test_bundles_take_quantities_and_sets_their_members(tmp_path: Path) -> None:
    root = run(tmp_path, "full-import-master")
    bundle = product(root, "BDL-OUTDOOR-STARTER")
    assert [(b.get("product-id"), b.findtext("c:quantity", namespaces=NS)) for b in bundle.iterfind(".//c:bundled-product", NS)] == [
        ("AC-BOTTLE-STEEL-750", "2"), ("AC-ENERGY-BAR-CHOCO", "3"), ("AC-HEADLAMP-450", "1"), ("sh_trail_runner", "1")]
    members = [p.get("product-id") for p in product(root, "SET-RUNNING-ESSENTIALS").iterfind(".//c:product-set-product", NS)]
    assert members == ["SH-TRAIL-RUNNER-EU42", "TS-ORGANIC-BLACK-M", "AC-SOCKS-MERINO", "AC-BOTTLE-STEEL-750"]
    assert product(root, "AC-BACKPACK-ALPINE-28L").find("c:product-links", NS) is None  # links go to recommendations


def test_recommendations_follow_the_type_map_after_every_assignment(tmp_path: Path) -> None:
    root = run(tmp_path, "full-import-storefront")
    children = [etree.QName(c).localname for c in root]
    assert children.index("recommendation") > max(i for i, tag in enumerate(children) if tag == "category-assignment")
    found = {(r.get("target-id"), r.get("type")) for r in root.iterfind("c:recommendation[@source-id='AC-BACKPACK-ALPINE-28L']", NS)}
    assert found == {("AC-BACKPACK-ALPINE-40L", "2"), ("AC-BOTTLE-STEEL-750", "1"), ("AC-HEADLAMP-450", "1"),
                     ("sh_trail_runner", "1")}


def test_product_links_instead_of_recommendations(tmp_path: Path, config_dir: Path) -> None:
    products = config_dir / "mappings" / "products.yaml"
    products.write_text(products.read_text().replace("target: recommendations", "target: product-links")
                        .replace("link_types: {X_SELL: cross-sell, UPSELL: up-sell, PACK: other, SUBSTITUTION: replacement}",
                                 "link_types: {X_SELL: cross-sell, UPSELL: up-sell}"))
    root = run(tmp_path / "master", "full-import-master", config_dir)
    links = [(link.get("product-id"), link.get("type"))
             for link in product(root, "AC-BACKPACK-ALPINE-28L").iterfind(".//c:product-link", NS)]
    assert links == [("AC-BOTTLE-STEEL-750", "cross-sell"), ("AC-HEADLAMP-450", "cross-sell"),
                     ("sh_trail_runner", "cross-sell"), ("AC-BACKPACK-ALPINE-40L", "up-sell")]
    assert product(root, "AC-HEADLAMP-300").find("c:product-links", NS) is None  # SUBSTITUTION is not mapped
    storefront = run(tmp_path / "storefront", "full-import-storefront", config_dir)
    assert storefront.find("c:recommendation", NS) is None


def test_a_bad_target_is_left_out_alone_and_reported() -> None:
    from transformer.pim import associated

    item = {"associations": {"X_SELL": {"products": ["OK-1", " bad", "X" * 101], "product_models": ["model"]}},
            "quantified_associations": {"X_SELL": {"products": [{"identifier": "OK-2", "quantity": 3}, {"quantity": 2}]}}}
    found, refused = associated(item, "X_SELL", quantified=True)
    assert found == [("OK-1", 1), ("model", 1), ("OK-2", 3)]
    assert refused == ["{'quantity': 2} (no target or quantity)", " bad", "X" * 101]
