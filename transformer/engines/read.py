"""What the engines read from the store: the PIM structure the map stage needs, and which PIM
items a run writes as SFCC products (all of them, or the delta of a differential run)."""

from __future__ import annotations

import json
from typing import Callable, Iterator

from ..map.assets import MainMedia
from ..map.categories import CategoryTree
from ..map.metadata import Definition, asset_definitions
from ..map.products import ProductMapper
from ..map.variations import MASTER_VARIATION
from ..rules import Attribute
from ..settings import Job, ProductMapping, Site
from ..sfcc import product_id_problem
from ..store import Store


def attributes_from(store: Store) -> dict[str, Attribute]:
    return {a["code"]: Attribute(a["code"], a.get("type", ""), bool(a.get("localizable")), bool(a.get("scopable")),
                                 a.get("reference_data_name"), bool(a.get("unique")))
            for a in store.iter("attributes")}


def option_labels_from(store: Store) -> Callable[[str, str], dict[str, str]]:
    """Option labels by (attribute, option code); structure data, small next to the catalog."""
    labels = {(attribute, o["code"]): o.get("labels") or {} for attribute, o in store.rows("attribute-options")}
    return lambda attribute, code: labels.get((attribute, code), {})


class Selection:
    """Which PIM items this site's catalogs hold, as the map stage's `Catalog`: every one, or
    (with category settings that skip products outside the trees) those classified in the trees,
    or not classified at all. A variant or sub-model counts its models' categories too."""

    def __init__(self, store: Store, job: Job, site: Site):
        settings = job.mappings.categories
        self.store = store
        categories = list(store.iter("categories"))
        # With no category in the store, no product can be told outside the trees: all are kept.
        self.tree = CategoryTree(categories, settings, site.locales, site.default_locale, site.storefront_catalog) \
            if settings and settings.products_outside_trees == "skip" and categories else None

    def keeps(self, item: dict) -> bool:
        if self.tree is None:
            return True
        categories = set(item.get("categories") or [])
        parent = item.get("parent")
        for _ in range(2):  # two levels of models at most
            model = self.store.get("product-models", parent) if parent else None
            if model is None:
                break
            categories.update(model.get("categories") or [])
            parent = model.get("parent")
        return self.tree.holds(categories)

    def exists(self, code: str) -> bool:
        """Whether this site's catalog holds a product or model with this id."""
        item = self.store.get("products", code) or self.store.get("product-models", code)
        return item is not None and self.keeps(item)

    def model(self, code: str) -> dict | None:
        return self.store.model(code)

    def enabled_below(self, model: str) -> bool:
        return self.store.enabled_below(model)


def product_mapper(store: Store, job: Job, site: Site, **lookups) -> ProductMapper:
    """The job's product mapper over the store's attributes, options and family variants (what
    each item inherits is read from the store, and associations only point at what this site's
    catalog holds); `lookups` as ProductMapper takes them."""
    family_variants = {item["code"]: item for _, item in store.rows("family-variants")}
    return ProductMapper(job.mappings.products, site, attributes_from(store), option_labels_from(store),
                         **({"catalog": Selection(store, job, site), "family_variants": family_variants} | lookups))


def main_media_from(store: Store) -> dict[str, MainMedia]:
    """Asset family -> its main media (a file or a link, and its media type)."""
    attributes = {(family, item["code"]): item for family, item in store.rows("asset-family-attributes")}
    found = {}
    for _, family in store.rows("asset-families"):
        main = attributes.get((family["code"], family.get("attribute_as_main_media")))
        if main and main.get("type") in ("media_file", "media_link"):
            found[family["code"]] = MainMedia(main["code"], main["type"] == "media_link", main.get("prefix") or "",
                                              main.get("suffix") or "", main.get("media_type") or "image")
    return found


def asset_definitions_from(store: Store, import_type: str) -> list[Definition]:
    """Definitions of the per-asset product attributes of the stored assets."""
    localizable = {(family, item["code"]): bool(item.get("value_per_locale"))
                   for family, item in store.rows("asset-family-attributes")}
    return asset_definitions(store.rows("assets"), main_media_from(store), localizable, import_type)


# -- which items a run writes ---------------------------------------------------------------

ShowsAssociations = Callable[[dict], bool] | None  # whether an item's output shows its associations


def catalog_rows(store: Store, mapping: ProductMapping, since: int | None, shows: ShowsAssociations = None
                 ) -> Iterator[tuple[bool, str, str]]:
    """(is model, code, JSON) of the models, then the products, that a run writes: all of them,
    or those of the `delta` since `since`. Left out: models that are no SFCC product (named like a
    product, which the master job reports; level-1 models in Master-Variation)."""
    skip = skipped_models(store, mapping)
    models, products = (lambda: store.iter_raw("product-models"), lambda: store.iter_raw("products")) \
        if since is None else delta(store, since, shows)
    for code, raw in models():
        if code not in skip:
            yield True, code, raw
    for code, raw in products():
        yield False, code, raw


def catalog_count(store: Store, mapping: ProductMapping, since: int | None, shows: ShowsAssociations = None) -> int:
    """How many rows `catalog_rows` gives (a full run counts without reading the items)."""
    if since is not None:
        return sum(1 for _ in catalog_rows(store, mapping, since, shows))
    return store.count("product-models") - len(skipped_models(store, mapping)) + store.count("products")


def sfcc_products(store: Store, mapping: ProductMapping, since: int | None, shows: ShowsAssociations = None,
                  keeps: Callable[[dict], bool] | None = None) -> Iterator[tuple[dict, bool, str]]:
    """(item, is model, SFCC product id) of the `catalog_rows` whose id SFCC takes (the master job
    reports the others) and that `keeps` keeps (a `Selection`: the site's trees)."""
    for is_model, _, raw in catalog_rows(store, mapping, since, shows):
        item = json.loads(raw)
        item_id = item.get("code") if is_model else item.get("identifier")
        if not product_id_problem(item_id) and (keeps is None or keeps(item)):
            yield item, is_model, item_id


def skipped_models(store: Store, mapping: ProductMapping) -> set[str]:
    """Models that are no SFCC product: named like a product, or level-1 in Master-Variation."""
    skip = set(store.shared_codes("product-models", "products"))
    return skip | (store.sub_model_codes() if mapping.variations == MASTER_VARIATION else set())


def delta(store: Store, since: int, shows_associations: ShowsAssociations = None, shows_assets: bool = True
          ) -> tuple[Callable[[], Iterator], Callable[[], Iterator]]:
    """What a differential run writes, as (code, JSON) streams of models and of products: items
    whose content changed after store version `since`, or whose references did (an asset they use
    changed, for outputs that `shows_assets`; a product they are associated with appeared or went,
    for the items whose output `shows_associations`); the sub-models and products below a changed
    model, whose inherited values changed with it; the models above a changed or deleted product or
    sub-model (the model's online flag and its variants' images may have changed with it)."""
    def referring(kind: str) -> set[str]:
        found = store.referring(kind, since, "assets") if shows_assets else set()
        if shows_associations is not None:
            found |= {code for code in store.referring(kind, since, "products")
                      if shows_associations(store.get(kind, code) or {})}
        return found

    models, products = referring("product-models"), referring("products")
    changed = {code for code, _ in store.changed_raw("product-models", since, codes=models)}
    cascade = {code for code, _ in store.changed_raw("product-models", since, changed, models)}  # and sub-models
    above = store.models_above_changed_products(since)
    return (lambda: store.changed_raw("product-models", since, changed, above | models),
            lambda: store.changed_raw("products", since, cascade, products))
