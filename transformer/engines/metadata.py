"""Engine `attributes-metadata` (job 1): SFCC Product attribute definitions for the PIM attributes
the product mapping writes as custom attributes, with their options, in one attribute group."""

from __future__ import annotations

from ..mapping import ProductMapper
from ..metadata import product_definitions
from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from .common import JobRun, attributes_from, option_labels_from


def attributes_metadata(run: JobRun) -> None:
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    mapper = ProductMapper(run.job.mappings["products"], site, attributes_from(store), option_labels_from(store))
    options: dict[str, list[dict]] = {}
    for attribute, option in store.rows("attribute-options"):
        options.setdefault(attribute, []).append(option)
    for found in options.values():
        found.sort(key=lambda o: (o.get("sort_order") or 0, o.get("code", "")))
    extension = product_definitions(mapper, {a["code"]: a for a in store.iter("attributes")},
                                    lambda code: options.get(code, []))
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)
    path = run.output_path(output.path)
    size = write_validated(path, render_document(env, output.template, [render(extension)], site=site), report.timings)
    report.counts["attribute_definitions"] = len(extension.definitions)
    report.counts["option_values"] = sum(len(d.values) for d in extension.definitions)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})
