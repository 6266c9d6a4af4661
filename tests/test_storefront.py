"""Storefront catalog (3-2-4 and 3-1-2): categories under the storefront root, assignments with
the primary flag first, where the category was set, and stale assignments deleted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import etree

from transformer.cli import demo_snapshot
from transformer.config import load_config
from transformer.pipeline import run_jobs
from transformer.sources.snapshot import load_snapshot
from transformer.store import Store

from conftest import ROOT

NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
CATALOG = Path("latest/site-import/catalogs/akeneo-storefront/catalog.xml")
DEMO_PRODUCTS = {p["identifier"]: p for p in json.loads((demo_snapshot() / "products.json").read_text())}
DEMO_CATEGORIES = {c["code"]: c for c in json.loads((demo_snapshot() / "categories.json").read_text())}


def run(store: Store, job: str, out: Path, config=None) -> etree._Element:
    run_jobs(config or load_config(ROOT), job, store, out, workers=1)
    return etree.parse(str(out / CATALOG)).getroot()


def assignments(root: etree._Element) -> list[tuple[str, str, str | None, bool]]:
    """(product, category, mode, primary) in file order."""
    return [(a.get("product-id"), a.get("category-id"), a.get("mode"), a.find("c:primary-flag", NS) is not None)
            for a in root.iterfind("c:category-assignment", NS)]


@pytest.fixture
def store(tmp_path: Path):
    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap, ignore=shutil.ignore_patterns("README.md"))
    with Store(tmp_path / "s.sqlite") as opened:
        load_snapshot(snap, opened)
        opened.snap = snap
        yield opened


def test_categories_of_the_chosen_tree_under_the_storefront_root(store, tmp_path: Path) -> None:
    root = run(store, "full-import-storefront", tmp_path / "out")
    categories = {c.get("category-id"): c for c in root.iterfind("c:category", NS)}
    in_master = {code for code, c in DEMO_CATEGORIES.items() if c["parent"] and _tree(code) == "master"}
    assert set(categories) == {"root"} | in_master
    for code in in_master:
        parent = DEMO_CATEGORIES[code]["parent"]
        assert categories[code].findtext("c:parent", namespaces=NS) == ("root" if parent == "master" else parent)
    assert categories["root"].findtext("c:display-name", namespaces=NS) == "akeneo-storefront"


def _tree(code: str) -> str:
    while DEMO_CATEGORIES[code]["parent"]:
        code = DEMO_CATEGORIES[code]["parent"]
    return code


def test_assignments_primary_first_own_level_only_and_outside_trees_skipped(store, tmp_path: Path) -> None:
    rows = assignments(run(store, "full-import-storefront", tmp_path / "out"))
    by_product: dict[str, list] = {}
    for product, category, mode, primary in rows:
        by_product.setdefault(product, []).append((category, primary))
    for product, found in by_product.items():
        assert [primary for _, primary in found] == [True] + [False] * (len(found) - 1), product
    variant = next(p for p in DEMO_PRODUCTS.values() if p["parent"] and p["identifier"] not in by_product)
    assert variant  # variants whose categories all come from their models get none of their own
    outlet_only = [code for code, p in DEMO_PRODUCTS.items()
                   if p["categories"] and all(_tree(c) == "outlet" for c in p["categories"])]
    assert outlet_only and not set(outlet_only) & set(by_product)


def drop_a_category(store: Store) -> tuple[dict, str]:
    """Take a simple product out of one of its categories in the PIM; reload."""
    products = json.loads((store.snap / "products.json").read_text())
    changed = next(p for p in products if not p["parent"] and len(p["categories"]) >= 2)
    dropped = changed["categories"].pop()
    (store.snap / "products.json").write_text(json.dumps(products))
    load_snapshot(store.snap, store)
    return changed, dropped


def test_removed_assignments_are_deleted_by_the_next_runs(store, tmp_path: Path) -> None:
    run(store, "full-import-storefront", tmp_path / "one")
    run(store, "differential-import-storefront", tmp_path / "first-delta")
    changed, dropped = drop_a_category(store)
    delta = assignments(run(store, "differential-import-storefront", tmp_path / "delta"))
    assert {p for p, *_ in delta} == {changed["identifier"]}
    assert (changed["identifier"], dropped, "delete", False) in delta
    full = assignments(run(store, "full-import-storefront", tmp_path / "two"))
    assert not [row for row in full if row[2] == "delete"]  # already deleted: nothing stale any more


def test_a_failed_run_does_not_record_its_assignments(store, tmp_path: Path) -> None:
    run(store, "full-import-storefront", tmp_path / "one")
    changed, dropped = drop_a_category(store)
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    with pytest.raises(OSError):
        run(store, "full-import-storefront", blocked)
    rows = assignments(run(store, "full-import-storefront", tmp_path / "two"))
    assert (changed["identifier"], dropped, "delete", False) in rows


def test_a_top_level_category_becomes_the_storefront_root(store, tmp_path: Path, config_dir: Path) -> None:
    settings = config_dir / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text().replace("top_level_category: null", "top_level_category: clothing"))
    root = run(store, "full-import-storefront", tmp_path / "out", load_config(config_dir))
    below = {code for code, c in DEMO_CATEGORIES.items() if c["parent"] == "clothing"}
    categories = {c.get("category-id"): c.findtext("c:parent", namespaces=NS) for c in root.iterfind("c:category", NS)}
    assert set(categories) >= {"root"} | below and "clothing" not in categories and "footwear" not in categories
    assert all(categories[code] == "root" for code in below)


def test_trees_the_pim_lacks_are_warned_about(store, tmp_path: Path, config_dir: Path) -> None:
    settings = config_dir / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text().replace("trees: [master]", "trees: [master, mastre]"))
    run(store, "full-import-storefront", tmp_path / "out", load_config(config_dir))
    report = json.loads((tmp_path / "out" / "latest" / "reports" / "full-import-storefront.json").read_text())
    line = next(i for i, text in enumerate(settings.read_text().splitlines(), 1) if text.startswith("trees:"))
    assert report["mapping_warnings"] == [f"mappings/categories.yaml:{line}:1: $.trees: the PIM has no category "
                                          "'mastre' (did you mean 'master'?): nothing of it is written"]


def test_without_categories_the_recommendations_are_still_written(store, tmp_path: Path, config_dir: Path) -> None:
    settings = config_dir / "mappings" / "categories.yaml"
    settings.write_text(settings.read_text().replace("write_categories: true", "write_categories: false"))
    root = run(store, "full-import-storefront", tmp_path / "out", load_config(config_dir))
    assert root.find("c:category", NS) is None and root.find("c:category-assignment", NS) is None
    assert root.find("c:recommendation", NS) is not None


def _menu(root: etree._Element) -> dict[str, list[str]]:
    """Parent -> its categories in the order SFCC sorts a menu: by position, as written."""
    by_parent: dict[str, list[tuple[float, str]]] = {}
    for category in root.iterfind("c:category", NS):
        parent, position = category.findtext("c:parent", None, NS), category.findtext("c:position", None, NS)
        if parent is not None:
            by_parent.setdefault(parent, []).append((float(position) if position else float("inf"),
                                                     category.get("category-id")))
    return {parent: [code for _, code in sorted(found)] for parent, found in by_parent.items()}


def test_menus_sort_as_the_pim_orders_categories(store: Store, tmp_path: Path) -> None:
    """Each category's position among its siblings (Akeneo 7.0 sends it with `with_position`)
    becomes its <position>, so SFCC sorts menus as the PIM does, not by code."""
    menu = _menu(run(store, "full-import-storefront", tmp_path / "out"))
    pim_order: dict[str | None, list[str]] = {}
    for code, category in DEMO_CATEGORIES.items():  # the file lists siblings in the PIM's order
        pim_order.setdefault(category["parent"], []).append(code)
    assert menu["root"] == [code for code in pim_order["master"] if code in menu["root"]]
    assert menu["root"] != sorted(menu["root"])  # the PIM's order is not the codes' order here
    assert menu["clothing"] == [c for c in pim_order["clothing"]]


def test_without_positions_categories_are_written_without_one(tmp_path: Path) -> None:
    """A PIM before 7.0 sends no position: none is written (SFCC then keeps its own order)."""
    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap)
    categories = json.loads((snap / "categories.json").read_text())
    (snap / "categories.json").write_text(json.dumps([{k: v for k, v in c.items() if k != "position"}
                                                      for c in categories]))
    with Store(tmp_path / "s.sqlite") as store:
        load_snapshot(snap, store)
        root = run(store, "full-import-storefront", tmp_path / "out")
    assert root.find("c:category/c:position", NS) is None and len(root.findall("c:category", NS)) > 5
