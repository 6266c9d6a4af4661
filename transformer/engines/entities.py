"""Reference entities (job 4): each reference entity a content asset in the shared library
(or the site's private one), its records as JSON custom attributes, plus their Content attribute
definitions (connector-spec §4.13). Records are not put in a group here: that is job 5, on purpose."""

from __future__ import annotations

from ..map.entities import entity_content
from ..map.metadata import TypeExtension
from ..sfcc import record_attribute_id
from .run import JobRun


def reference_entities(run: JobRun) -> None:
    store, report, site = run.store, run.report, run.config.site
    records: dict[str, list[dict]] = {}
    for entity, record in store.rows("reference-entity-records"):
        records.setdefault(entity, []).append(record)
    gone: dict[str, list[str]] = {}  # records deleted in the PIM since the library was last written
    if run.written_up_to is not None:
        for entity, code, _ in store.gone_rows("reference-entity-records", run.written_up_to):
            gone.setdefault(entity, []).append(code)
    contents, definitions = [], []
    for _, entity in store.rows("reference-entities"):
        content, defined, errors = entity_content(entity, records.get(entity["code"], []), site)
        report.errors += [error.as_dict() for error in errors]
        # MERGE keeps an attribute the content no longer names: written empty, a deleted record's goes.
        content.attributes += [(record_attribute_id(entity["code"], code), None, "") for code in gone.get(entity["code"], [])]
        report.counts["records_deleted"] += len(gone.get(entity["code"], []))
        contents.append(content)
        definitions += defined
        report.counts["entities"] += 1
        report.counts["records"] += len(content.attributes)
    if run.job.mappings.content.shared_library:
        run.write("shared_library", contents, library_id=site.library)
    else:
        run.write("site_library", contents, library_id=None)  # a site's private library has no id
    run.write("metadata", [TypeExtension("Content", definitions, "", [])])
