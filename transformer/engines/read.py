"""What the engines read from the store: the PIM structure the map stage needs, and which PIM
items a run writes as SFCC products (all of them, or the delta of a differential run)."""

from __future__ import annotations

from typing import Callable, Iterator

from .. import jsontext
from ..map.assets import MainMedia
from ..map.categories import CategoryTree
from ..map.metadata import Definition, asset_definitions
from ..map.products import ProductMapper
from ..map.variations import MASTER_VARIATION
from ..rules import Attribute
from ..settings import CategorySettings, Job, ProductMapping, Site
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


def category_trees(store: Store, settings: CategorySettings, site: Site, since: int | None
                   ) -> tuple[CategoryTree, CategoryTree]:
    """The site's category trees as they are, and as they were at version `since` (with the
    categories that moved since back at their former parents)."""
    categories = list(store.iter("categories"))
    moved = {code: parent for (kind, code), (parent, _) in (store.relinked_since(since) if since is not None else {}).items()
             if kind == "categories"}
    now = CategoryTree(categories, settings, site.locales, site.default_locale, site.storefront_catalog)
    before = CategoryTree([c | {"parent": moved[c["code"]]} if c["code"] in moved else c for c in categories], settings,
                          site.locales, site.default_locale, site.storefront_catalog) if moved else now
    return now, before


# Models kept by a Selection: a heavy model is ~100 KB of Python objects, and 4,096 of them made memory
# grow with the catalog; records come grouped by parent, so only the current ones are needed.
MODELS_CACHED = 64


def recent(lookup: Callable[[str], dict | None]) -> Callable[[str], dict | None]:
    """`lookup` of product models by code, its last MODELS_CACHED answers kept."""
    kept: dict[str, dict | None] = {}

    def model(code: str) -> dict | None:
        if code not in kept:
            if len(kept) >= MODELS_CACHED:
                kept.clear()
            kept[code] = lookup(code)
        return kept[code]

    return model


class Selection:
    """Which PIM items this site's catalogs hold, as the map stage's `Catalog`: every one, or
    (with category settings that skip products outside the trees) those classified in the trees,
    or not classified at all. A variant or sub-model counts its models' categories too. Given the
    version `since` that the outputs were last written up to, it also tells whether an item was held
    then: with its categories and models, and the trees, as they were."""

    def __init__(self, store: Store, job: Job, site: Site, since: int | None = None):
        settings = job.mappings.categories
        self.store = store
        # With no category in the store, no product can be told outside the trees: all are kept.
        skip = settings is not None and settings.products_outside_trees == "skip" and store.count("categories") > 0
        self.tree, self.tree_before = category_trees(store, settings, site, since) if skip else (None, None)
        self.missing = self.tree.missing if self.tree else []  # trees the settings name that the PIM lacks
        self.before = store.relinked_since(since) if since is not None and skip else {}
        self.model = recent(store.model)

    def keeps(self, item: dict) -> bool:
        return self.tree is None or self.tree.holds(self._categories(item, now=True))

    def kept_before(self, item: dict) -> bool:
        """Whether the item was held at the watermark: with its former categories and models."""
        return self.tree is None or self.tree_before.holds(self._categories(item, now=False))

    def _categories(self, item: dict, now: bool) -> set[str]:
        kind = "product-models" if "code" in item and "identifier" not in item else "products"
        parent, categories = item.get("parent"), item.get("categories") or []
        if not now and (former := self.before.get((kind, item.get("code") or item.get("identifier")))):
            parent, categories = former
        found = set(categories)
        for _ in range(2):  # two levels of models at most
            model = self.model(parent) if parent else None
            if model is None:
                break
            parent, categories = model.get("parent"), model.get("categories") or []
            if not now and (former := self.before.get(("product-models", model["code"]))):
                parent, categories = former
            found.update(categories)
        return found

    def exists(self, code: str) -> bool:
        """Whether this site's catalog holds a product or model with this id."""
        item = self.store.get("products", code) or self.model(code)
        return item is not None and self.keeps(item)

    def enabled_below(self, model: str) -> bool:
        return self.store.enabled_below(model)

    def crossed(self) -> set[str]:
        """Ids of the products and models that entered or left the site's trees since the version the
        selection was made with (they or their models moved): what links to them changes."""
        if not self.before:
            return set()
        moved_models = {code for kind, code in self.before if kind == "product-models"}
        candidates = {(kind, code) for kind, code in self.before if kind != "categories"} | {
            (kind, item.get("code") or item.get("identifier")) for kind in ("product-models", "products")
            for code in moved_models for item in self.store.children(kind, code)}
        if any(kind == "categories" for kind, _ in self.before):  # the trees themselves moved: ask every item
            candidates = {(kind, code) for kind in ("product-models", "products") for code, _ in self.store.iter_raw(kind)}
        found = set()
        for kind, code in candidates:
            item = self.store.get(kind, code)
            if item is not None and self.keeps(item) != self.kept_before(item):
                found.add(code)
        return found


