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
import shutil
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Callable

from .engines.run import JobRun
from .errors import JobSkipped
from .html_report import write_html
from .package import point_latest, zip_archive
from .report import RunReport, RunSummary
from .settings import Config, Job
from .store import Store, utc_now

# Reads a job's sources into the store before it runs: (job, store) -> what was read, for the report.
Prepare = Callable[[Job, Store], dict]


def new_run_id() -> str:
    """A run's id: when it started (UTC) and a random suffix, ASCII and sortable."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def run_jobs(config: Config, name: str, store: Store, out: Path, workers: int | None = None,
             prepare: Prepare | None = None, commit: bool = True,
             progress: Callable[[int, int, str, RunReport | None], None] = lambda *_: None,
             context: dict | None = None, jobs: tuple[str, ...] | None = None,
             full_refresh: bool = False) -> list[RunReport]:
    """Run a job, alias or chain as one run on `workers` processes (default: one per core), each job
    after `prepare` (a pull from the PIM) when given. The run builds into its own folder
    `out/<run id>/`: `site-import/` with only what it wrote, `reports/<job>.json`, and the archive
    `<run id>.zip`; `out/latest` then names that folder. Its state is committed once the archive is
    complete, or (`commit=False`: it is to be delivered first) left staged for `Store.commit_run`.
    `progress(number, of, job id, report)` is told as each job starts (report None) and ends.
    `run.json` in the folder says what the run was (`context`: the command line, config, store, PIM)
    and how it ended, whatever happened; `report.html` shows it in a browser. `jobs`: the job ids to
    run, when the CLI chose them (several names, --select, --exclude); `full_refresh`: differential
    jobs write everything."""
    workers = workers or os.cpu_count() or 1
    job_ids = jobs or config.resolve(name)
    run_id = new_run_id()
    folder = out / run_id
    folder.mkdir(parents=True)
    for stale in store.begin_run(run_id, name):  # killed: its files are debris
        sweep_killed(out / stale)
    for debris in out.glob(".latest.*.tmp"):
        debris.unlink(missing_ok=True)
    reports: list[RunReport] = []
    summary = RunSummary(run_id, name, dict(context or {}), reports)
    try:
        for number, job_id in enumerate(job_ids, 1):
            progress(number, len(job_ids), job_id, None)
            _run_job(config, config.jobs[job_id], store, folder, workers, prepare, run_id, reports, full_refresh)
            progress(number, len(job_ids), job_id, reports[-1])
        if (folder / "site-import").is_dir():
            zip_archive(folder / "site-import", folder / f"{run_id}.zip")
            summary.archive = f"{run_id}.zip"
        (store.commit_run if commit else store.build_run)(run_id)
        summary.status = "succeeded" if commit else "built"
    except BaseException as exc:
        summary.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        summary.reason = str(exc) or type(exc).__name__
        try:
            store.fail_run(run_id, summary.status)
        except sqlite3.Error:  # the next run finds it `running`, sweeps it and marks it interrupted
            pass
        if summary.status == "interrupted":  # as if killed: what it wrote is never to be delivered
            sweep_killed(folder)
            summary.archive = None
        raise
    finally:
        summary.write(folder / "run.json")
        try:  # the page is for reading; run.json is the record: a failure here never hides the run's own
            write_html(summary, folder / "report.html")
        except Exception as exc:  # noqa: BLE001 - said, and the run ends as it would have
            sys.stderr.write(f"warning: {folder / 'report.html'} not written: {str(exc) or type(exc).__name__}\n")
        point_latest(out, folder)
    return reports


def sweep_killed(folder: Path) -> None:
    """The folder of a run that was stopped (a signal) or whose process died: its half-written files
    go, and so do the outputs and the archive it wrote (its state was never committed: they must not
    be delivered); its reports stay, to say how far it came."""
    for debris in folder.rglob(".*.tmp"):
        debris.unlink(missing_ok=True)
    shutil.rmtree(folder / "site-import", ignore_errors=True)
    (folder / f"{folder.name}.zip").unlink(missing_ok=True)


def _run_job(config: Config, job: Job, store: Store, folder: Path, workers: int, prepare: Prepare | None,
             run_id: str, reports: list[RunReport], full_refresh: bool = False) -> None:
    report = RunReport(job.id, job.title, job.mode, run=run_id, engine=job.engine.name)
    reports.append(report)
    started = perf_counter()
    try:
        run = JobRun(config, job, store, folder / "site-import", report, workers, run_id, full_refresh=full_refresh)
        if prepare is not None:
            pulled = perf_counter()
            report.pull = prepare(job, store)
            report.timings["pull"] = perf_counter() - pulled
        run.version = report.version = store.version()  # what the pull brought is in; what comes later is the next run's
        report.delta_from = run.since
        job.engine.run(run)
        if any(source.download for source in job.sources):
            run.write_binaries()
        failed_downloads = (report.pull or {}).get("download_errors")
        report.status = "succeeded_with_errors" if report.errors or failed_downloads else "succeeded"
    except JobSkipped as skipped:  # the rest of a chain still runs
        report.status = "skipped"
        report.warnings.append(str(skipped))
    except BaseException as exc:
        report.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        report.reason = str(exc) or type(exc).__name__
        raise
    finally:
        report.timings["total"] = perf_counter() - started
        report.finished = utc_now()
        report.write(folder / "reports" / f"{job.id}.json")
