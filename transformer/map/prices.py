"""The map stage for pricebooks (job 2-2): a product's list price in one currency, as SFCC writes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from markupsafe import Markup

from ..rules import format_decimal, price_amounts
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


def list_price(product: dict, attribute: str, currency: str, channel: str) -> str | None:
    """The product's price in `currency` (the channel's value of the price attribute), or None."""
    for _, data in channel_values((product.get("values") or {}).get(attribute), channel):
        amount = next((amount for code, amount in price_amounts(data) if code == currency), None)
        if amount is not None:
            return price_text(amount)
    return None


def price_text(amount: object) -> str:
    """A price as SFCC exports write it: no exponent, at least two decimals: `"15.5000"` -> `15.50`."""
    whole, _, decimals = format_decimal(amount).partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"
