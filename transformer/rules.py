"""Mapping rules: small pure functions, registered by name, that turn one PIM value into SFCC text.

A rule receives the `data` of one Akeneo value (already chosen for the channel and one
locale) and a `RuleContext`, and returns a string, a list of strings (a multi-value
attribute) or None (no value). It raises `RuleError` for data it cannot convert; the
engine reports that against the record and field instead of failing the run.
"""

from __future__ import annotations

import html
import inspect
import json
import re
import typing
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Callable

from .sfcc import record_attribute_id


class RuleError(ValueError):
    """The data does not fit the rule (reported per record and field)."""


@dataclass(frozen=True)
class Attribute:
    """What the rules need to know about a PIM attribute."""

    code: str
    type: str
    localizable: bool = False
    scopable: bool = False
    reference_data_name: str | None = None
    unique: bool = False


@dataclass(frozen=True)
class RuleContext:
    """Where a value comes from: its attribute, its PIM locale, and the option labels."""

    attribute: Attribute
    locale: str | None = None
    option_labels: Callable[[str, str], dict[str, str]] = lambda attribute, code: {}


Output = str | list[str] | None


@dataclass(frozen=True)
class Rule:
    name: str
    fn: Callable[..., Output]
    summary: str
    params: dict[str, tuple[type, ...]]  # argument name -> the types it accepts
    # True: the rule can give a different value per locale even for non-localizable data
    # (option labels), so the engine calls it once per exported locale.
    per_locale: bool = False

    def __call__(self, data: object, ctx: RuleContext, args: dict) -> Output:
        return self.fn(data, ctx, **args)


RULES: dict[str, Rule] = {}


def rule(name: str, per_locale: bool = False):
    """Register a rule under `name`; its docstring's first line is its `rules` summary."""

    def register(fn: Callable[..., Output]) -> Callable[..., Output]:
        hints = typing.get_type_hints(fn)
        params = {p: tuple(t for t in typing.get_args(hints[p]) or (hints[p],) if t is not type(None))
                  for p in inspect.signature(fn).parameters if p not in ("data", "ctx")}
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        RULES[name] = Rule(name, fn, summary, params, per_locale)
        return fn

    return register


# Rule used for each PIM attribute type when the mapping names none.
DEFAULT_RULE_BY_TYPE: dict[str, str] = {
    "pim_catalog_identifier": "text",
    "pim_catalog_text": "text",
    "pim_catalog_textarea": "text",
    "pim_catalog_number": "number",
    "pim_catalog_metric": "metric",
    "pim_catalog_price_collection": "price",
    "pim_catalog_boolean": "boolean",
    "pim_catalog_date": "date",
    "pim_catalog_simpleselect": "option_code",
    "pim_catalog_multiselect": "option_code",
    "pim_catalog_image": "text",
    "pim_catalog_file": "text",
    "pim_catalog_asset_collection": "json",
    "pim_assets_collection": "option_code",
    "akeneo_reference_entity": "record_id",
    "akeneo_reference_entity_collection": "record_id",
    "pim_reference_data_simpleselect": "option_code",
    "pim_reference_data_multiselect": "option_code",
    "pim_catalog_reference_data_simple_select": "option_code",
    "pim_catalog_reference_data_multi_select": "option_code",
    "pim_catalog_table": "json",
    "pim_catalog_product_link": "json",
}

# Rule used for each product property (`from: enabled`) when the mapping names none.
DEFAULT_RULE_BY_PROPERTY: dict[str, str] = {
    "identifier": "text", "uuid": "text", "code": "text", "enabled": "boolean", "family": "text",
    "family_variant": "text", "parent": "text", "categories": "option_code", "groups": "option_code",
    "created": "datetime", "updated": "datetime",
}


def _expect_str(data: object, what: str = "text") -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (int, float, Decimal)) and not isinstance(data, bool):
        return format_decimal(data)
    raise RuleError(f"expected {what}, got {type(data).__name__}")


def _codes(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, list) and all(isinstance(c, str) for c in data):
        return data
    raise RuleError(f"expected a code or a list of codes, got {type(data).__name__}")


MAX_EXPONENT = 38  # beyond any price, weight or count; keeps a typo from writing a gigabyte of zeros


