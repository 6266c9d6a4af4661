"""Engine `storefront-catalog`: categories, category assignments and recommendations."""

from __future__ import annotations

from typing import Iterator

from markupsafe import Markup

from ..categories import AssignmentView, CategoryTree, RecommendationView
from ..mapping import associated
from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from ..store import Store
from ..variations import MASTER_VARIATION
from .common import JobRun, sfcc_products

def storefront_catalog(run: JobRun) -> None:
    """Categories (always all of them) and the category assignments of the products: all, or in a
    differential run those of the products that changed; assignments gone since are deleted."""
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    settings = run.job.mappings["categories"]
    tree = CategoryTree(list(store.iter("categories")), settings, dict(site.locales), site.default_locale,
                        site.storefront_catalog)
    report.warnings += [f"category '{code}' named in the category settings is not in the PIM" for code in tree.missing]
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)
    since = store.last_success(run.job.id) if run.job.mode == "differential" else None
    catalog = site.storefront_catalog
    store.drop_pending_assignments(catalog)  # left by a run that did not finish
    writing = settings.get("write_categories", True)
    mapping = run.job.mappings["products"]
    associations = mapping.associations

    staged: list[tuple[str, str, str | None]] = []

    def records() -> Iterator[Markup]:
        if not writing:
            return
        saved = store.refinements(catalog)
        for view in tree.views():
            view.refinements = Markup(saved[view.id]) if view.id in saved else None
            report.counts["categories"] += 1
            yield render(view)
        for item, is_model, item_id in sfcc_products(store, mapping, since):
            views = tree.assignments(item_id, item.get("categories") or [], _inherited_categories(store, item, mapping))
            if views is None:  # every category outside the trees: only what was assigned before goes
                report.counts["outside_trees"] += 1
                views = []
            current = {v.category for v in views}
            views += [AssignmentView(item_id, code, delete=True) for code in sorted(store.assigned(catalog, item_id) - current)]
            staged.extend([(catalog, item_id, code) for code in current] or [(catalog, item_id, None)])
            if len(staged) >= 1000:  # in batches: one transaction per product would be slow
                store.stage_assignments(staged)
                staged.clear()
            for view in views:
                report.counts["assignments_deleted" if view.delete else "assignments"] += 1
                yield render(view)
        if associations.get("target", "recommendations") == "recommendations":
            yield from recommendations()

    def recommendations() -> Iterator[Markup]:
        """After every assignment (catalog.xsd order): one per associated product or model."""
        types = associations.get("recommendation_types") or {}
        for item, _, source in sfcc_products(store, mapping, since):
            for kind, number in types.items():
                targets, _ = associated(item, kind)  # the master job reports what it leaves out
                for target, _ in targets:
                    if not store.exists(target):
                        report.counts["recommendations_to_unknown_products"] += 1
                        continue
                    report.counts["recommendations"] += 1
                    yield render(RecommendationView(source, target, str(number)))

    path = run.output_path(output.path)
    size = write_validated(path, render_document(env, output.template, records(), site=site), report.timings)
    store.stage_assignments(staged)
    store.commit_assignments(catalog)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


def _inherited_categories(store: Store, item: dict, mapping) -> set[str]:
    """Categories set on the models above the item that are SFCC products (assigned there, not
    here); a level-1 model's categories go to its variants in Master-Variation mode."""
    found: set[str] = set()
    parent = item.get("parent")
    for _ in range(2):
        model = store.get("product-models", parent) if parent else None
        if model is None:
            break
        if not model.get("parent") or mapping.variations != MASTER_VARIATION:
            found.update(model.get("categories") or [])
        parent = model.get("parent")
    return found

