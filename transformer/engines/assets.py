"""Assets (job 2-1): the custom attribute definitions of the per-asset product attributes
(`akeneo_<asset>_<attribute>`), and the products using an asset that changed since the job's
last successful run marked as changed, so the next differential master run writes them again."""

from __future__ import annotations

import json

from ..map.assets import is_attribute
from ..map.metadata import GROUP_ID, Definition, TypeExtension
from ..map.values import X_DEFAULT, channel_values
from ..rules import RuleError
from ..sfcc import asset_attribute_id
from ..store import Store
from .read import attributes_from, main_media_from
from .run import JobRun


def assets(run: JobRun) -> None:
    store, report = run.store, run.report
    main_media = main_media_from(store)
    import_type = run.job.mappings.assets.import_type
    localizable = {(family, item["code"]): bool(item.get("value_per_locale"))
                   for family, item in store.rows("asset-family-attributes")}
    definitions = []
    for family, asset in store.rows("assets"):
        main = main_media.get(family)
        if main is None or not is_attribute(main, import_type):
            continue
        definitions.append(Definition(asset_attribute_id(asset["code"], main.attribute),
                                      [(X_DEFAULT, f"{asset['code']} ({main.attribute})")], "string",
                                      localizable.get((family, main.attribute), False)))
    if run.previous_success is not None:
        report.counts["products_to_write_again"] = _touch_users(store, run.previous_success, run.config.site.channel)
    run.write("metadata", [TypeExtension("Product", definitions, GROUP_ID, [(X_DEFAULT, "Akeneo Attributes")])])
    report.counts["asset_attribute_definitions"] = len(definitions)


def _touch_users(store: Store, since: str, channel: str) -> int:
    """Mark the products and models using an asset changed after `since`; returns how many."""
    changed = {code for code, _ in store.changed_raw("assets", since)}
    if not changed:
        return 0
    collections = [code for code, a in attributes_from(store).items() if a.type == "pim_catalog_asset_collection"]
    touched = 0
    for kind in ("product-models", "products"):
        users = []
        for code, raw in store.iter_raw(kind):
            if used_assets(json.loads(raw), collections, channel) & changed:
                users.append(code)
        touched += store.touch(kind, users)
    return touched


def used_assets(item: dict, collections: list[str], channel: str) -> set[str]:
    """The codes of the assets an item's asset collections hold (none for a malformed value: the
    master job reports it)."""
    values = item.get("values") or {}
    used: set[str] = set()
    for attribute in collections:
        try:
            used.update(c for _, data in channel_values(values.get(attribute) or (), channel) if isinstance(data, list)
                        for c in data if isinstance(c, str))
        except RuleError:
            continue
    return used
