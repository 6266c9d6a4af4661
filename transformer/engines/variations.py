"""Variations (job 3-2-2): root product models as SFCC variation masters."""

from __future__ import annotations

import json
from typing import Iterator

from ..map.variations import MasterView, VariationMapper, axes_of
from ..errors import RECORD_SKIPPED
from ..rules import RuleError
from ..sfcc import product_id_problem
from ..store import Store
from .read import delta, product_mapper
from .run import JobRun


def variations(run: JobRun) -> None:
    """Root product models as SFCC variation masters: axes with their values, variants, groups."""
    store, report, site = run.store, run.report, run.config.site
    products = product_mapper(store, run.job, site)
    run.warn_missing(products.missing)
    family_variants = {item["code"]: item for _, item in store.rows("family-variants")}
    axis_ids = {code: products.custom_id(code) for code in products.attributes}
    order = {(attribute, o["code"]): o.get("sort_order", 0) for attribute, o in store.rows("attribute-options")}
    mapper = VariationMapper(site.locales, site.default_locale, {a["code"]: a for a in store.iter("attributes")},
                             axis_ids, products.option_labels, order, run.job.mappings.products.variations,
                             products.axis_text)
    clashes = set(store.shared_codes("product-models", "products"))
    keeps = products.catalog.keeps  # the site's trees
    touched = None if run.since is None else _touched_roots(store, run.since)

    def records() -> Iterator[MasterView]:
        for root in store.iter("product-models"):
            if root.get("parent") or root["code"] in clashes or (touched is not None and root["code"] not in touched):
                continue
            if not keeps(root):
                report.counts["outside_trees"] += 1
                continue
            family_variant = family_variants.get(root.get("family_variant"))
            if family_variant is None:
                run.record_error(root["code"], "family_variant", f"family variant '{root.get('family_variant')}' is not in the PIM",
                                 action=RECORD_SKIPPED)
                continue
            children = store.children("product-models", root["code"])
            below = [p for p in store.children("products", root["code"]) + [
                p for child in children for p in store.children("products", child["code"])]
                if not product_id_problem(p.get("identifier")) and keeps(p)]  # the master job reports those
            try:
                view, left_out = mapper.map(root, axes_of(family_variant), children, below)
            except RuleError as exc:
                run.record_error(root["code"], "variations", str(exc), action=RECORD_SKIPPED)
                continue
            for variant, why in left_out:
                run.record_error(variant, "variations", f"not a variant of {root['code']}: {why}")
            report.counts["masters"] += 1
            report.counts["variants"] += len(view.variants)
            report.counts["variation_groups"] += len(view.groups)
            yield view

    run.write("variations", records())


def _touched_roots(store: Store, since: int) -> set[str]:
    """Root models whose variations a differential run rewrites: those of every model and
    product in the delta (a changed model, a new, changed or disabled variant), and of the
    sub-models and variants deleted since."""
    models, products = delta(store, since, shows_assets=False)  # variations show no asset
    parents = {json.loads(raw).get("parent") or code for code, raw in models()}
    parents |= {json.loads(raw).get("parent") for _, raw in products()} - {None}
    parents |= {item.get("parent") for kind in ("product-models", "products")
                for _, item in store.gone_since(kind, since)} - {None}
    roots = set()
    for code in parents:
        model = store.get("product-models", code)
        roots.add((model or {}).get("parent") or code)
    return roots
