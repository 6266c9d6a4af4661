"""The pipeline: the one module that knows the order of the stages.

store -> map -> render -> validate -> package, record by record. Each engine turns one
kind of job into that flow; `run` checks that every job asked for can run before any
starts, runs them in order, and moves a job's watermark only when the job succeeded.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from time import perf_counter
from typing import Callable, Iterator

from markupsafe import Markup

from .categories import AssignmentView, CategoryTree, RecommendationView
from .config import Config, Job, load_config
from .errors import NotImplementedYet, TransformerError
from .mapping import ProductMapper, associated
from .package import write_validated
from .parallel import batched, ordered_map
from .render import RecordRenderer, environment, render_document
from .report import Progress, RunReport
from .rules import Attribute, RuleError
from .sfcc import product_id_problem
from .store import Store, utc_now
from .images import ImageMapper
from .variations import MASTER_VARIATION, VariationMapper, axes_of, axis_value


CHUNK = 200  # records per unit of work handed to a worker


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


class ProductChunks:
    """Maps and renders chunks of raw store rows into product XML; one per worker process."""

    def __init__(self, config_root: Path, job_id: str, store_path: Path):
        config = load_config(config_root)
        job = config.jobs[job_id]
        store = Store(store_path)  # open while the worker lives: models ask it about their products
        families = {item["code"]: item.get("attributes") or [] for _, item in store.rows("families")}
        self.mapper = ProductMapper(job.mappings["products"], config.site, attributes_from(store),
                                    option_labels_from(store), families, store.enabled_below)
        env = environment(config.templates)
        self.render = RecordRenderer(env, job.outputs[0].record_template, site=config.site)

    def __call__(self, rows: list[tuple[bool, str]]) -> dict:
        fragments, errors, counts = [], [], Counter()
        timings = {"map": 0.0, "render": 0.0}
        self.mapper.unknown.clear()
        for is_model, raw in rows:
            started = perf_counter()
            view, record_errors = self.mapper.map(json.loads(raw), is_model)
            mapped = perf_counter()
            timings["map"] += mapped - started
            errors += [e.as_dict() for e in record_errors]
            if view is None:
                counts["skipped"] += 1
                continue
            counts["product_models" if is_model else "products"] += 1
            fragments.append(self.render(view))
            timings["render"] += perf_counter() - mapped
        return {"xml": "".join(fragments), "errors": errors, "counts": counts, "timings": timings,
                "unknown": dict(self.mapper.unknown)}


_chunks: ProductChunks | None = None


def _start_worker(*args) -> None:
    global _chunks
    _chunks = ProductChunks(*args)


def _product_chunk(rows: list[tuple[bool, str]]) -> dict:
    return _chunks(rows)


def _catalog_rows(store: Store, since: str | None, skip: set[str]) -> tuple[Iterator[tuple[bool, str]], int]:
    """(is model, JSON) of the models then products to write, and how many."""
    if since is None:
        count = store.count("product-models") + store.count("products")
        return chain(((True, raw) for raw in store.iter_raw("product-models", skip=skip)),
                     ((False, raw) for raw in store.iter_raw("products"))), count
    models, products = _delta(store, since)
    count = sum(1 for code, _ in models() if code not in skip) + sum(1 for _ in products())
    return chain(((True, raw) for code, raw in models() if code not in skip),
                 ((False, raw) for _, raw in products())), count


def _delta(store: Store, since: str) -> tuple[Callable[[], Iterator], Callable[[], Iterator]]:
    """What a differential run writes, as (code, JSON) streams of models and of products: items
    whose content changed after `since`; the sub-models and products below a changed model, whose
    inherited values changed with it; the models above a changed product (its `enabled` may have
    changed the model's online flag)."""
    changed = {code for code, _ in store.changed_raw("product-models", since)}
    cascade = {code for code, _ in store.changed_raw("product-models", since, changed)}  # with their sub-models
    above = store.models_above_changed_products(since)
    return (lambda: store.changed_raw("product-models", since, changed, above),
            lambda: store.changed_raw("products", since, cascade))


def master_catalog(run: JobRun) -> None:
    """Products and product models as SFCC master catalog products, mapped and rendered on all cores."""
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    started = perf_counter()
    setup = (run.config.root, run.job.id, store.path)
    chunks = ProductChunks(*setup)  # configuration errors surface here, before any worker starts
    run.time("setup", started)
    clashes = store.shared_codes("product-models", "products")
    report.errors += [{"id": code, "field": "code", "message": "a product has the same id; the product model is skipped"}
                      for code in clashes]
    since = store.last_success(run.job.id)
    skip = _skipped_models(store, run.job.mappings["products"])
    rows, total = _catalog_rows(store, since if run.job.mode == "differential" else None, skip)
    gone = [] if since is None else store.gone_since("product-models", since) + store.gone_since("products", since)
    batches = batched(rows, CHUNK)
    if run.workers > 1 and total > CHUNK * run.workers:
        results = ordered_map(_product_chunk, batches, run.workers, _start_worker, setup)
    else:
        results = map(chunks, batches)
    progress = Progress(run.job.id, total)
    unknown: Counter = Counter()

    def records() -> Iterator[Markup]:
        for result in results:
            report.errors += result["errors"]
            report.counts.update(result["counts"])
            unknown.update(result["unknown"])
            for stage, seconds in result["timings"].items():
                report.timings[stage] = report.timings.get(stage, 0.0) + seconds
            progress.advance(sum(result["counts"].values()))
            if result["xml"]:
                yield Markup(result["xml"])
        for code in gone:  # deleted in the PIM since the last successful run
            yield chunks.render(chunks.mapper.gone(code))
        if gone:
            report.counts["deleted_in_pim"] += len(gone)

    path = run.output_path(output.path)
    env = environment(run.config.templates)
    try:
        size = write_validated(path, render_document(env, output.template, records(), site=site), report.timings)
    finally:
        progress.close()
    if clashes:
        report.counts["skipped"] += len(clashes)
    report.warnings += [f"attribute '{code}' is not in the PIM's attribute list: {n} value(s) not written"
                        for code, n in sorted(unknown.items())]
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


def variations(run: JobRun) -> None:
    """Root product models as SFCC variation masters: axes with their values, variants, groups."""
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    mapping = run.job.mappings["products"]
    products = ProductMapper(mapping, site, attributes_from(store), option_labels_from(store))
    family_variants = {item["code"]: item for _, item in store.rows("family-variants")}
    axis_ids = {code: products.custom_id(code) for code in products.attributes}
    order = {(attribute, o["code"]): o.get("sort_order", 0) for attribute, o in store.rows("attribute-options")}
    mapper = VariationMapper(dict(site.locales), site.default_locale, {a["code"]: a for a in store.iter("attributes")},
                             axis_ids, products.option_labels, order, mapping.variations, products.axis_text)
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)
    clashes = set(store.shared_codes("product-models", "products"))

    def records() -> Iterator[Markup]:
        for root in store.iter("product-models"):
            if root.get("parent") or root["code"] in clashes:
                continue
            family_variant = family_variants.get(root.get("family_variant"))
            if family_variant is None:
                report.errors.append({"id": root["code"], "field": "family_variant",
                                      "message": f"family variant '{root.get('family_variant')}' is not in the PIM"})
                continue
            children = store.children("product-models", root["code"])
            below = [p for p in store.children("products", root["code"]) + [
                p for child in children for p in store.children("products", child["code"])]
                if not product_id_problem(p.get("identifier"))]  # the master job reports those
            try:
                view, left_out = mapper.map(root, axes_of(family_variant), children, below)
            except RuleError as exc:
                report.errors.append({"id": root["code"], "field": "variations", "message": str(exc)})
                continue
            report.errors += [{"id": variant, "field": "variations", "message": f"not a variant of {root['code']}: {why}"}
                              for variant, why in left_out]
            report.counts["masters"] += 1
            report.counts["variants"] += len(view.variants)
            report.counts["variation_groups"] += len(view.groups)
            yield render(view)

    path = run.output_path(output.path)
    size = write_validated(path, render_document(env, output.template, records(), site=site), report.timings)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


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
        for view in tree.views():
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


