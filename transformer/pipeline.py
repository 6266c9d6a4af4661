"""The pipeline: the one module that knows the order of the stages.

store -> map -> render -> validate -> package, record by record. Each engine turns one
kind of job into that flow; `run` checks that every job asked for can run before any
starts, runs them in order, and moves a job's watermark only when the job succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from time import perf_counter
from typing import Callable, Iterator

from markupsafe import Markup

from .config import Config, Job
from .errors import NotImplementedYet
from .mapping import ProductMapper
from .package import write_validated
from .render import RecordRenderer, environment, render_document
from .report import Progress, RunReport
from .rules import Attribute
from .store import Store, utc_now


@dataclass
class JobRun:
    """Everything an engine needs for one run of one job."""

    config: Config
    job: Job
    store: Store
    archive: Path  # root of the site-import archive layout
    report: RunReport

    def output_path(self, relative: str) -> Path:
        site = self.config.site
        return self.archive / relative.format(master_catalog=site.master_catalog, storefront_catalog=site.storefront_catalog,
                                              library=site.library or "", site=site.site or "")

    def time(self, stage: str, started: float) -> None:
        self.report.timings[stage] = self.report.timings.get(stage, 0.0) + perf_counter() - started


def attributes_from(store: Store) -> dict[str, Attribute]:
    return {a["code"]: Attribute(a["code"], a.get("type", ""), bool(a.get("localizable")), bool(a.get("scopable")),
                                 a.get("reference_data_name"))
            for a in store.iter("attributes")}


def option_labels_from(store: Store) -> Callable[[str, str], dict[str, str]]:
    """Option labels by (attribute, option code); structure data, small next to the catalog."""
    labels = {(o.get("attribute"), o["code"]): o.get("labels") or {} for o in store.iter("attribute-options")}
    return lambda attribute, code: labels.get((attribute, code), {})


def master_catalog(run: JobRun) -> None:
    """Products and product models as SFCC master catalog products."""
    store, report, site = run.store, run.report, run.config.site
    started = perf_counter()
    mapper = ProductMapper(run.job.mappings["products"], site, attributes_from(store), option_labels_from(store))
    env = environment(run.config.templates)
    run.time("setup", started)
    output = run.job.outputs[0]
    render_record = RecordRenderer(env, output.record_template, site=site)
    progress = Progress(run.job.id, store.count("product-models") + store.count("products"))

    def records() -> Iterator[Markup]:
        items = chain(((m, True) for m in store.iter("product-models")), ((p, False) for p in store.iter("products")))
        while True:
            started = perf_counter()
            item = next(items, None)
            run.time("read", started)
            if item is None:
                return
            started = perf_counter()
            view, errors = mapper.map(*item)
            run.time("map", started)
            report.errors += [e.as_dict() for e in errors]
            progress.advance()
            if view is None:
                report.counts["skipped"] += 1
                continue
            report.counts["product_models" if view.is_model else "products"] += 1
            started = perf_counter()
            fragment = render_record(view)
            run.time("render", started)
            yield fragment

    path = run.output_path(output.path)
    try:
        size = write_validated(path, render_document(env, output.template, records(), site=site), report.timings)
    finally:
        progress.close()
    report.outputs.append({"path": str(path.relative_to(run.archive)), "bytes": size, "xsd_valid": True})


# Implemented engines and the modes each supports; config.ENGINES lists them all.
ENGINES: dict[str, tuple[Callable[[JobRun], None], frozenset[str]]] = {
    "master-catalog": (master_catalog, frozenset({"full"})),
}


def implemented(job: Job) -> bool:
    return job.engine in ENGINES and job.mode in ENGINES[job.engine][1]


def check_runnable(config: Config, job_ids: tuple[str, ...]) -> None:
    """Refuse, before anything runs, jobs whose engine (or mode) is not built yet."""
    missing = [config.jobs[j] for j in job_ids if not implemented(config.jobs[j])]
    if missing:
        names = ", ".join(f"{job.id} ({job.alias})" if job.alias else job.id for job in missing)
        raise NotImplementedYet(f"not implemented yet: {names}")


def run_jobs(config: Config, name: str, store: Store, out: Path) -> list[RunReport]:
    """Run a job, alias or chain; reports are written to out/reports/<job>.json."""
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
                ENGINES[job.engine][0](JobRun(config, job, store, out / "site-import", report))
            report.status = "succeeded_with_errors" if report.errors else "succeeded"
        except BaseException:
            report.status = "failed"
            raise
        finally:
            report.timings["total"] = perf_counter() - started
            report.finished = utc_now()
            report.write(out / "reports" / f"{job.id}.json")
    return reports
