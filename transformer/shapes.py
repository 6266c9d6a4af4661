"""The shape of what a PIM sends, made safe once, where it enters the store.

Every engine and every store query relies on a few fields having the types the Akeneo API gives
them (`values` an object of lists of `{locale, scope, data}`, `categories` a list of codes, `parent`
a code or null, ...). A PIM or a snapshot can send anything there. Here each item is reduced to
what has the expected shape: a field, a list element or a map entry of another type is dropped,
and the item lists what was dropped under `DROPPED`, so the job that writes the record reports it
(`value dropped`) and every job sees the same item. Unknown fields are kept as they came.

Hand-written rather than a JSON Schema: a validator says what is wrong but repairs nothing, and this
runs on every item of a million-product pull."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Container

DROPPED = "_dropped"  # the item's field that lists what was dropped from it


# Where a value sits in its item, as (parent path, key) pairs: spelled out (`values.color[0]`) only
# when something there is dropped, so that a clean item costs no string formatting.
Path = tuple


class Shape:
    name = "anything"

    def clean(self, value: object, path: Path, dropped: list[str]) -> tuple[bool, object]:
        """(whether `value` has this shape, `value` with what has not dropped: itself when whole)."""
        return True, value


@dataclass(frozen=True)
class Kind(Shape):
    types: tuple[type, ...]
    name: str

    def clean(self, value, path, dropped):
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types), value


@dataclass(frozen=True)
class Maybe(Shape):
    inner: Shape

    @property
    def name(self) -> str:
        return f"{self.inner.name} or null"

    def clean(self, value, path, dropped):
        return (True, None) if value is None else self.inner.clean(value, path, dropped)


@dataclass(frozen=True)
class _Each(Shape):
    """A list (ListOf) or an object of any keys (MapOf) whose elements have one shape; an element
    of another shape is dropped, the rest kept."""

    inner: Shape
    label: str = ""
    container = list

    @property
    def name(self) -> str:
        return self.label or f"{'a list' if self.container is list else 'an object'} of {self.inner.name}"

    def clean(self, value, path, dropped):
        if not isinstance(value, self.container):
            return False, value
        pairs = enumerate(value) if self.container is list else value.items()
        kept, changed = [], False
        for key, element in pairs:
            ok, cleaned = self.inner.clean(element, (path, key), dropped)
            if ok:
                kept.append((key, cleaned))
            else:
                dropped.append(_problem((path, key), self.inner, element))
            changed = changed or cleaned is not element or not ok
        if not changed:
            return True, value
        return True, [e for _, e in kept] if self.container is list else dict(kept)


class ListOf(_Each):
    container = list


class MapOf(_Each):
    container = dict


@dataclass(frozen=True)
class Record(Shape):
    """An object with known fields (others kept as they are); a `required` one missing, or of
    another shape, makes the whole object unusable."""

    fields: tuple[tuple[str, Shape], ...]
    required: frozenset[str] = frozenset()
    name: str = "an object"

    def clean(self, value, path, dropped):
        if not isinstance(value, dict) or not self.required <= value.keys():
            return False, value
        cleaned_value = value
        for field, shape in self.fields:
            if field not in value:
                continue
            ok, cleaned = shape.clean(value[field], (path, field), dropped)
            if ok and cleaned is value[field]:
                continue
            if not ok and field in self.required:
                return False, value
            if cleaned_value is value:
                cleaned_value = dict(value)  # copied only when something changes
            if ok:
                cleaned_value[field] = cleaned
            else:
                dropped.append(_problem((path, field), shape, cleaned_value.pop(field)))
        return True, cleaned_value


def _spelled(path: Path) -> str:
    """`((((), "values"), "color"), 0)` -> `values.color[0]`."""
    keys = []
    while path:
        path, key = path
        keys.append(key)
    text = ""
    for key in reversed(keys):
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def _problem(path: Path, shape: Shape, found: object) -> str:
    return f"{_spelled(path)}: expected {shape.name}, got {_described(found)}"


def _described(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


TEXT = Kind((str,), "text")
CODE = TEXT
MAYBE_CODE = Maybe(TEXT)
CODES = ListOf(TEXT, "a list of codes")
BOOLEAN = Kind((bool,), "a boolean")
NUMBER = Kind((int, float), "a number")
LABELS = MapOf(Maybe(TEXT), "an object of labels by locale")
ANY = Shape()


@dataclass(frozen=True)
class _Values(Shape):
    """`values`: the general shape, with a quick look first. Nearly every item is clean, and the
    general walk costs a few calls per value entry (a heavy product has hundreds): when the look
    finds nothing amiss, the item is kept as it is; else the general walk says what to drop."""

    general: MapOf
    scope_key: str

    @property
    def name(self) -> str:
        return self.general.name

    def clean(self, value, path, dropped):
        scope_key = self.scope_key
        if type(value) is dict and all(type(entries) is list and all(
                type(e) is dict and "data" in e and ((locale := e.get("locale")) is None or type(locale) is str)
                and ((scope := e.get(scope_key)) is None or type(scope) is str) for e in entries)
                for entries in value.values()):
            return True, value
        return self.general.clean(value, path, dropped)


def _values(scope_key: str) -> _Values:
    entry = Record((("locale", MAYBE_CODE), (scope_key, MAYBE_CODE), ("data", ANY)), frozenset({"data"}),
                   f"a {{locale, {scope_key}, data}} object")
    return _Values(MapOf(ListOf(entry, f"a list of {{locale, {scope_key}, data}} objects"),
                         f"an object of attribute codes, each a list of {{locale, {scope_key}, data}} objects"),
                   scope_key)


# Products by `identifier` (or `uuid`), models by `code` (one Akeneo example says `identifier`).
_QUANTIFIED = ListOf(Record((("identifier", TEXT), ("uuid", TEXT), ("code", TEXT), ("quantity", NUMBER)),
                            name="an {identifier, quantity} object"))
_ASSOCIATIONS = MapOf(Record((("products", CODES), ("product_models", CODES), ("groups", CODES))))
_QUANTIFIED_ASSOCIATIONS = MapOf(Record((("products", _QUANTIFIED), ("product_models", _QUANTIFIED))))
_PRODUCT_FIELDS = (("enabled", BOOLEAN), ("family", MAYBE_CODE), ("parent", MAYBE_CODE), ("categories", CODES),
                   ("groups", CODES), ("values", _values("scope")), ("associations", _ASSOCIATIONS),
                   ("quantified_associations", _QUANTIFIED_ASSOCIATIONS), ("updated", Maybe(TEXT)))

SHAPES: dict[str, Record] = {
    "products": Record(_PRODUCT_FIELDS),
    "product-models": Record(_PRODUCT_FIELDS + (("family_variant", MAYBE_CODE),)),
    "categories": Record((("parent", MAYBE_CODE), ("labels", LABELS), ("position", NUMBER))),
    "attributes": Record((("type", TEXT), ("labels", LABELS), ("group", MAYBE_CODE), ("localizable", BOOLEAN),
                          ("scopable", BOOLEAN), ("reference_data_name", MAYBE_CODE), ("sort_order", NUMBER))),
    "attribute-options": Record((("labels", LABELS), ("sort_order", NUMBER))),
    "families": Record((("attributes", CODES), ("labels", LABELS), ("attribute_as_label", MAYBE_CODE),
                        ("attribute_as_image", MAYBE_CODE))),
    "family-variants": Record((("labels", LABELS), ("variant_attribute_sets", ListOf(Record(
        (("level", NUMBER), ("axes", CODES), ("attributes", CODES)), frozenset({"level"}),
        "a {level, axes, attributes} object"))))),
    "channels": Record((("locales", CODES), ("currencies", CODES), ("category_tree", MAYBE_CODE), ("labels", LABELS))),
    "assets": Record((("values", _values("channel")),)),
    "reference-entities": Record((("labels", LABELS),)),
    "reference-entity-records": Record((("values", _values("channel")),)),
}


def safe_item(kind: str, item: dict) -> dict:
    """`item` with what has not the shape the API gives dropped, listed under `DROPPED`."""
    shape = SHAPES.get(kind)
    if shape is None:
        return item
    earlier = item.get(DROPPED)  # an item the store repaired keeps what was dropped from it
    dropped = [p for p in earlier if isinstance(p, str)] if isinstance(earlier, list) else []
    _, cleaned = shape.clean({k: v for k, v in item.items() if k != DROPPED}, (), dropped)
    if dropped:
        cleaned[DROPPED] = dropped
    return cleaned


def dropped_warnings(reshaped: dict[str, list[tuple[str, list[str]]]]) -> list[str]:
    """One line per kind of item from which something was dropped (the store's `reshaped`)."""
    lines = []
    for kind, found in sorted(reshaped.items()):
        code, problems = found[0]
        more = sum(len(p) for _, p in found) - 1
        lines.append(f"{kind}: {len(found)} item(s) held values of another shape than the Akeneo API gives, dropped; "
                     f"first: {code}: {problems[0]}" + (f" (and {more} more)" if more else ""))
    return lines


def dropped(item: dict, attributes: Container[str] | None = None) -> list[tuple[str, str, str | None]]:
    """(field, problem, attribute code) of what the store dropped from `item`, for its record
    errors; `attributes`: only what was dropped from the values of these."""
    found = []
    for entry in item.get(DROPPED, ()):
        field, _, problem = entry.partition(": ")
        code = re.match(r"values\.([^.\[]+)", field)
        if attributes is None or (code and code.group(1) in attributes):
            found.append((field, f"{problem}, dropped", code.group(1) if code else None))
    return found
