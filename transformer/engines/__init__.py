"""The engines: one per kind of job, each composing the stages for its SFCC output.

`ENGINES` is the one table of them. The config loader checks every job against it (modes,
mapping roles, outputs and their record kinds), the pipeline runs a job through its row's
function, and the pull skips a job whose row needs an Enterprise Edition feature on a PIM that
lacks it. `jobs.schema.json` enumerates the same rows for editors; a test keeps the two equal.
"""

from __future__ import annotations

from ..settings import Engine
from .assets import assets
from .entities import reference_entities
from .grouping import record_grouping
from .images import images
from .master import master_catalog
from .metadata import attributes_metadata
from .pricebooks import media_assets_pricebook
from .refinements import catalog_refinements
from .storefront import storefront_catalog
from .variations import variations

FULL = ("full",)
BOTH = ("full", "differential")


ENGINES: dict[str, Engine] = {engine.name: engine for engine in (
    Engine("attributes-metadata", attributes_metadata, "attribute definitions and options as Product metadata", FULL,
           ("products",), {"metadata": ("type-extension",)}, optional_roles=("assets",)),
    Engine("assets", assets, "definitions of the per-asset product attributes; products of changed assets marked",
           BOTH, ("assets",), {"metadata": ("type-extension",)}, enterprise="the Asset Manager"),
    Engine("media-assets-pricebook", media_assets_pricebook, "one pricebook per currency (its pull downloads media)",
           FULL, ("prices",), {"pricebooks": ("price",)}, optional_roles=("categories",)),
    Engine("master-catalog", master_catalog, "products and product models as master catalog products", BOTH,
           ("products",), {"catalog": ("product",)}, optional_roles=("assets", "categories")),
    Engine("variations", variations, "product models as variation masters, groups and variants", BOTH,
           ("products",), {"variations": ("master",)}, optional_roles=("categories",)),
    Engine("images", images, "product image groups from image attributes and assets", BOTH, ("assets", "products"),
           {"images": ("product-images",)}, optional_roles=("categories",)),
    Engine("storefront-catalog", storefront_catalog, "categories, category assignments and recommendations", BOTH,
           ("categories", "products"), {"catalog": ("category", "assignment", "recommendation")}),
    Engine("reference-entities", reference_entities, "reference entities and records as content assets", FULL,
           ("content",), {"shared_library": ("content",), "site_library": ("content",), "metadata": ("type-extension",)},
           enterprise="reference entities"),
    Engine("record-grouping", record_grouping, "records grouped into a content attribute group", FULL, ("content",),
           {"metadata": ("attribute-group",)}, enterprise="reference entities"),
    Engine("catalog-refinements", catalog_refinements, "refinement definitions saved from a catalog export", FULL,
           ("categories",), {}),
)}
