"""The pipeline: runs jobs, in order, through the engine each names.

Each engine (`transformer/engines/`, listed in `engines.ENGINES`) knows the order of the stages
for its kind of output: store -> map -> render -> validate -> package, record by record.
`run_jobs` runs the jobs of a name in order, pulls each one's sources first when asked to, and
moves a job's watermark only when the job succeeded.
"""

from __future__ import annotations

import os
from pathlib import Path
from time import perf_counter
from typing import Callable

from .engines.run import JobRun
from .errors import JobSkipped
from .package import zip_archive
from .report import RunReport
from .settings import Config, Job
from .store import Store, utc_now

# Reads a job's sources into the store before it runs: (job, store, the watermark of a
# differential run or None, archive root) -> what was read, for the report.
Prepare = Callable[[Job, Store, "str | None", Path], dict]


def run_jobs(config: Config, name: str, store: Store, out: Path, workers: int | None = None,
             prepare: Prepare | None = None) -> list[RunReport]:
    """Run a job, alias or chain on `workers` processes (default: one per core), each job
    after `prepare` (a pull from the PIM) when given; reports go to out/reports/<job>.json."""
    workers = workers or os.cpu_count() or 1
    job_ids = config.resolve(name)
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
                run = JobRun(config, job, store, out / "site-import", report, workers)
                if prepare is not None:
                    pulled = perf_counter()
                    report.pull = prepare(job, store, run.since, run.archive)
                    report.timings["pull"] = perf_counter() - pulled
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
    if name in config.chains and (out / "site-import").is_dir():
        zip_archive(out / "site-import", out / "site-import.zip")  # one archive per chain run
    return reports
