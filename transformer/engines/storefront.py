"""The storefront catalog (jobs 3-1-2, 3-2-4): categories, category assignments and recommendations."""

from __future__ import annotations

from typing import Callable, Iterator

from ..map.categories import AssignmentView, CategoryView, RecommendationView
from ..pim import associated
from ..map.variations import MASTER_VARIATION
from ..settings import ProductMapping
from .read import Selection, category_trees, gone_products, sfcc_products
from .run import JobRun


def storefront_catalog(run: JobRun) -> None:
    """Categories (always all of them, and those deleted in the PIM deleted) and the category
    assignments of the products: all, or in a differential run those of the products that changed;
    assignments gone since are deleted, those of products deleted in the PIM too."""
    store, report, site = run.store, run.report, run.config.site
    settings, mapping = run.job.mappings.categories, run.job.mappings.products
    tree, before = category_trees(store, settings, site, run.written_up_to)
    run.warn_missing(tree.missing)
    catalog = site.storefront_catalog
    staged: list[tuple[str, str, str | None]] = []
    recommends = mapping.associations.target == "recommendations" and bool(mapping.associations.recommendation_types)
    site_items = Selection(store, run.job, site, run.written_up_to)
    model = site_items.model  # the recent models, by code
    shows = (lambda item: True) if recommends else None

    def stage(item_id: str, categories: set[str]) -> None:
        staged.extend([(catalog, item_id, code) for code in categories] or [(catalog, item_id, None)])
        if len(staged) >= 1000:  # in batches: one transaction per product would be slow
            store.stage_assignments(run.run_id, staged)
            staged.clear()

    def records() -> Iterator[object]:
        if settings.write_categories:
            yield from categories_and_assignments()
        if recommends:
            yield from recommendations()

    def categories_and_assignments() -> Iterator[object]:
        for view in tree.views(store.refinements(catalog)):
            report.counts["categories"] += 1
            yield view
        if run.written_up_to is not None:  # deleted in the PIM, or moved out of the site's trees
            gone = {code for code, _ in store.gone_since("categories", run.written_up_to)} | (
                set(before.selected) - set(tree.selected))
            for code in sorted(gone - tree.roots):  # a tree's root is the storefront's `root`, no category
                report.counts["categories_deleted"] += 1
                yield CategoryView(code, [], "false", None, delete=True)
        for item, is_model, item_id in sfcc_products(store, mapping, run.since, shows, shows_assets=False):
            views = tree.assignments(item_id, item.get("categories") or [], _inherited_categories(model, item, mapping))
            if views is None:  # every category outside the trees: only what was assigned before goes
                report.counts["outside_trees"] += 1
                views = []
            current = {v.category for v in views}
            views += [AssignmentView(item_id, code, delete=True) for code in sorted(store.assigned(catalog, item_id) - current)]
            stage(item_id, current)
            for view in views:
                report.counts["assignments_deleted" if view.delete else "assignments"] += 1
                yield view
        for item_id in gone_products(store, mapping, site_items, run.written_up_to):  # offline in the master, unassigned here
            stage(item_id, set())
            for code in sorted(store.assigned(catalog, item_id)):
                report.counts["assignments_deleted"] += 1
                yield AssignmentView(item_id, code, delete=True)

    def recommendations() -> Iterator[RecommendationView]:
        """After every assignment (catalog.xsd order): one per associated product or model."""
        for item, _, source in sfcc_products(store, mapping, run.since, shows, shows_assets=False):
            for kind, number in mapping.associations.recommendation_types.items():
                targets, _ = associated(item, kind)  # the master job reports what it leaves out
                for target, _ in targets:
                    if not site_items.exists(target):  # not in the PIM, or outside this site's trees
                        report.counts["recommendations_to_unknown_products"] += 1
                        continue
                    report.counts["recommendations"] += 1
                    yield RecommendationView(source, target, number)

    run.write("catalog", records())
    store.stage_assignments(run.run_id, staged)


def _inherited_categories(models: Callable[[str], dict | None], item: dict, mapping: ProductMapping) -> set[str]:
    """Categories set on the models above the item that are SFCC products (assigned there, not
    here); a level-1 model's categories go to its variants in Master-Variation mode."""
    found: set[str] = set()
    parent = item.get("parent")
    for _ in range(2):
        model = models(parent) if parent else None
        if model is None:
            break
        if not model.get("parent") or mapping.variations != MASTER_VARIATION:
            found.update(model.get("categories") or [])
        parent = model.get("parent")
    return found
