"""Product images (job 3-2-3): image groups per view type for products and models."""

from __future__ import annotations

from typing import Iterator

from ..map.images import ImageMapper, ImagesView
from ..map.products import ProductMapper
from ..map.variations import axes_of, axis_value
from ..rules import RuleError
from ..store import Store
from .read import main_media_from, product_mapper, sfcc_products
from .run import JobRun


def images(run: JobRun) -> None:
    """Image groups per view type for every product and model, from image attributes and assets;
    masters also get a group per level-1 model, marked with its axis value."""
    store, report, site = run.store, run.report, run.config.site
    products = product_mapper(store, run.job, site)
    run.warn_missing(products.missing)
    attributes = {a["code"]: a for a in store.iter("attributes")}
    mapper = ImageMapper(run.job.mappings.assets, attributes, main_media_from(store),
                         lambda family, code: store.get("assets", code, family), site.channel, site.locales,
                         set(store.media_paths()))
    run.warn_missing(mapper.missing)
    family_variants = {item["code"]: item for _, item in store.rows("family-variants")}
    settings = run.job.mappings.assets
    if settings.import_type == "media_link" and settings.image_attributes and settings.image_source in ("images", "both"):
        run.warn(f"image attributes {', '.join(settings.image_attributes)} are left out: with import_type media_link "
                 "every image is a link under external_location, and image attribute files are no links")

    def records() -> Iterator[ImagesView]:
        keeps = products.catalog.keeps  # the site's trees
        for item, is_model, item_id in sfcc_products(store, run.job.mappings.products, run.since, keeps=keeps):
            variations = _variation_images(store, item, family_variants, products) if is_model else []
            view, problems = mapper.view(item_id, {**item, "values": products.values_of(item)}, variations)
            for field, problem in problems:
                run.record_error(item_id, field, problem)
            if view is None:  # an empty <images> clears what SFCC had (merge removes unlisted groups)
                yield ImagesView(item_id, [])
                continue
            report.counts["products_with_images"] += 1
            report.counts["image_groups"] += len(view.groups)
            yield view

    run.write("images", records(), view_types=mapper.declared_view_types(), external_location=mapper.base)


def _variation_images(store: Store, root: dict, family_variants: dict, products: ProductMapper
                      ) -> list[tuple[list[tuple[str, str]], dict]]:
    """A root model's image groups below it: each level-1 model with its axis values, then each
    variant with all of its axis values (connector-spec §4.9, images on masters)."""
    if root.get("parent"):
        return []
    axes = axes_of(family_variants.get(root.get("family_variant")) or {})
    codes = [code for level in axes for code in level]
    children = store.children("product-models", root["code"])
    found: list[tuple[list[tuple[str, str]], dict]] = []
    try:
        if len(axes) == 2:
            found += [([(products.custom_id(code), products.axis_text(code, axis_value(child, code)))
                        for code in axes[0]], child)
                      for child in children if all(axis_value(child, code) is not None for code in axes[0])]
        models = {child["code"]: child for child in children}
        for product in store.children("products", root["code"]) + [
                p for child in children for p in store.children("products", child["code"])]:
            if not products.catalog.keeps(product):
                continue
            model = models.get(product.get("parent"), {})
            values = [(code, axis_value(product, code) or axis_value(model, code)) for code in codes]
            if all(value is not None for _, value in values):
                found.append(([(products.custom_id(code), products.axis_text(code, value)) for code, value in values],
                              product))
    except RuleError:
        return found  # an axis value SFCC cannot use: the variations job reports it
    return found
