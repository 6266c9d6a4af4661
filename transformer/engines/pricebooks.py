"""Engine `media-assets-pricebook`: one pricebook per currency from the price attribute (the media
files and assets of job 2-2 are downloaded by the pull that precedes it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

from markupsafe import Markup

from ..mapping import select_scope
from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from ..rules import RuleError, format_decimal
from ..sfcc import product_id_problem
from .common import JobRun


@dataclass(frozen=True)
class PriceRow:
    product_id: str
    amount: str


@dataclass
class Pricebook:
    id: str
    currency: str
    display_name: str
    online: str
    records: Iterator[Markup]


def media_assets_pricebook(run: JobRun) -> None:
    """One pricebook per currency of the site, each a stream over the products' prices."""
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    settings = run.job.mappings["prices"]
    attribute = settings["attribute"]
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)

    def prices(currency: str) -> Iterator[Markup]:
        for raw in store.iter_raw("products"):
            product = json.loads(raw)
            product_id = product.get("identifier")
            if product_id_problem(product_id):
                continue  # the master job reports it
            try:
                amount = _amount(product, attribute, currency, site.channel)
            except RuleError as exc:
                report.errors.append({"id": product_id, "field": attribute, "message": str(exc)})
                continue
            if amount is not None:
                report.counts[f"prices_{currency}"] += 1
                yield render(PriceRow(product_id, amount))

    books = [Pricebook(settings.get("pricebook_id", "{currency}-list-prices").format(currency=currency.lower()),
                       currency, settings.get("display_name", "List Prices"),
                       "true" if settings.get("online", True) else "false", prices(currency))
             for currency in site.currencies]
    path = run.output_path(output.path)
    size = write_validated(path, render_document(env, output.template, (), site=site, pricebooks=books), report.timings)
    report.counts["pricebooks"] = len(books)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


def _amount(product: dict, attribute: str, currency: str, channel: str) -> str | None:
    """The product's price in `currency` (the channel's value), as an xs:decimal."""
    for _, data in select_scope((product.get("values") or {}).get(attribute) or (), channel):
        if not isinstance(data, list):
            raise RuleError("expected a price collection [{amount, currency}]")
        for price in data:
            if isinstance(price, dict) and price.get("currency") == currency and price.get("amount") not in (None, ""):
                return price_text(price["amount"])
    return None


def price_text(amount: object) -> str:
    """A price as SFCC exports write it: no exponent, at least two decimals: `"15.5000"` -> `15.50`."""
    text = format_decimal(amount)
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"
