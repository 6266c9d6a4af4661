"""Engine `record-grouping` (job 5): the configured reference entity records, as their content
attribute ids `akeneo_entity_<entity>_<record>`, in one Content attribute group. Records are not
grouped automatically: big groups make Business Manager's content pages slow (spec §4.13)."""

from __future__ import annotations

from dataclasses import dataclass

from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from .common import JobRun


@dataclass
class AttributeGroup:
    type_id: str
    group_id: str
    attributes: list[str]


def record_grouping(run: JobRun) -> None:
    report, site, output = run.report, run.config.site, run.job.outputs[0]
    settings = run.job.mappings["content"]
    ids = [f"akeneo_entity_{entry['entity']}_{record}" for entry in settings.get("record_grouping") or ()
           for record in entry["records"]]
    known = {f"akeneo_entity_{entity}_{record['code']}" for entity, record in run.store.rows("reference-entity-records")}
    if known:
        report.warnings += [f"{record_id}: no such record in the PIM" for record_id in ids if record_id not in known]
    group = AttributeGroup("Content", settings.get("content_attribute_group", "AkeneoEntityRecords"),
                           list(dict.fromkeys(ids)))
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)
    path = run.output_path(output.path)
    size = write_validated(path, render_document(env, output.template, [render(group)], site=site), report.timings)
    report.counts["grouped_records"] = len(group.attributes)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})
