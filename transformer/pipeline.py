"""The pipeline: runs jobs, in order, through the engine each names.

Each engine (`transformer/engines/`) knows the order of the stages for its kind of output:
store -> map -> render -> validate -> package, record by record. `run_jobs` checks that every
job asked for can run before any starts, runs them in order, pulls each one's sources first
when asked to, and moves a job's watermark only when the job succeeded.
"""

from __future__ import annotations

import os
from pathlib import Path
from time import perf_counter
from typing import Callable

from .config import Config, Job
from .engines.common import JobRun
from .engines.assets import assets
from .engines.entities import reference_entities
from .engines.grouping import record_grouping
from .engines.images import images
from .engines.master import master_catalog
from .engines.metadata import attributes_metadata
from .engines.pricebooks import media_assets_pricebook
from .engines.refinements import catalog_refinements
from .engines.storefront import storefront_catalog
from .engines.variations import variations
from .errors import JobSkipped, NotImplementedYet
from .package import zip_archive
from .report import RunReport
from .store import Store, utc_now

# Implemented engines and the modes each supports; config.ENGINES lists them all.
IMPLEMENTED: dict[str, tuple[Callable[[JobRun], None], frozenset[str]]] = {
    "master-catalog": (master_catalog, frozenset({"full", "differential"})),
    "variations": (variations, frozenset({"full", "differential"})),
    "storefront-catalog": (storefront_catalog, frozenset({"full", "differential"})),
    "images": (images, frozenset({"full", "differential"})),
    "media-assets-pricebook": (media_assets_pricebook, frozenset({"full"})),
    "attributes-metadata": (attributes_metadata, frozenset({"full"})),
    "assets": (assets, frozenset({"full", "differential"})),
    "record-grouping": (record_grouping, frozenset({"full"})),
    "catalog-refinements": (catalog_refinements, frozenset({"full"})),
    "reference-entities": (reference_entities, frozenset({"full"})),
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
    if name in config.chains:
        (out / "site-import.zip").unlink(missing_ok=True)  # never leave the archive of an earlier run
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
        except JobSkipped as skipped:  # the rest of a chain still runs
            report.status = "skipped"
            report.warnings.append(str(skipped))
        except BaseException:
            report.status = "failed"
            raise
        finally:
            report.timings["total"] = perf_counter() - started
            report.finished = utc_now()
            report.write(out / "reports" / f"{job.id}.json")
    if name in config.chains and (out / "site-import").is_dir():
        zip_archive(out / "site-import", out / "site-import.zip")  # one archive per chain run
    return reports

