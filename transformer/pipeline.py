"""The pipeline: runs jobs, in order, through the engine each names.

Each engine (`transformer/engines/`, listed in `engines.ENGINES`) knows the order of the stages
for its kind of output: store -> map -> render -> validate -> package, record by record.
`run_jobs` runs the jobs of a name in order as one run, pulls each one's sources first when
asked to, and commits what every job wrote only once all of them succeeded and the archive is
complete: a failure or a kill anywhere leaves every output's state where it was, so the next
run writes the same delta again.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Callable

from .engines.run import JobRun
from .errors import JobSkipped
from .package import zip_archive
from .report import RunReport
from .settings import Config, Job
from .store import Store, utc_now

# Reads a job's sources into the store before it runs: (job, store, archive root) -> what was
# read, for the report.
Prepare = Callable[[Job, Store, Path], dict]


def new_run_id() -> str:
    """A run's id: when it started (UTC) and a random suffix, ASCII and sortable."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def run_jobs(config: Config, name: str, store: Store, out: Path, workers: int | None = None,
             prepare: Prepare | None = None) -> list[RunReport]:
    """Run a job, alias or chain on `workers` processes (default: one per core), each job
    after `prepare` (a pull from the PIM) when given; reports go to out/reports/<job>.json."""
    workers = workers or os.cpu_count() or 1
    job_ids = config.resolve(name)
    run_id = new_run_id()
    if name in config.chains:
        (out / "site-import.zip").unlink(missing_ok=True)  # never leave the archive of an earlier run
    store.begin_run(run_id, name)
    reports = []
    try:
        for job_id in job_ids:
            reports.append(_run_job(config, config.jobs[job_id], store, out, workers, prepare, run_id))
        if name in config.chains and (out / "site-import").is_dir():
            zip_archive(out / "site-import", out / "site-import.zip")  # one archive per chain run
        store.commit_run(run_id)
    except BaseException:
        store.fail_run(run_id)
        raise
    return reports


def _run_job(config: Config, job: Job, store: Store, out: Path, workers: int, prepare: Prepare | None,
             run_id: str) -> RunReport:
    report = RunReport(job.id, job.title, job.mode, run=run_id)
    started = perf_counter()
    try:
        run = JobRun(config, job, store, out / "site-import", report, workers, run_id)
        if prepare is not None:
            pulled = perf_counter()
            report.pull = prepare(job, store, run.archive)
            report.timings["pull"] = perf_counter() - pulled
        run.version = store.version()  # what the pull brought is in; what comes later is the next run's
        job.engine.run(run)
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
    return report
