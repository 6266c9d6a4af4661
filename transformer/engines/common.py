"""What every engine shares: the run of one job, the PIM structure it reads from the store,
and which PIM items become SFCC products (in full, or in a differential run)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Callable, Iterator

from ..assets import MainMedia
from ..config import Config, Job
from ..errors import TransformerError
from ..report import RunReport
from ..rules import Attribute
from ..sfcc import product_id_problem
from ..store import Store
from ..variations import MASTER_VARIATION

@dataclass
class JobRun:
    """Everything an engine needs for one run of one job."""

    config: Config
    job: Job
    store: Store
    archive: Path  # root of the site-import archive layout
    report: RunReport
    workers: int = 1

    def output_path(self, relative: str) -> Path:
        site = self.config.site
        path = self.archive / relative.format(master_catalog=site.master_catalog, storefront_catalog=site.storefront_catalog,
                                              library=site.library or "", site=site.site or "")
        if not path.resolve().is_relative_to(self.archive.resolve()):
            raise TransformerError(f"output {relative} would be written outside {self.archive}")
        return path

    def time(self, stage: str, started: float) -> None:
        self.report.timings[stage] = self.report.timings.get(stage, 0.0) + perf_counter() - started


def attributes_from(store: Store) -> dict[str, Attribute]:
    return {a["code"]: Attribute(a["code"], a.get("type", ""), bool(a.get("localizable")), bool(a.get("scopable")),
                                 a.get("reference_data_name"))
            for a in store.iter("attributes")}


def option_labels_from(store: Store) -> Callable[[str, str], dict[str, str]]:
    """Option labels by (attribute, option code); structure data, small next to the catalog."""
    labels = {(attribute, o["code"]): o.get("labels") or {} for attribute, o in store.rows("attribute-options")}
    return lambda attribute, code: labels.get((attribute, code), {})


def sfcc_products(store: Store, mapping, since: str | None = None) -> Iterator[tuple[dict, bool, str]]:
    """(item, is model, SFCC product id) of the models, then products, that are SFCC products:
    all, or those a differential run writes (see `delta`). Left out (the master job reports them):
    ids SFCC refuses, models named like a product, and (Master-Variation) level-1 models."""
    skip = skipped_models(store, mapping)
    streams = (lambda: store.iter_raw("product-models"), lambda: store.iter_raw("products")) if since is None else \
        tuple(lambda stream=stream: (raw for _, raw in stream()) for stream in delta(store, since))
    for is_model, stream in zip((True, False), streams):
        for raw in stream():
            item = json.loads(raw)
            item_id = item.get("code") if is_model else item.get("identifier")
            if not (is_model and item_id in skip) and not product_id_problem(item_id):
                yield item, is_model, item_id


def skipped_models(store: Store, mapping) -> set[str]:
    """Models that are no SFCC product: named like a product, or level-1 in Master-Variation."""
    skip = set(store.shared_codes("product-models", "products"))
    return skip | (store.sub_model_codes() if mapping.variations == MASTER_VARIATION else set())


def delta(store: Store, since: str) -> tuple[Callable[[], Iterator], Callable[[], Iterator]]:
    """What a differential run writes, as (code, JSON) streams of models and of products: items
    whose content changed after `since`; the sub-models and products below a changed model, whose
    inherited values changed with it; the models above a changed product (its `enabled` may have
    changed the model's online flag)."""
    changed = {code for code, _ in store.changed_raw("product-models", since)}
    cascade = {code for code, _ in store.changed_raw("product-models", since, changed)}  # with their sub-models
    above = store.models_above_changed_products(since)
    return (lambda: store.changed_raw("product-models", since, changed, above),
            lambda: store.changed_raw("products", since, cascade))



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
