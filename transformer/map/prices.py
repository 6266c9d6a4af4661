"""The map stage for pricebooks (job 2-2): a product's list price in one currency, as SFCC writes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from markupsafe import Markup

from ..rules import RuleError, format_decimal, price_amounts
from .values import channel_values


@dataclass(frozen=True)
class PriceRow:
    product_id: str
    amount: str


@dataclass
class Pricebook:
    id: str
    currency: str
    display_name: str
    online: str
    records: Iterator[Markup]  # its price tables, rendered as they stream


def list_price(product: dict, attribute: str, currency: str, channel: str) -> tuple[str | None, list[str]]:
    """The product's price in `currency` (from the channel's values of the price attribute) or None,
    and what is wrong with the value (the same whatever the currency: every entry is read)."""
    found, problems = None, []
    try:
        entries = channel_values((product.get("values") or {}).get(attribute) or (), channel)
    except RuleError as exc:
        return None, [str(exc)]
    for _, data in entries:
        amounts, wrong = price_amounts(data)
        problems += wrong
        found = found or next((amount for code, amount in amounts if code == currency), None)
    return (price_text(found) if found is not None else None), problems


def price_text(amount: object) -> str:
    """A price as SFCC exports write it: no exponent, at least two decimals: `"15.5000"` -> `15.50`."""
    whole, _, decimals = format_decimal(amount).partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"
