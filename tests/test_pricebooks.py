"""Pricebooks (2-2): one per currency from the price attribute, decimals never in exponent form."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from hypothesis import given, strategies as st
from lxml import etree

from transformer.cli import demo_snapshot, main
from transformer.map.prices import price_text

from conftest import ROOT

NS = {"p": "http://www.demandware.com/xml/impex/pricebook/2006-10-31"}


def test_one_pricebook_per_currency_with_every_priced_product(tmp_path: Path) -> None:
    assert main(["run", "2-2", "--demo", "--out", str(tmp_path), "--config", str(ROOT)]) == 0
    root = etree.parse(str(tmp_path / "latest" / "site-import" / "pricebooks" / "list-prices.xml")).getroot()
    books = {b.findtext("p:header/p:currency", namespaces=NS): b for b in root.iterfind("p:pricebook", NS)}
    assert set(books) == {"USD", "EUR"}
    assert books["EUR"].find("p:header", NS).get("pricebook-id") == "eur-list-prices"
    demo = json.loads((demo_snapshot() / "products.json").read_text())
    for currency, book in books.items():
        written = {t.get("product-id"): t.findtext("p:amount", namespaces=NS) for t in book.iterfind(".//p:price-table", NS)}
        expected = {p["identifier"]: Decimal(price["amount"]) for p in demo for value in p["values"].get("price", [])
                    for price in value["data"] if price["currency"] == currency
                    and p["identifier"] != "AC-CAP-TRUCKER-OLIVE"}  # only in a tree the site does not export
        assert {k: Decimal(v) for k, v in written.items()} == expected
        assert all(len(v.split(".")[1]) >= 2 for v in written.values())


def test_malformed_prices_are_one_record_error_each_naming_the_mapping_line(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    shutil.copytree(demo_snapshot(), snap, ignore=shutil.ignore_patterns("README.md"))
    products = json.loads((snap / "products.json").read_text())
    broken, partly = [p for p in products if p["values"].get("price")][:2]
    broken["values"]["price"][0]["data"] = "12.50"
    partly["values"]["price"][0]["data"].append({"amount": "abc", "currency": "GBP"})  # a currency no site exports
    (snap / "products.json").write_text(json.dumps(products))
    assert main(["run", "2-2", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--config", str(ROOT)]) == 0
    report = json.loads((tmp_path / "out" / "latest" / "reports" / "full-import-media-assets-pricebook.json").read_text())
    line = next(n for n, text in enumerate((ROOT / "mappings" / "prices.yaml").read_text().splitlines(), 1)
                if text.startswith("attribute:"))
    where = f"mappings/prices.yaml:{line}:1"
    assert sorted(report["errors"], key=lambda e: e["message"]) == [
        {"id": partly["identifier"], "field": "price", "message": "'abc' is not a number", "action": "value dropped",
         "mapping": where},
        {"id": broken["identifier"], "field": "price", "message": "expected a price collection [{amount, currency}]",
         "action": "value dropped", "mapping": where}]
    root = etree.parse(str(tmp_path / "out" / "latest" / "site-import" / "pricebooks" / "list-prices.xml")).getroot()
    priced = {t.get("product-id") for t in root.iterfind(".//p:price-table", NS)}
    assert partly["identifier"] in priced and broken["identifier"] not in priced  # its good prices are kept


@given(st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False, places=6))
def test_prices_keep_their_value_with_two_decimals_at_least_and_no_exponent(amount) -> None:
    text = price_text(str(amount))
    assert "e" not in text.lower() and Decimal(text) == amount and len(text.split(".")[1]) >= 2
