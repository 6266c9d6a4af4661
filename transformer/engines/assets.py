"""Assets (job 2-1): the custom attribute definitions of the per-asset product attributes
(`akeneo_<asset>_<attribute>`). Its pull downloads the assets' binaries; the products using an
asset that changed are written again by the next differential runs (the store indexes what each
product refers to)."""

from __future__ import annotations

from ..map.metadata import GROUP_ID, TypeExtension
from ..map.values import X_DEFAULT
from .read import asset_definitions_from
from .run import JobRun


def assets(run: JobRun) -> None:
    definitions = asset_definitions_from(run.store, run.job.mappings.assets.import_type)
    run.write("metadata", [TypeExtension("Product", definitions, GROUP_ID, [(X_DEFAULT, "Akeneo Attributes")])])
    run.report.counts["asset_attribute_definitions"] = len(definitions)
