"""Bad input never ends a run: any JSON value (any type, any code point, lone surrogates, NaN,
huge numbers, deep nesting) put anywhere in what a PIM sends is stored, mapped or reported record
by record, and every other record is written. Through a snapshot `load`, through a `pull` from a
PIM serving it, and through every job of the full and the differential chains."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from conftest import ROOT
from fake_akeneo import FakeAkeneo
from transformer.cli import demo_snapshot, main

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=6)  # lone surrogates and controls included
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3), max_leaves=6)
# The files whose items the jobs read record by record.
ITEM_FILES = ["products.json", "product-models.json", "categories.json", "attributes.json", "families.json",
              "reference-entities.json"]
NS = {"c": "http://www.demandware.com/xml/impex/catalog/2006-10-31"}
CATALOG = "site-import/catalogs/akeneo-master/catalog.xml"


def edit(item: dict, draw) -> str:
    """Put an arbitrary value somewhere in `item` (a field, an attribute's values, one value, its
    data, locale or scope); returns where."""
    values = item.get("values") if isinstance(item.get("values"), dict) and item["values"] else None
    where = draw(st.sampled_from(["field", "new field"] + (["values", "value", "data", "locale", "scope"] if values else [])))
    if where in ("field", "new field"):
        key = draw(st.sampled_from(sorted(item)) if where == "field" else ANY_TEXT)
        item[key] = draw(ANY_JSON)
        return f"{where} {key!r}"
    code = draw(st.sampled_from(sorted(values)))
    if where == "values" or not isinstance(values[code], list) or not values[code]:
        values[code] = draw(ANY_JSON)
        return f"values of {code}"
    entry = values[code][draw(st.integers(0, len(values[code]) - 1))]
    if where == "value" or not isinstance(entry, dict):
        values[code][values[code].index(entry)] = draw(ANY_JSON)
    else:
        entry[where] = draw(ANY_JSON)
    return f"{where} of a value of {code}"


def nasty_snapshot(target: Path, draw, edits: int) -> list[str]:
    """The demo PIM with `edits` arbitrary values put into its items; returns what was changed."""
    shutil.copytree(demo_snapshot(), target)
    changed = []
    for _ in range(edits):
        name = draw(st.sampled_from(ITEM_FILES))
        items = json.loads((target / name).read_text())
        index = draw(st.integers(0, len(items) - 1))
        changed.append(f"{name}[{index}]: {edit(items[index], draw)}")
        # As a PIM sends them: lone surrogates as \\u escapes, NaN and Infinity as Python's json writes them.
        (target / name).write_text(json.dumps(items))
    return changed


def run(*argv: object, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv] + ["--config", str(ROOT)])
    err = capsys.readouterr().err
    return code, err


def assert_ran_through(out: Path, code: int, err: str, changed: list[str]) -> None:
    assert "internal error" not in err and "Traceback" not in err, (changed, err)
    assert code == 0, (changed, err)
    reports = [json.loads(p.read_text()) for p in sorted((out / "latest" / "reports").glob("*.json"))]
    assert reports and all(r["status"] in ("succeeded", "succeeded_with_errors") for r in reports), changed
    # Every record is written or reported: no product silently lost.
    master = next(r for r in reports if r["job"].endswith("import-master"))
    written = {p.get("product-id") for p in etree.parse(str(out / "latest" / CATALOG)).getroot().iterfind("c:product", NS)}
    reported = {e["id"] for e in master["errors"] if e["action"] == "record skipped"}
    expected = sum(n for kind, n in master["counts"].items() if kind in ("products", "product_models", "left_trees",
                                                                          "deleted_in_pim"))
    assert len(written) == expected and not written & reported, changed
    assert all(e["action"] in ("value dropped", "record skipped") for r in reports for e in r["errors"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_json_anywhere_in_a_snapshot_is_stored_written_or_reported(data, tmp_path_factory, capsys) -> None:
    folder = tmp_path_factory.mktemp("nasty")
    changed = nasty_snapshot(folder / "snap", data.draw, data.draw(st.integers(1, 4)))
    code, err = run("run", "full", "--snapshot", folder / "snap", "--out", folder / "out", capsys=capsys)
    assert_ran_through(folder / "out", code, err, changed)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_json_from_a_pim_is_pulled_and_every_differential_job_goes_on(data, tmp_path_factory, capsys) -> None:
    folder = tmp_path_factory.mktemp("nasty-pim")
    store, out = folder / "store.sqlite", folder / "out"
    assert run("load", demo_snapshot(), "--store", store, capsys=capsys)[0] == 0
    assert run("run", "full", "--offline", "--store", store, "--out", out, capsys=capsys)[0] == 0
    changed = nasty_snapshot(folder / "snap", data.draw, data.draw(st.integers(1, 6)))
    with FakeAkeneo(folder / "snap") as pim, pytest.MonkeyPatch.context() as env:
        for name, value in {"AKENEO_URL": pim.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                            "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}.items():
            env.setenv(name, value)
        code, err = run("run", "differential", "--store", store, "--out", out, capsys=capsys)
    assert "internal error" not in err and "Traceback" not in err, (changed, err)
    assert code == 0, (changed, err)
    reports = [json.loads(p.read_text()) for p in sorted((out / "latest" / "reports").glob("*.json"))]
    assert reports and all(r["status"] in ("succeeded", "succeeded_with_errors") for r in reports), changed


def test_the_shapes_that_broke_engines_are_record_errors(tmp_path: Path, capsys) -> None:
    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap)
    products = json.loads((snap / "products.json").read_text())
    models = json.loads((snap / "product-models.json").read_text())
    categories = json.loads((snap / "categories.json").read_text())
    by_id = {p["identifier"]: p for p in products}
    variants = [p for p in products if p.get("parent")]
    plain = [p for p in products if not p.get("parent")]
    plain[0]["values"] = "oops"
    plain[1]["categories"] = [{"code": "backpacks"}, 7, None, "backpacks"]
    plain[2]["identifier"] = "BAD\x01ID\x1f"
    plain[3]["identifier"] = "L" * 300
    plain[4]["associations"] = {"X_SELL": {"products": [{"no": "string"}, 5], "product_models": "oops"}}
    variants[0]["parent"] = {"code": variants[0]["parent"]}
    roots = [m for m in models if not m.get("parent")]
    subs = [m for m in models if m.get("parent")]
    roots[0]["parent"] = roots[0]["code"]  # a model its own parent
    if subs:
        subs[0]["parent"] = subs[0]["code"]
    roots[1]["parent"], roots[2]["parent"] = roots[2]["code"], roots[1]["code"]  # a cycle of two
    categories[3]["parent"] = categories[3]["code"]  # a category its own parent
    categories[4]["parent"], categories[5]["parent"] = categories[5]["code"], categories[4]["code"]
    categories[6]["labels"] = "oops"
    for name, items in (("products.json", products), ("product-models.json", models), ("categories.json", categories)):
        (snap / name).write_text(json.dumps(items))
    out = tmp_path / "out"
    code, err = run("run", "full", "--snapshot", snap, "--out", out, capsys=capsys)
    assert_ran_through(out, code, err, ["the shapes"])
    master = json.loads((out / "latest" / "reports" / "full-import-master.json").read_text())
    skipped = {e["id"] for e in master["errors"] if e["action"] == "record skipped"}
    assert {"BAD\x01ID\x1f", "L" * 300} <= skipped, master["errors"]
    dropped = {(e["id"], e["field"]) for e in master["errors"] if e["action"] == "value dropped"}
    assert {(plain[0]["identifier"], "values"), (plain[1]["identifier"], "categories[0]"),
            (plain[1]["identifier"], "categories[1]"), (variants[0]["identifier"], "parent"),
            (roots[0]["code"], "parent"), (roots[1]["code"], "parent"), (roots[2]["code"], "parent")} <= dropped, \
        master["errors"]


def test_codes_sfcc_refuses_become_safe_ids_the_same_in_every_file(tmp_path: Path, capsys) -> None:
    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap)
    load = lambda name: json.loads((snap / name).read_text())  # noqa: E731
    categories, products, attributes = load("categories.json"), load("products.json"), load("attributes.json")
    bad_category, long_category, bad_attribute, long_attribute = "bad\x01cat", "c" * 300, "weird\x03 attr", "a" * 300
    leaf = next(c for c in categories if c.get("parent"))
    categories += [{"code": bad_category, "parent": leaf["parent"], "labels": {"en_US": "Bad\x02"}},
                   {"code": long_category, "parent": bad_category, "labels": {}}]
    products[0]["categories"] += [bad_category, long_category]
    for code in (bad_attribute, long_attribute):
        attributes.append({"code": code, "type": "pim_catalog_text", "labels": {}, "localizable": False,
                           "scopable": False, "group": "marketing"})
        products[0]["values"][code] = [{"locale": None, "scope": None, "data": "x"}]
    for name, items in (("categories.json", categories), ("products.json", products), ("attributes.json", attributes)):
        (snap / name).write_text(json.dumps(items))
    out = tmp_path / "out"
    code, err = run("run", "full", "--snapshot", snap, "--out", out, capsys=capsys)
    assert_ran_through(out, code, err, ["bad codes"])  # every file validates, every reference resolves
    site = out / "latest" / "site-import"
    storefront = etree.parse(str(site / "catalogs/akeneo-storefront/catalog.xml")).getroot()
    ids = {c.get("category-id") for c in storefront.iterfind("c:category", NS)}
    made = {i for i in ids if i.startswith(("bad_cat_", "ccc"))}
    assert len(made) == 2 and all(len(i) <= 256 and i.isascii() and i.isprintable() for i in made), made
    assigned = {a.get("category-id") for a in storefront.iterfind("c:category-assignment", NS)
                if a.get("product-id") == products[0]["identifier"]}
    assert made <= assigned
    metadata = (site / "meta/system-objecttype-extensions.xml").read_text()
    product = etree.parse(str(out / "latest" / CATALOG)).getroot().find(f"c:product[@product-id='{products[0]['identifier']}']", NS)
    written = {a.get("attribute-id") for a in product.iterfind("c:custom-attributes/c:custom-attribute", NS)}
    for attribute_id in (i for i in written if i.startswith(("akeneo_weird", "akeneo_aaa"))):
        assert len(attribute_id) <= 256 and f'attribute-id="{attribute_id}"' in metadata
    assert len([i for i in written if i.startswith(("akeneo_weird", "akeneo_aaa"))]) == 2, written
