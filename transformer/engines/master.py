"""The master catalog (jobs 3-1-1, 3-2-1): products and product models as SFCC master catalog products,
mapped and rendered on all cores while the main process writes and validates the stream."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from time import perf_counter
from typing import Iterator

from markupsafe import Markup

from .. import jsontext
from ..errors import RECORD_SKIPPED
from ..map.assets import AssetAttributes
from ..map.products import shows_associations
from ..package import Validated
from ..parallel import batched, ordered_map
from ..settings import Config
from ..store import Store
from .read import catalog_count, catalog_rows, gone_products, main_media_from, product_mapper
from .run import JobRun, record_renderer, records_check

CHUNK = 200  # records per unit of work handed to a worker
OUTPUT = "catalog"
MODELS, PRODUCTS = "product-models", "products"


class ProductChunks:
    """Maps, renders and validates chunks of raw store rows into product XML; one per worker process
    (validating there spreads the XSD check over every core: the writer then reads each chunk's first
    and last product only)."""

    def __init__(self, config: Config, job_id: str, store_path: Path, written_up_to: int | None = None):
        job, site = config.jobs[job_id], config.site
        # Open while the worker lives (models ask it about their products), read-only: a worker never
        # takes the store's write lock, which the parent needs to end the run, however it ends.
        store = self.store = Store(store_path, read_only=True)
        families = {item["code"]: item.get("attributes") or [] for _, item in store.rows("families")}
        assets = None
        if job.mappings.assets is not None:
            assets = AssetAttributes(main_media_from(store), lambda family, code: store.get("assets", code, family),
                                     job.mappings.assets.import_type, site, set(store.media_paths()))
        self.mapper = product_mapper(store, job, site, written_up_to, families=families, assets=assets)
        self.selection = self.mapper.catalog  # the site's trees (what refers to the items asks it too)
        self.render = record_renderer(config, job.outputs[OUTPUT])
        self.check = records_check(config, job.outputs[OUTPUT])

    def __call__(self, rows: list[tuple[bool, str]]) -> dict:
        """Product XML of the (is model, code) rows, in their order."""
        fragments, errors, counts = [], [], Counter()
        timings = {"map": 0.0, "render": 0.0}
        self.mapper.unknown.clear()
        raw = {kind: self.store.raw_by_code(kind, [code for is_model, code in rows if is_model == (kind == MODELS)])
               for kind in (MODELS, PRODUCTS)}
        for is_model, code in rows:
            started = perf_counter()
            item = jsontext.loads(raw[MODELS if is_model else PRODUCTS][code])
            if not self.selection.keeps(item):
                if not self.selection.kept_before(item):
                    counts["outside_trees"] += 1
                    continue
                # It left the site's trees since the last run: offline here, like a deleted product.
                view, record_errors = self.mapper.gone(item.get("code") if is_model else item.get("identifier")), []
                counts["left_trees"] += 1
                fragments.append(self.render(view))
                continue
            view, record_errors = self.mapper.map(item, is_model)
            mapped = perf_counter()
            timings["map"] += mapped - started
            errors += [e.as_dict() for e in record_errors]
            if view is None:
                counts["skipped"] += 1
                continue
            counts["product_models" if is_model else "products"] += 1
            fragments.append(self.render(view))
            timings["render"] += perf_counter() - mapped
        started = perf_counter()
        xml = "".join(fragments).encode()
        # Invalid (the writer then validates it all, and says where), or nothing to check: no ends.
        ends = (fragments[0] + fragments[-1]).encode() if len(fragments) > 1 else xml
        valid = bool(fragments) and self.check is not None and self.check(xml)
        timings["validate"] = perf_counter() - started
        return {"xml": xml, "ends": ends if valid else None, "errors": errors, "counts": counts, "timings": timings,
                "unknown": dict(self.mapper.unknown)}


_chunks: ProductChunks | None = None


def _start_worker(*args) -> None:
    global _chunks
    _chunks = ProductChunks(*args)


def _product_chunk(rows: list[tuple[bool, str]]) -> dict:
    return _chunks(rows)


def master_catalog(run: JobRun) -> None:
    """Products and product models as SFCC master catalog products, mapped and rendered on all cores;
    products deleted in the PIM since the last successful run set offline (or deleted)."""
    store, report, mapping = run.store, run.report, run.job.mappings.products
    started = perf_counter()
    setup = (run.config, run.job.id, store.path, run.written_up_to)
    chunks = ProductChunks(*setup)  # configuration errors surface here, before any worker starts
    run.warn_missing(chunks.mapper.missing)
    run.time("setup", started)
    clashes = store.shared_codes("product-models", "products")
    for code in clashes:
        run.record_error(code, "code", "a product has the same id; the product model is skipped", action=RECORD_SKIPPED)
    shows = shows_associations(mapping)
    total = catalog_count(store, mapping, run.since, shows, chunks.selection)
    gone = gone_products(store, mapping, chunks.selection, run.written_up_to)
    # Codes, not items, go to the workers, which read the items from the store themselves.
    rows = catalog_rows(store, mapping, run.since, shows, selection=chunks.selection, codes_only=True)
    batches = batched(((is_model, code) for is_model, code, _ in rows), CHUNK)
    if run.workers > 1 and total > CHUNK * run.workers:
        results = ordered_map(_product_chunk, batches, run.workers, _start_worker, setup)
    else:
        results = map(chunks, batches)
    run.progress.total = total + len(gone)
    unknown: Counter = Counter()

    def records() -> Iterator[object]:
        for result in results:
            report.errors += result["errors"]
            report.counts.update(result["counts"])
            unknown.update(result["unknown"])
            for stage, seconds in result["timings"].items():
                report.timings[stage] = report.timings.get(stage, 0.0) + seconds
            run.progress.advance(sum(result["counts"].values()))
            if result["ends"]:
                yield Validated(result["xml"], result["ends"])
            elif result["xml"]:
                yield Markup(result["xml"].decode())
        for code in gone:  # deleted in the PIM since the last successful run
            yield chunks.mapper.gone(code)
        if gone:
            report.counts["deleted_in_pim"] += len(gone)

    run.write(OUTPUT, records())
    if clashes:
        report.counts["skipped"] += len(clashes)
    for code, n in sorted(unknown.items()):
        run.warn(f"attribute '{code}' is not in the PIM's attribute list: {n} value(s) not written")