def format_decimal(value: object) -> str:
    """A number as SFCC's xs:decimal: no exponent, no thousands separator, no trailing zeros."""
    if isinstance(value, bool):
        raise RuleError("expected a number, got a boolean")
    try:
        number = Decimal(value if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):
        raise RuleError(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise RuleError(f"'{value}' is not a finite number")
    if number and abs(number.adjusted()) > MAX_EXPONENT:
        raise RuleError(f"'{value}' is out of range (more than {MAX_EXPONENT} digits)")
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@rule("text")
def text(data, ctx):
    """The value as text, surrounding whitespace trimmed: `" Red T-shirt "` -> `Red T-shirt`."""
    return _expect_str(data).strip()


_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


@rule("plain_text")
def plain_text(data, ctx):
    """HTML reduced to plain text: `<p>Soft &amp; warm</p>` -> `Soft & warm`."""
    return _SPACES.sub(" ", html.unescape(_TAG.sub(" ", _expect_str(data)))).strip()


@rule("html")
def html_text(data, ctx):
    """HTML kept as markup (escaped in the XML): `<p>Soft</p>` -> `<p>Soft</p>`."""
    return _expect_str(data).strip()


@rule("option_code")
def option_code(data, ctx):
    """Option code(s) as written: `"red"` -> `red`; `["a", "b"]` -> values `a`, `b`."""
    return data if isinstance(data, str) else _codes(data)


@rule("option_label", per_locale=True)
def option_label(data, ctx):
    """Option label(s) in the value's locale, the code when unlabelled: `"red"` -> `Rouge` (fr_FR)."""
    def label(code: str) -> str:
        return ctx.option_labels(ctx.attribute.code, code).get(ctx.locale or "", code)

    return label(data) if isinstance(data, str) else [label(c) for c in _codes(data)]


@rule("boolean")
def boolean(data, ctx):
    """A boolean as SFCC writes it: `true` -> `true`, `0` -> `false`."""
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, (int, str)) and str(data).strip().lower() in ("1", "0", "true", "false"):
        return "true" if str(data).strip().lower() in ("1", "true") else "false"
    raise RuleError(f"'{data}' is not a boolean")


@rule("number")
def number(data, ctx, decimals: int | None = None):
    """A number without exponent or comma: `"4.5000"` -> `4.5`; decimals=2 -> `4.50`."""
    text_value = format_decimal(data)
    if decimals is None:
        return text_value
    try:
        return format(Decimal(text_value).quantize(Decimal(1).scaleb(-decimals)), "f")
    except InvalidOperation:
        raise RuleError(f"'{data}' does not fit {decimals} decimals") from None


@rule("metric")
def metric(data, ctx):
    """A metric as `<amount> <unit>`: `{"amount": "25.4500", "unit": "CENTIMETER"}` -> `25.45 CENTIMETER`."""
    if not isinstance(data, dict) or "amount" not in data or "unit" not in data:
        raise RuleError("expected a metric {amount, unit}")
    return f"{format_decimal(data['amount'])} {_expect_str(data['unit'])}"


PRICE_COLLECTION = "expected a price collection [{amount, currency}]"


def price_amounts(data: object) -> tuple[list[tuple[str, str]], list[str]]:
    """(currency, amount as an xs:decimal) of the well-formed prices of an Akeneo price collection
    (prices without an amount left out), and what is wrong with the others:
    `[{"amount": "15.50", "currency": "EUR"}]` -> `([("EUR", "15.5")], [])`."""
    if not isinstance(data, list):
        return [], [PRICE_COLLECTION]
    amounts, problems = [], []
    for entry in data:
        if not (isinstance(entry, dict) and "amount" in entry and isinstance(entry.get("currency"), str)):
            problems.append(PRICE_COLLECTION)
        elif entry["amount"] not in (None, ""):
            try:
                amounts.append((entry["currency"], format_decimal(entry["amount"])))
            except RuleError as exc:
                problems.append(str(exc))
    return amounts, problems


@rule("price")
def price(data, ctx, currency: str | None = None):
    """Prices as `<amount> <currency>` values, or one currency's amount: `[{"amount": "15.50", "currency": "EUR"}]` -> `15.5 EUR`."""
    amounts, problems = price_amounts(data)
    if problems:
        raise RuleError(problems[0])
    if currency is not None:
        return next((amount for code, amount in amounts if code == currency), None)
    return [f"{amount} {code}" for code, amount in amounts]


def _parse_datetime(data: object) -> datetime:
    try:
        return datetime.fromisoformat(_expect_str(data, "a date"))
    except ValueError:
        raise RuleError(f"'{data}' is not an ISO 8601 date") from None


@rule("date")
def date(data, ctx):
    """The date part of a PIM date: `"2012-03-13T00:00:00+01:00"` -> `2012-03-13`."""
    return _parse_datetime(data).date().isoformat()


@rule("datetime")
def datetime_utc(data, ctx):
    """A date and time in UTC as SFCC writes it: `"2012-03-13T00:00:00+01:00"` -> `2012-03-12T23:00:00.000Z`."""
    moment = _parse_datetime(data)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@rule("json")
def json_text(data, ctx):
    """The value as compact JSON, order kept: `["front", "back"]` -> `["front","back"]`."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@rule("join")
def join(data, ctx, separator: str = ", "):
    """A list joined into one text: `["a", "b"]` -> `a, b`."""
    return separator.join(_expect_str(item) for item in (data if isinstance(data, list) else [data]))


@rule("record_id")
def record_id(data, ctx):
    """Reference entity record(s) as content attribute ids: `"dyson"` -> `akeneo_entity_brand_dyson`."""
    entity = ctx.attribute.reference_data_name or ctx.attribute.code
    ids = [record_attribute_id(entity, code) for code in _codes(data)]
    return ids[0] if isinstance(data, str) else ids
