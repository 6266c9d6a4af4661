"""Attribute metadata (job 1): SFCC Product attribute definitions for the PIM attributes
the product mapping writes as custom attributes, with their options, and (given the assets
settings) for the per-asset attributes, in one attribute group: every custom attribute the master
catalog writes."""

from __future__ import annotations

from ..map.metadata import product_definitions
from .read import asset_definitions_from, product_mapper
from .run import JobRun


def attributes_metadata(run: JobRun) -> None:
    store, report = run.store, run.report
    mapper = product_mapper(store, run.job, run.config.site)
    run.warn_missing(mapper.missing)
    options: dict[str, list[dict]] = {}
    for attribute, option in store.rows("attribute-options"):
        options.setdefault(attribute, []).append(option)
    for found in options.values():
        found.sort(key=lambda o: (o.get("sort_order") or 0, o.get("code", "")))
    extension = product_definitions(mapper, {a["code"]: a for a in store.iter("attributes")},
                                    lambda code: options.get(code, []))
    if run.job.mappings.assets is not None:  # the per-asset attributes the master catalog writes too
        extension.definitions += asset_definitions_from(store, run.job.mappings.assets.import_type)
    run.write("metadata", [extension])
    report.counts["attribute_definitions"] = len(extension.definitions)
    report.counts["option_values"] = sum(len(d.values) for d in extension.definitions)
