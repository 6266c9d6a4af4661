"""Pricebooks (2-2): one per currency from the price attribute, decimals never in exponent form."""

from __future__ import annotations

import json
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
    root = etree.parse(str(tmp_path / "site-import" / "pricebooks" / "list-prices.xml")).getroot()
    books = {b.findtext("p:header/p:currency", namespaces=NS): b for b in root.iterfind("p:pricebook", NS)}
    assert set(books) == {"USD", "EUR"}
    assert books["EUR"].find("p:header", NS).get("pricebook-id") == "eur-list-prices"
    demo = json.loads((demo_snapshot() / "products.json").read_text())
    for currency, book in books.items():
        written = {t.get("product-id"): t.findtext("p:amount", namespaces=NS) for t in book.iterfind(".//p:price-table", NS)}
        expected = {p["identifier"]: Decimal(price["amount"]) for p in demo for value in p["values"].get("price", [])
                    for price in value["data"] if price["currency"] == currency}
        assert {k: Decimal(v) for k, v in written.items()} == expected
        assert all(len(v.split(".")[1]) >= 2 for v in written.values())


@given(st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False, places=6))
def test_prices_keep_their_value_with_two_decimals_at_least_and_no_exponent(amount) -> None:
    text = price_text(str(amount))
    assert "e" not in text.lower() and Decimal(text) == amount and len(text.split(".")[1]) >= 2