def sfcc_products(store: Store, mapping, since: str | None = None) -> Iterator[tuple[dict, bool, str]]:
    """(item, is model, SFCC product id) of the models, then products, that are SFCC products:
    all, or those a differential run writes (see `_delta`). Left out (the master job reports them):
    ids SFCC refuses, models named like a product, and (Master-Variation) level-1 models."""
    skip = _skipped_models(store, mapping)
    streams = (lambda: store.iter_raw("product-models"), lambda: store.iter_raw("products")) if since is None else \
        tuple(lambda stream=stream: (raw for _, raw in stream()) for stream in _delta(store, since))
    for is_model, stream in zip((True, False), streams):
        for raw in stream():
            item = json.loads(raw)
            item_id = item.get("code") if is_model else item.get("identifier")
            if not (is_model and item_id in skip) and not product_id_problem(item_id):
                yield item, is_model, item_id


def _skipped_models(store: Store, mapping) -> set[str]:
    """Models that are no SFCC product: named like a product, or level-1 in Master-Variation."""
    skip = set(store.shared_codes("product-models", "products"))
    return skip | (store.sub_model_codes() if mapping.variations == MASTER_VARIATION else set())


def images(run: JobRun) -> None:
    """Image groups per view type for every product and model, from image attributes and assets;
    masters also get a group per level-1 model, marked with its axis value."""
    store, report, site, output = run.store, run.report, run.config.site, run.job.outputs[0]
    settings = run.job.mappings["assets"]
    products = ProductMapper(run.job.mappings["products"], site, attributes_from(store), option_labels_from(store))
    attributes = {a["code"]: a for a in store.iter("attributes")}
    image_media = _image_media(store)
    mapper = ImageMapper(settings, attributes, image_media, lambda family, code: store.get("assets", code, family),
                         site.channel)
    family_variants = {item["code"]: item for _, item in store.rows("family-variants")}
    env = environment(run.config.templates)
    render = RecordRenderer(env, output.record_template, site=site)

    def records() -> Iterator[Markup]:
        for item, is_model, item_id in sfcc_products(store, run.job.mappings["products"]):
            variations = _variation_images(store, item, family_variants, products) if is_model else []
            view = mapper.view(item_id, item, variations)
            if view is not None:
                report.counts["products_with_images"] += 1
                report.counts["image_groups"] += len(view.groups)
                yield render(view)

    path = run.output_path(output.path)
    document = render_document(env, output.template, records(), site=site, view_types=settings.get("view_types") or [])
    size = write_validated(path, document, report.timings)
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