def gone_products(store: Store, mapping: ProductMapping, selection: Selection, since: int | None) -> list[str]:
    """Ids of the SFCC products deleted in the PIM after version `since`, by the rule that chose
    what was written: ids SFCC takes, no level-1 model in Master-Variation, no model named like a
    product, held by the site's trees."""
    if since is None:
        return []
    found = []
    for kind in ("product-models", "products"):
        other = "products" if kind == "product-models" else "product-models"
        for code, item in store.gone_since(kind, since):
            if product_id_problem(code) or store.get(other, code) is not None:
                continue  # never written, or an item of the other kind holds the id now
            if kind == "product-models" and item.get("parent") and mapping.variations == MASTER_VARIATION:
                continue
            if selection.kept_before(item):
                found.append(code)
    return found


def product_mapper(store: Store, job: Job, site: Site, since: int | None = None, **lookups) -> ProductMapper:
    """The job's product mapper over the store's attributes, options and family variants (what
    each item inherits is read from the store, and associations only point at what this site's
    catalog holds: a `Selection`); `lookups` as ProductMapper takes them."""
    store.ensure_attributes()
    attributes = attributes_from(store)
    family_variants = {item["code"]: item for _, item in store.rows("family-variants")}
    mapper = ProductMapper(job.mappings.products, site, attributes, option_labels_from(store),
                           **({"catalog": Selection(store, job, site, since), "family_variants": family_variants} | lookups))
    mapper.missing += getattr(mapper.catalog, "missing", [])
    return mapper


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


def catalog_rows(store: Store, mapping: ProductMapping, since: int | None, shows: ShowsAssociations = None,
                 shows_assets: bool = True, selection: Selection | None = None, codes_only: bool = False
                 ) -> Iterator[tuple[bool, str, str | None]]:
    """(is model, code, JSON) of the models, then the products, that a run writes: all of them,
    or those of the `delta` since `since`. Left out: models that are no SFCC product (named like a
    product, which the master job reports; level-1 models in Master-Variation). `codes_only`: the
    JSON may be None (a full run then reads no item: workers read them)."""
    skip = skipped_models(store, mapping)
    every = store.iter_codes if codes_only else store.iter_raw
    models, products = (lambda: every("product-models"), lambda: every("products")) \
        if since is None else delta(store, since, shows, shows_assets, selection)
    for code, raw in models():
        if code not in skip:
            yield True, code, raw
    for code, raw in products():
        yield False, code, raw


def catalog_count(store: Store, mapping: ProductMapping, since: int | None, shows: ShowsAssociations = None,
                  selection: Selection | None = None) -> int:
    """How many rows `catalog_rows` gives (a full run counts without reading the items)."""
    if since is not None:
        return sum(1 for _ in catalog_rows(store, mapping, since, shows, selection=selection))
    return store.count("product-models") - len(skipped_models(store, mapping)) + store.count("products")


def sfcc_products(store: Store, mapping: ProductMapping, since: int | None, shows: ShowsAssociations = None,
                  keeps: Callable[[dict], bool] | None = None, shows_assets: bool = True
                  ) -> Iterator[tuple[dict, bool, str]]:
    """(item, is model, SFCC product id) of the `catalog_rows` whose id SFCC takes (the master job
    reports the others) and that `keeps` keeps (a `Selection`: the site's trees)."""
    for is_model, _, raw in catalog_rows(store, mapping, since, shows, shows_assets):
        item = jsontext.loads(raw)
        item_id = item.get("code") if is_model else item.get("identifier")
        if not product_id_problem(item_id) and (keeps is None or keeps(item)):
            yield item, is_model, item_id


def skipped_models(store: Store, mapping: ProductMapping) -> set[str]:
    """Models that are no SFCC product: named like a product, or level-1 in Master-Variation."""
    skip = set(store.shared_codes("product-models", "products"))
    return skip | (store.sub_model_codes() if mapping.variations == MASTER_VARIATION else set())


def delta(store: Store, since: int, shows_associations: ShowsAssociations = None, shows_assets: bool = True,
          selection: Selection | None = None) -> tuple[Callable[[], Iterator], Callable[[], Iterator]]:
    """What a differential run writes, as (code, JSON) streams of models and of products: items
    whose content changed after store version `since`, or whose references did (an asset they use
    changed, for outputs that `shows_assets`; a product they are associated with appeared or went,
    or crossed the `selection`'s trees, for the items whose output `shows_associations`); the
    sub-models and products below a
    changed model, whose inherited values changed with it; the models above whatever changed, and
    those that lost a child (deleted or moved away): a master shows its variants' images, and its
    online flag follows them."""
    crossed = selection.crossed() if selection is not None and shows_associations is not None else set()

    def referring(kind: str) -> set[str]:
        found = store.referring(kind, since, "assets") if shows_assets else set()
        if shows_associations is not None:
            found |= {code for code in store.referring(kind, since, "products") | store.referrers(kind, crossed)
                      if shows_associations(store.get(kind, code) or {})}
        return found

    models, products = referring("product-models"), referring("products")
    changed = {code for code, _ in store.changed_raw("product-models", since, codes=models)}
    cascade = {code for code, _ in store.changed_raw("product-models", since, changed, models)}  # and sub-models
    # Above what changed: a master shows its sub-models' and variants' images and their `enabled`.
    above = store.ancestors("products", store.changed_codes("products", since) | products) \
        | store.ancestors("product-models", changed) | store.former_parents(since)
    return (lambda: store.changed_raw("product-models", since, changed, above | models),
            lambda: store.changed_raw("products", since, cascade, products))
