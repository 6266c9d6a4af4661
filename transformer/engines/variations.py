"""Engine `variations`: root product models as SFCC variation masters."""

from __future__ import annotations

import json
from typing import Iterator

from markupsafe import Markup

from ..mapping import ProductMapper
from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from ..rules import RuleError
from ..sfcc import product_id_problem
from ..variations import VariationMapper, axes_of
from ..store import Store
from .common import JobRun, attributes_from, delta, option_labels_from

def variations(run: JobRun) -> None:
    """Root product models as SFCC variation masters: axes with their values, variants, groups."""
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    mapping = run.job.mappings["products"]
    products = ProductMapper(mapping, site, attributes_from(store), option_labels_from(store))
    family_variants = {item["code"]: item for _, item in store.rows("family-variants")}
    axis_ids = {code: products.custom_id(code) for code in products.attributes}
    order = {(attribute, o["code"]): o.get("sort_order", 0) for attribute, o in store.rows("attribute-options")}
    mapper = VariationMapper(dict(site.locales), site.default_locale, {a["code"]: a for a in store.iter("attributes")},
                             axis_ids, products.option_labels, order, mapping.variations, products.axis_text)
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)
    clashes = set(store.shared_codes("product-models", "products"))
    since = store.last_success(run.job.id) if run.job.mode == "differential" else None
    touched = None if since is None else _touched_roots(store, since)

    def records() -> Iterator[Markup]:
        for root in store.iter("product-models"):
            if root.get("parent") or root["code"] in clashes or (touched is not None and root["code"] not in touched):
                continue
            family_variant = family_variants.get(root.get("family_variant"))
            if family_variant is None:
                report.errors.append({"id": root["code"], "field": "family_variant",
                                      "message": f"family variant '{root.get('family_variant')}' is not in the PIM"})
                continue
            children = store.children("product-models", root["code"])
            below = [p for p in store.children("products", root["code"]) + [
                p for child in children for p in store.children("products", child["code"])]
                if not product_id_problem(p.get("identifier"))]  # the master job reports those
            try:
                view, left_out = mapper.map(root, axes_of(family_variant), children, below)
            except RuleError as exc:
                report.errors.append({"id": root["code"], "field": "variations", "message": str(exc)})
                continue
            report.errors += [{"id": variant, "field": "variations", "message": f"not a variant of {root['code']}: {why}"}
                              for variant, why in left_out]
            report.counts["masters"] += 1
            report.counts["variants"] += len(view.variants)
            report.counts["variation_groups"] += len(view.groups)
            yield render(view)

    path = run.output_path(output.path)
    size = write_validated(path, render_document(env, output.template, records(), site=site), report.timings)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})



def _touched_roots(store: Store, since: str) -> set[str]:
    """Root models whose variations a differential run rewrites: those of every model and
    product in the delta (a changed model, a new, changed or disabled variant)."""
    models, products = delta(store, since)
    parents = {json.loads(raw).get("parent") or code for code, raw in models()}
    parents |= {json.loads(raw).get("parent") for _, raw in products()} - {None}
    roots = set()
    for code in parents:
        model = store.get("product-models", code)
        roots.add((model or {}).get("parent") or code)
    return roots
