"""Engine `reference-entities` (job 4): each reference entity becomes a content asset
`akeneo_entity_<entity>` whose custom attributes `akeneo_entity_<entity>_<record>` hold each
record as JSON (the channel's values, exported locales), plus their Content attribute definitions
(connector-spec §4.13). Records are not put in a group here: that is job 5, on purpose."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..mapping import localized_labels
from ..metadata import Definition, TypeExtension
from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from ..sfcc import xml_safe
from .common import JobRun


@dataclass
class ContentAsset:
    id: str
    names: list[tuple[str, str]]
    attributes: list[tuple[str, str | None, str]]


def reference_entities(run: JobRun) -> None:
    store, report, site = run.store, run.report, run.config.site
    settings = run.job.mappings["content"]
    languages = dict(site.locales)
    records: dict[str, list[dict]] = {}
    for entity, record in store.rows("reference-entity-records"):
        records.setdefault(entity, []).append(record)
    assets, definitions = [], []
    for _, entity in store.rows("reference-entities"):
        code = entity["code"]
        names = localized_labels(entity.get("labels") or {}, languages, site.default_locale, code)
        attributes = []
        for record in records.get(code, []):
            attribute_id = f"akeneo_entity_{code}_{record['code']}"
            attributes.append((attribute_id, None, xml_safe(json.dumps(_record_json(record, site.channel, languages),
                                                                       ensure_ascii=False, separators=(",", ":")))))
            labels = {e.get("locale"): e["data"] for e in (record.get("values") or {}).get("label") or []
                      if isinstance(e, dict) and isinstance(e.get("data"), str)}
            definitions.append(Definition(attribute_id, localized_labels(labels, languages, site.default_locale, record["code"]),
                                          "text", False))
        assets.append(ContentAsset(f"akeneo_entity_{code}", names, attributes))
        report.counts["entities"] += 1
        report.counts["records"] += len(attributes)
    env = environment(run.config.templates)
    shared = settings.get("shared_library", True)
    library, metadata = run.job.outputs
    path = run.output_path(library.path if shared else "sites/{site}/library/library.xml")
    render = RecordRenderer(env, library.record_template, site=site)
    size = write_validated(path, render_document(env, library.template, (render(a) for a in assets), site=site,
                                                 library_id=site.library if shared else None), report.timings)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})
    meta_path = run.output_path(metadata.path)
    render_meta = RecordRenderer(env, metadata.record_template, site=site)
    extension = TypeExtension("Content", definitions, "", [])
    size = write_validated(meta_path, render_document(env, metadata.template, [render_meta(extension)], site=site),
                           report.timings)
    report.outputs.append({"path": str(meta_path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


def _record_json(record: dict, channel: str, languages: dict[str, str]) -> dict:
    """The record as JSON: its values for the channel and the exported locales."""
    values = {}
    for attribute, entries in (record.get("values") or {}).items():
        kept = [e for e in entries or [] if isinstance(e, dict) and e.get("channel") in (None, channel)
                and (e.get("locale") is None or e.get("locale") in languages)]
        if kept:
            values[attribute] = kept
    return {"code": record["code"], "values": values}

