"""Engine `assets` (job 2-1): the custom attribute definitions of the per-asset product attributes
(`akeneo_<asset>_<attribute>`), and the products using an asset that changed since the job's
last successful run marked as changed, so the next differential master run writes them again."""

from __future__ import annotations

import json

from ..assets import is_attribute
from ..mapping import X_DEFAULT, camel, select_scope
from ..metadata import GROUP_ID, Definition, TypeExtension
from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from ..store import Store
from .common import JobRun, attributes_from, main_media_from


def assets(run: JobRun) -> None:
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    main_media = main_media_from(store)
    import_type = run.job.mappings["assets"].get("import_type", "media_file")
    localizable = {(family, item["code"]): bool(item.get("value_per_locale"))
                   for family, item in store.rows("asset-family-attributes")}
    definitions = []
    for family, asset in store.rows("assets"):
        main = main_media.get(family)
        if main is None or not is_attribute(main, import_type):
            continue
        definitions.append(Definition(f"akeneo_{camel(asset['code'])}_{camel(main.attribute)}",
                                      [(X_DEFAULT, f"{asset['code']} ({main.attribute})")], "string",
                                      localizable.get((family, main.attribute), False)))
    since = store.last_success(run.job.id)
    if since is not None:
        report.counts["products_to_write_again"] = _touch_users(store, since, site.channel)
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)
    extension = TypeExtension("Product", definitions, GROUP_ID, [(X_DEFAULT, "Akeneo Attributes")])
    path = run.output_path(output.path)
    size = write_validated(path, render_document(env, output.template, [render(extension)], site=site), report.timings)
    report.counts["asset_attribute_definitions"] = len(definitions)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


def _touch_users(store: Store, since: str, channel: str) -> int:
    """Mark the products and models using an asset changed after `since`; returns how many."""
    changed = {code for code, _ in store.changed_raw("assets", since)}
    if not changed:
        return 0
    collections = [code for code, a in attributes_from(store).items() if a.type == "pim_catalog_asset_collection"]
    touched = 0
    for kind in ("product-models", "products"):
        users = []
        for raw in store.iter_raw(kind):
            item = json.loads(raw)
            values = item.get("values") or {}
            codes = {c for code in collections for _, data in select_scope(values.get(code) or (), channel)
                     if isinstance(data, list) for c in data}
            if codes & changed:
                users.append(item.get("code") if kind == "product-models" else item.get("identifier"))
        touched += store.touch(kind, users)
    return touched