def _image_media(store: Store) -> dict[str, str]:
    """Asset family -> its main media attribute, for families whose main media is an image file."""
    types = {(family, item["code"]): item for family, item in store.rows("asset-family-attributes")}
    found = {}
    for _, family in store.rows("asset-families"):
        main = types.get((family["code"], family.get("attribute_as_main_media")))
        if main and main.get("type") == "media_file" and main.get("media_type", "image") == "image":
            found[family["code"]] = main["code"]
    return found


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
            model = models.get(product.get("parent"), {})
            values = [(code, axis_value(product, code) or axis_value(model, code)) for code in codes]
            if all(value is not None for _, value in values):
                found.append(([(products.custom_id(code), products.axis_text(code, value)) for code, value in values],
                              product))
    except RuleError:
        return found  # an axis value SFCC cannot use: the variations job reports it
    return found


# Implemented engines and the modes each supports; config.ENGINES lists them all.
IMPLEMENTED: dict[str, tuple[Callable[[JobRun], None], frozenset[str]]] = {
    "master-catalog": (master_catalog, frozenset({"full", "differential"})),
    "variations": (variations, frozenset({"full"})),
    "storefront-catalog": (storefront_catalog, frozenset({"full", "differential"})),
    "images": (images, frozenset({"full"})),
}


def implemented(job: Job) -> bool:
    return job.engine in IMPLEMENTED and job.mode in IMPLEMENTED[job.engine][1]


def check_runnable(config: Config, job_ids: tuple[str, ...]) -> None:
    """Refuse, before anything runs, jobs whose engine (or mode) is not built yet."""
    missing = [config.jobs[j] for j in job_ids if not implemented(config.jobs[j])]
    if missing:
        names = ", ".join(f"{job.id} ({job.alias})" if job.alias else job.id for job in missing)
        raise NotImplementedYet(f"not implemented yet: {names}")


# Reads a job's sources into the store before it runs: (job, store, UTC start of its last
# successful run or None, archive root) -> what was read, for the report.
Prepare = Callable[[Job, Store, "str | None", Path], dict]


def run_jobs(config: Config, name: str, store: Store, out: Path, workers: int | None = None,
             prepare: Prepare | None = None) -> list[RunReport]:
    """Run a job, alias or chain on `workers` processes (default: one per core), each job
    after `prepare` (a pull from the PIM) when given; reports go to out/reports/<job>.json."""
    workers = workers or os.cpu_count() or 1
    job_ids = config.resolve(name)
    check_runnable(config, job_ids)
    reports = []
    for job_id in job_ids:
        job = config.jobs[job_id]
        report = RunReport(job.id, job.title, job.mode)
        reports.append(report)
        started = perf_counter()
        try:
            with store.run(job.id):
                if prepare is not None:
                    since = store.last_success(job.id) if job.mode == "differential" else None
                    pulled = perf_counter()
                    report.pull = prepare(job, store, since, out / "site-import")
                    report.timings["pull"] = perf_counter() - pulled
                IMPLEMENTED[job.engine][0](JobRun(config, job, store, out / "site-import", report, workers))
            report.status = "succeeded_with_errors" if report.errors else "succeeded"
        except BaseException:
            report.status = "failed"
            raise
        finally:
            report.timings["total"] = perf_counter() - started
            report.finished = utc_now()
            report.write(out / "reports" / f"{job.id}.json")
    return reports
