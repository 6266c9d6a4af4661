"""Pricebooks (job 2-2): one pricebook per currency from the price attribute (the media
files and assets of job 2-2 are downloaded by the pull that precedes it)."""

from __future__ import annotations

import json
from typing import Iterator

from ..map.prices import Pricebook, PriceRow, list_price
from ..sfcc import product_id_problem
from ..shapes import dropped
from .read import Selection
from .run import JobRun

OUTPUT = "pricebooks"


def media_assets_pricebook(run: JobRun) -> None:
    """One pricebook per currency of the site, each a stream over the products' prices."""
    store, report, site = run.store, run.report, run.config.site
    settings = run.job.mappings.prices
    keeps = Selection(store, run.job, site).keeps  # the site's trees

    def prices(currency: str) -> Iterator[PriceRow]:
        for _, raw in store.iter_raw("products"):
            product = json.loads(raw)
            product_id = product.get("identifier")
            if product_id_problem(product_id) or not keeps(product):
                continue  # the master job reports the first, leaves out the second
            amount, problems = list_price(product, settings.attribute, currency, site.channel)
            if currency == site.currencies[0]:  # the same for every currency: one entry per product
                problems += [problem for _, problem, _ in dropped(product, {settings.attribute})]
                for problem in problems:
                    run.record_error(product_id, settings.attribute, problem, settings.origin)
            if amount is not None:
                report.counts[f"prices_{currency}"] += 1
                yield PriceRow(product_id, amount)

    books = [Pricebook(settings.pricebook_id.format(currency=currency.lower()), currency, settings.display_name,
                       "true" if settings.online else "false", run.records(OUTPUT, prices(currency)))
             for currency in site.currencies]
    run.write(OUTPUT, pricebooks=books)
    report.counts["pricebooks"] = len(books)
