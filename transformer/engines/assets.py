"""Assets (job 2-1): the custom attribute definitions of the per-asset product attributes
(`akeneo_<asset>_<attribute>`). Its pull downloads the assets' binaries; the products using an
asset that changed are written again by the next differential runs (the store indexes what each
product refers to)."""

from __future__ import annotations

from ..map.assets import is_attribute
from ..map.metadata import GROUP_ID, Definition, TypeExtension
from ..map.values import X_DEFAULT
from ..sfcc import asset_attribute_id
from .read import main_media_from
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
    run.write("metadata", [TypeExtension("Product", definitions, GROUP_ID, [(X_DEFAULT, "Akeneo Attributes")])])
    report.counts["asset_attribute_definitions"] = len(definitions)
