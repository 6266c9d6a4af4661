"""The map stage for reference entities (job 4, connector-spec §4.13): an entity becomes a content
asset `akeneo_entity_<entity>` whose custom attributes `akeneo_entity_<entity>_<record>` hold each
record as JSON (the channel's values, exported locales), and each record a Content attribute
definition."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..settings import Site
from ..sfcc import entity_content_id, record_attribute_id, xml_safe
from .metadata import Definition
from .values import ASSET_CHANNEL, Localized, channel_entries, localized_labels


@dataclass
class ContentAsset:
    id: str
    names: Localized
    attributes: list[tuple[str, str | None, str]]


def entity_content(entity: dict, records: list[dict], site: Site) -> tuple[ContentAsset, list[Definition]]:
    """The entity's content asset and the definitions of its records' attributes. Raises RuleError
    for a record whose values are not the API's lists of entries."""
    code = entity["code"]
    attributes, definitions = [], []
    for record in records:
        attribute_id = record_attribute_id(code, record["code"])
        attributes.append((attribute_id, None, xml_safe(json.dumps(record_json(record, site), ensure_ascii=False,
                                                                   separators=(",", ":")))))
        labels = {e.get("locale"): e["data"] for e in channel_entries((record.get("values") or {}).get("label"),
                                                                     site.channel, None, ASSET_CHANNEL)
                  if isinstance(e["data"], str)}
        definitions.append(Definition(attribute_id, localized_labels(labels, site.locales, site.default_locale,
                                                                     record["code"]), "text", False))
    names = localized_labels(entity.get("labels") or {}, site.locales, site.default_locale, code)
    return ContentAsset(entity_content_id(code), names, attributes), definitions


def record_json(record: dict, site: Site) -> dict:
    """The record as JSON: its values for the channel and the exported locales."""
    values = {}
    for attribute, entries in (record.get("values") or {}).items():
        kept = channel_entries(entries, site.channel, site.locales, ASSET_CHANNEL)
        if kept:
            values[attribute] = kept
    return {"code": record["code"], "values": values}
