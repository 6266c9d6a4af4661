"""Facts about the PIM's JSON that several stages read: what a product or product model refers to."""

from __future__ import annotations

from .sfcc import product_id_problem


def associated(item: dict, kind: str, quantified: bool = False) -> tuple[list[tuple[str, int]], list[str]]:
    """(product id, quantity) of the products and product models an item is associated with by
    association type `kind` (a quantified association of that type gives the quantities), and
    what was left out: targets SFCC would refuse, entries without a target or quantity."""
    found: dict[str, int] = {}
    refused: list[str] = []
    plain = (item.get("associations") or {}).get(kind) or {}
    for target in list(plain.get("products") or []) + list(plain.get("product_models") or []):
        found.setdefault(target, 1) if isinstance(target, str) else refused.append(repr(target))
    counted = ((item.get("quantified_associations") or {}).get(kind) or {}) if quantified else {}
    for entry in list(counted.get("products") or []) + list(counted.get("product_models") or []):
        target = (entry.get("identifier") or entry.get("code") or entry.get("uuid")) if isinstance(entry, dict) else None
        if isinstance(target, str) and isinstance(entry.get("quantity"), int) and entry["quantity"] >= 1:
            found[target] = entry["quantity"]
        else:
            refused.append(f"{entry!r} (no target or quantity)")
    refused += [target for target in found if product_id_problem(target)]
    return [(t, q) for t, q in found.items() if not product_id_problem(t)], refused


def references(item: dict, asset_collections: dict[str, str]) -> set[tuple[str, str, str]]:
    """What an item refers to, as (kind, parent, code) of the store: the assets of its asset
    collections (`asset_collections`: attribute code -> asset family), in any channel and locale,
    and the products and models of its associations of any type."""
    found: set[tuple[str, str, str]] = set()
    values = item.get("values") if isinstance(item.get("values"), dict) else {}
    for attribute, family in asset_collections.items():
        for entry in values.get(attribute) or ():
            data = entry.get("data") if isinstance(entry, dict) else None
            if isinstance(data, list):
                found.update(("assets", family, code) for code in data if isinstance(code, str))
    kinds = {kind for key in ("associations", "quantified_associations") if isinstance(item.get(key), dict)
             for kind in item[key]}
    for kind in kinds:
        targets, _ = associated(item, kind, quantified=True)  # plain and quantified targets
        found.update(("products", "", target) for target, _ in targets)
    return found
