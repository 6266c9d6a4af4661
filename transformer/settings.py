"""The loaded configuration: frozen dataclasses that `config.load_config` builds once, with every
default already filled in from the JSON Schemas (`transformer/schemas/`) and every name resolved.

Plain data only, so worker processes receive it as it is instead of reading the files again.
Defaults are never written here: the schemas declare them (editors show them), the loader fills them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .endpoints import Endpoint
from .errors import Location, TransformerError, hint
from .rules import Rule
from .sfcc import SystemAttribute


@dataclass(frozen=True)
class Site:
    master_catalog: str
    storefront_catalog: str
    site: str | None
    library: str | None
    channel: str
    locales: dict[str, str]  # PIM locale -> xml:lang, in file order
    default_locale: str
    currencies: tuple[str, ...]


# -- mapping roles: one settings class per file a job names under `mappings` ---------------------

@dataclass(frozen=True)
class Field:
    """One mapped system value: where it comes from, the rule and its arguments, and a default."""

    sources: tuple[str, ...]
    rule: Rule | None  # None: the default rule of the source's attribute type
    args: dict
    default: str | None
    origin: Location  # of the field's `from`, for errors found at run time


@dataclass(frozen=True)
class AttributeOverride:
    id: str | None
    rule: Rule | None
    args: dict
    origin: Location


@dataclass(frozen=True)
class TypeRule:
    """The rule chosen for every attribute of one PIM type (`rules_by_type`)."""

    rule: Rule
    origin: Location


@dataclass(frozen=True)
class FamilyAssociation:
    """Products of these families become sets or bundles of the targets of one association type."""

    families: tuple[str, ...]
    association: str
    origin: Location


@dataclass(frozen=True)
class Associations:
    target: str  # product-links | recommendations
    link_types: dict[str, str]
    recommendation_types: dict[str, str | int]
    product_sets: FamilyAssociation | None
    bundles: FamilyAssociation | None
    origin: Location  # of link_types


@dataclass(frozen=True)
class ProductMapping:
    """`products` role."""

    file: str
    origin: Location  # of custom_attributes
    system: tuple[tuple[SystemAttribute, Field], ...]
    include: frozenset[str] | None  # None: all attributes
    exclude: frozenset[str]
    rules_by_type: dict[str, TypeRule]
    attributes: dict[str, AttributeOverride]
    associations: Associations
    deleted_products: str  # offline | delete
    variations: str  # master-variation | master-group-variation
    clear_empty_values: str  # selects | all | none


@dataclass(frozen=True)
class AssetSettings:
    """`assets` role."""

    image_source: str  # images | assets | both | none
    import_type: str  # media_file | media_link | both
    view_types: tuple[str, ...]
    image_attributes: tuple[str, ...]
    asset_attributes: tuple[str, ...]
    external_location: str | None
    image_attributes_at: Location | None = None  # where the two lists are written
    asset_attributes_at: Location | None = None


@dataclass(frozen=True)
class CategorySettings:
    """`categories` role."""

    write_categories: bool
    trees: tuple[str, ...]  # empty: every tree
    top_level_category: str | None
    products_outside_trees: str  # skip | keep
    online: bool
    primary_flag: bool
    refinements_export: str | None
    trees_at: Location | None = None  # where the trees (or the top-level category) are named


@dataclass(frozen=True)
class PriceSettings:
    """`prices` role."""

    attribute: str
    pricebook_id: str
    display_name: str
    online: bool
    origin: Location  # of `attribute`


@dataclass(frozen=True)
class RecordGroup:
    entity: str
    records: tuple[str, ...]


@dataclass(frozen=True)
class ContentSettings:
    """`content` role."""

    shared_library: bool
    content_attribute_group: str
    record_grouping: tuple[RecordGroup, ...]


@dataclass(frozen=True)
class Mappings:
    """A job's mapping files by role; the engine table says which roles each engine reads."""

    products: ProductMapping | None = None
    categories: CategorySettings | None = None
    prices: PriceSettings | None = None
    assets: AssetSettings | None = None
    content: ContentSettings | None = None


# -- jobs -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Engine:
    """A row of the engine table (`engines.ENGINES`): what a job naming it may declare, and its function."""

    name: str
    run: Callable[..., None]  # called with the JobRun
    description: str
    modes: tuple[str, ...]
    roles: tuple[str, ...]  # mapping roles a job must give it
    outputs: dict[str, tuple[str, ...]]  # output name -> the kinds of records it renders
    optional_roles: tuple[str, ...] = ()  # mapping roles it reads when a job gives them
    enterprise: str | None = None  # the Enterprise Edition feature it needs, if any


@dataclass(frozen=True)
class Source:
    endpoint: Endpoint
    search: dict | None
    scope: str | None
    locales: tuple[str, ...]
    attributes: tuple[str, ...]
    download: bool
    download_errors: str  # report | fail


@dataclass(frozen=True)
class Output:
    name: str
    template: str
    record_templates: dict[str, str]  # record kind -> template
    path: str  # relative to the archive root, placeholders filled


@dataclass(frozen=True)
class Job:
    id: str
    alias: str | None
    title: str
    engine: Engine
    mode: str  # full | differential
    sources: tuple[Source, ...]
    mappings: Mappings
    outputs: dict[str, Output]


@dataclass(frozen=True)
class Config:
    root: Path
    templates: Path
    site: Site
    jobs: dict[str, Job]
    chains: dict[str, tuple[str, ...]]
    aliases: dict[str, str]
    xsd_dir: Path | None = None  # the site settings' `xsd_dir`, resolved against the config folder
    require_xsd: bool = False

    def resolve(self, name: str) -> tuple[str, ...]:
        """Job ids to run for a job id, alias or chain name."""
        if name in self.chains:
            return self.chains[name]
        job_id = self.aliases.get(name, name)
        if job_id in self.jobs:
            return (job_id,)
        names = sorted(set(self.jobs) | set(self.aliases) | set(self.chains))
        raise TransformerError(f"no job or chain named '{name}'{hint(name, names)} (`akeneo-sfcc jobs` lists them)")
