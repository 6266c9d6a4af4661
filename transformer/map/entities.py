"""The map stage for reference entities (job 4, connector-spec §4.13): an entity becomes a content
asset `akeneo_entity_<entity>` whose custom attributes `akeneo_entity_<entity>_<record>` hold each
record as JSON (its values for the channel and the exported locales), and each record a Content
attribute definition."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import RecordError
from ..rules import RuleError
from ..settings import Site
from ..shapes import dropped
from ..sfcc import entity_content_id, record_attribute_id, xml_safe
from .metadata import Definition
from .values import ASSET_CHANNEL, Localized, channel_entries, localized_labels


@dataclass
class ContentAsset:
    id: str
    names: Localized
    attributes: list[tuple[str, str | None, str]]


def entity_content(entity: dict, records: list[dict], site: Site
                   ) -> tuple[ContentAsset, list[Definition], list[RecordError]]:
    """The entity's content asset, the definitions of its records' attributes, and the record
    values that could not be read (left out of the record's JSON)."""
    code = entity["code"]
    attributes, definitions, errors = [], [], []
    for record in records:
        attribute_id = record_attribute_id(code, record["code"])
        values, problems = record_values(record, site)
        errors += [RecordError(attribute_id, attribute, problem) for attribute, problem in problems]
        attributes.append((attribute_id, None, xml_safe(json.dumps({"code": record["code"], "values": values},
                                                                   ensure_ascii=False, separators=(",", ":")))))
        labels = {e.get("locale"): e["data"] for e in values.get("label", []) if isinstance(e["data"], str)}
        definitions.append(Definition(attribute_id, localized_labels(labels, site.locales, site.default_locale,
                                                                     record["code"]), "text", False))
    names = localized_labels(entity.get("labels") or {}, site.locales, site.default_locale, code)
    return ContentAsset(entity_content_id(code), names, attributes), definitions, errors


def record_values(record: dict, site: Site) -> tuple[dict[str, list[dict]], list[tuple[str, str]]]:
    """A record's values for the channel and the exported locales, and (attribute, problem) of those
    that are not the API's lists of entries."""
    values, problems = {}, [(field, problem) for field, problem, _ in dropped(record)]
    for attribute, entries in (record.get("values") or {}).items():
        try:
            kept = channel_entries(entries or (), site.channel, site.locales, ASSET_CHANNEL)
        except RuleError as exc:
            problems.append((attribute, str(exc)))
            continue
        if kept:
            values[attribute] = kept
    return values, problems
