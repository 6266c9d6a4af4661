"""The map stage for variations: a root product model and what lies below it become an SFCC
variation master: its variation attributes (the family variant's axes) with their values and
localized display values, its variants, and (Master-Group-Variation) its variation groups.

Levels (connector-spec §4.8): one level: root -> master, products -> variants. Two levels,
Master-Variation: the level-1 models are flattened, every product below the root is a variant.
Two levels, Master-Group-Variation: the level-1 models also become variation groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..rules import format_decimal
from ..sfcc import xml_safe
from .values import X_DEFAULT, Localized, channel_values, localize, localized_labels

MASTER_VARIATION = "master-variation"
MASTER_GROUP_VARIATION = "master-group-variation"
# Axes whose values SFCC shows with a label per language (the options' labels).
LABELLED_AXES = ("pim_catalog_simpleselect", "pim_reference_data_simpleselect")


@dataclass
class VariationAttribute:
    id: str
    display_names: Localized
    values: list[tuple[str, Localized]] = field(default_factory=list)  # (value, display values)


@dataclass
class MasterView:
    """An SFCC variation master as the variations template sees it."""

    id: str
    attributes: list[VariationAttribute]
    variants: list[str]
    groups: list[str]


class VariationMapper:
    def __init__(self, languages: dict[str, str], default_locale: str, attributes: dict[str, dict],
                 custom_ids: dict[str, str], option_labels: Callable[[str, str], dict[str, str]],
                 option_order: dict[tuple[str, str], int], mode: str, axis_text: Callable[[str, object], str]):
        """`axis_text(code, data)`: an axis value as the variants carry it (the product mapping's rule)."""
        self.languages, self.default_locale = languages, default_locale
        self.attributes, self.custom_ids, self.option_labels, self.mode = attributes, custom_ids, option_labels, mode
        self.option_order, self.axis_text = option_order, axis_text

    def map(self, root: dict, axes: list[list[str]], children: list[dict], products: list[dict]
            ) -> tuple[MasterView, list[tuple[str, str]]]:
        """`axes`: the axis codes per level; `children`: the level-1 models; `products`: every
        product below the root (its own, or its children's). Also returns (variant, reason) of
        the variants left out: an axis value missing, or the same values as another variant."""
        sub_models = {m["code"]: m for m in children}
        codes = [code for level in axes for code in level]
        found: dict[str, dict[str, tuple[tuple, Localized]]] = {code: {} for code in codes}
        variants, left_out, combinations = [], [], {}
        for product in sorted(products, key=lambda p: p["identifier"]):
            model = sub_models.get(product.get("parent"), {})
            values = [(code, axis_value(product, code) or axis_value(model, code)) for code in codes]
            missing = [code for code, value in values if value is None]
            if missing:
                left_out.append((product["identifier"], f"no value for axis {', '.join(missing)}"))
                continue
            texts = tuple(self.axis_text(code, value) for code, value in values)
            if texts in combinations:
                left_out.append((product["identifier"], f"same axis values as {combinations[texts]}"))
                continue
            combinations[texts] = product["identifier"]
            variants.append(product["identifier"])
            for (code, value), text in zip(values, texts):
                found[code].setdefault(text, (self._rank(code, value, text), self._display(code, value, text)))
        attributes = [VariationAttribute(self.custom_ids.get(code, code), self._labels(self.attributes.get(code, {})),
                                         [(text, shown) for text, (_, shown) in sorted(found[code].items(), key=lambda v: v[1][0])])
                      for code in codes if found[code]]
        groups = sorted(sub_models) if self.mode == MASTER_GROUP_VARIATION else []
        return MasterView(root["code"], attributes, variants, groups), left_out

    def _rank(self, code: str, data: object, text: str) -> tuple:
        """Values in the PIM's option order, metrics and numbers by size, the rest alphabetically."""
        if isinstance(data, str) and (code, data) in self.option_order:
            return (0, self.option_order[(code, data)], text)
        if isinstance(data, dict) and "amount" in data:
            return (1, float(format_decimal(data["amount"])), text)
        return (2, 0, text)

    def _display(self, code: str, data: object, text: str) -> Localized:
        attribute = self.attributes.get(code, {})
        if attribute.get("type") in LABELLED_AXES and isinstance(data, str):
            labels = self.option_labels(code, data)
            by_locale = {locale: xml_safe(labels.get(locale) or text) for locale in self.languages}
            return localize(by_locale, self.languages, self.default_locale)
        return [(X_DEFAULT, text)]

    def _labels(self, attribute: dict) -> Localized:
        return localized_labels(attribute.get("labels"), self.languages, self.default_locale, attribute.get("code", ""))


def axis_value(item: dict, code: str) -> object:
    """An axis value: axes are never localizable nor scopable, so the value without channel."""
    found = channel_values((item.get("values") or {}).get(code) or (), channel=None)
    return found[0][1] if found else None


def axes_of(family_variant: dict) -> list[list[str]]:
    """The axis codes of a family variant, per level."""
    sets = sorted(family_variant.get("variant_attribute_sets") or [], key=lambda s: s.get("level", 0))
    return [list(s.get("axes") or []) for s in sets]

