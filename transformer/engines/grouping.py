"""Record grouping (job 5): the configured reference entity records, as their content
attribute ids `akeneo_entity_<entity>_<record>`, in one Content attribute group; records the PIM
lacks are left out and warned about. Records are not grouped automatically: big groups make
Business Manager's content pages slow (spec §4.13)."""

from __future__ import annotations

from dataclasses import dataclass

from ..sfcc import record_attribute_id
from .run import JobRun


@dataclass
class AttributeGroup:
    type_id: str
    group_id: str
    attributes: list[str]


def record_grouping(run: JobRun) -> None:
    settings = run.job.mappings.content
    ids = [record_attribute_id(group.entity, record) for group in settings.record_grouping for record in group.records]
    known = {record_attribute_id(entity, record["code"]) for entity, record in run.store.rows("reference-entity-records")}
    for record_id in ids:
        if record_id not in known:  # the archive would group an attribute nothing defines
            run.warn(f"{record_id}: no such record in the PIM, left out of the group")
    group = AttributeGroup("Content", settings.content_attribute_group, list(dict.fromkeys(i for i in ids if i in known)))
    run.write("metadata", [group])
    run.report.counts["grouped_records"] = len(group.attributes)
