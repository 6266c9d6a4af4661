"""Engine `master-catalog`: products and product models as SFCC master catalog products,
mapped and rendered on all cores while the main process writes and validates the stream."""

from __future__ import annotations

import json
from collections import Counter
from itertools import chain
from pathlib import Path
from time import perf_counter
from typing import Iterator

from markupsafe import Markup

from ..config import load_config
from ..assets import AssetAttributes
from ..mapping import ProductMapper, localize
from ..package import write_validated
from ..parallel import batched, ordered_map
from ..render import RecordRenderer, environment, render_document
from ..report import Progress
from ..store import Store
from .common import JobRun, attributes_from, delta, main_media_from, option_labels_from, skipped_models

CHUNK = 200  # records per unit of work handed to a worker


class ProductChunks:
    """Maps and renders chunks of raw store rows into product XML; one per worker process."""

    def __init__(self, config_root: Path, job_id: str, store_path: Path):
        config = load_config(config_root)
        job = config.jobs[job_id]
        store = Store(store_path)  # open while the worker lives: models ask it about their products
        families = {item["code"]: item.get("attributes") or [] for _, item in store.rows("families")}
        site = config.site
        assets = None
        if "assets" in job.mappings:
            assets = AssetAttributes(main_media_from(store), lambda family, code: store.get("assets", code, family),
                                     job.mappings["assets"].get("import_type", "media_file"), site.channel,
                                     dict(site.locales), lambda by_locale: localize(by_locale, dict(site.locales),
                                                                                    site.default_locale))
        self.mapper = ProductMapper(job.mappings["products"], site, attributes_from(store),
                                    option_labels_from(store), families, store, assets)
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
    models, products = delta(store, since)
    count = sum(1 for code, _ in models() if code not in skip) + sum(1 for _ in products())
    return chain(((True, raw) for code, raw in models() if code not in skip),
                 ((False, raw) for _, raw in products())), count


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
    skip = skipped_models(store, run.job.mappings["products"])
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

