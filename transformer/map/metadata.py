"""The map stage for attribute metadata (job 1, connector-spec §4.5): the PIM attributes written as
custom attributes become SFCC `Product` attribute definitions, grouped in `AkeneoAttributes`.

The SFCC type follows what the product mapping writes: enum-of-string (with the options as
value definitions) for select codes, set-of-string for lists, double, boolean, date, html, text
or string otherwise, so definitions always fit the values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..endpoints import SELECT_TYPES
from ..sfcc import asset_attribute_id
from .assets import MainMedia, is_attribute
from .products import ProductMapper
from .values import X_DEFAULT, Localized, localized_labels

GROUP_ID = "AkeneoAttributes"
LISTS = ("pim_catalog_multiselect", "pim_catalog_price_collection", "akeneo_reference_entity_collection",
         "pim_reference_data_multiselect", "pim_catalog_reference_data_multi_select", "pim_assets_collection")
TYPE_BY_RULE = {"number": "double", "boolean": "boolean", "date": "date", "datetime": "datetime", "html": "html",
                "json": "text", "plain_text": "text"}


@dataclass
class Definition:
    id: str
    names: Localized
    type: str
    localizable: bool
    multiple: bool = False
    values: list[tuple[str, Localized]] = field(default_factory=list)  # (option code, display labels)


@dataclass
class TypeExtension:
    type_id: str
    definitions: list[Definition]
    group_id: str
    group_names: Localized


def product_definitions(mapper: ProductMapper, attributes: dict[str, dict],
                        options: Callable[[str], list[dict]]) -> TypeExtension:
    """Definitions of every attribute the mapper writes as a custom attribute, in attribute order."""
    languages, default = mapper.languages, mapper.site.default_locale
    definitions = []
    for code, plan in mapper.plans.items():
        meta = attributes.get(code, {})
        rule = plan.rule.name
        localizable = plan.attribute.localizable or plan.rule.per_locale
        multiple = plan.attribute.type in LISTS and rule not in ("join", "json", "text")
        if rule == "option_code" and plan.attribute.type in SELECT_TYPES:
            values = [(o["code"], _labels(o, languages, default, o["code"])) for o in options(code) if o.get("code")]
            definitions.append(Definition(plan.custom_id, _labels(meta, languages, default, code), "enum-of-string",
                                          False, multiple, values))
            continue
        sfcc_type = "set-of-string" if multiple else TYPE_BY_RULE.get(rule) or (
            "text" if plan.attribute.type == "pim_catalog_textarea" else "string")
        definitions.append(Definition(plan.custom_id, _labels(meta, languages, default, code), sfcc_type, localizable))
    return TypeExtension("Product", definitions, GROUP_ID, [(X_DEFAULT, "Akeneo Attributes")])


def asset_definitions(assets: list[tuple[str, dict]], main_media: dict[str, MainMedia],
                      localizable: dict[tuple[str, str], bool], import_type: str) -> list[Definition]:
    """Definitions of the per-asset product attributes `akeneo_<asset>_<attribute>` that the master
    catalog writes for `assets` ((family, asset) pairs) whose main media is no image file."""
    definitions = []
    for family, asset in assets:
        main = main_media.get(family)
        if main is None or not is_attribute(main, import_type):
            continue
        definitions.append(Definition(asset_attribute_id(asset["code"], main.attribute),
                                      [(X_DEFAULT, f"{asset['code']} ({main.attribute})")], "string",
                                      localizable.get((family, main.attribute), False)))
    return definitions


def _labels(item: dict, languages: dict[str, str], default_locale: str, fallback: str) -> Localized:
    return localized_labels(item.get("labels"), languages, default_locale, fallback)
