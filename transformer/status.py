"""`akeneo-sfcc status`: what the store holds and where each output stands, read-only.

For an operator after a night of cron runs: how many items of each kind, when each source was
last read completely, what each output was last written up to and by which run, the last runs
and their ends, and the runs that were left `running` by a process that died.
"""

from __future__ import annotations

from pathlib import Path

from .store import Store, StoreLock


def status_lines(store_path: Path, runs: int = 10) -> list[str]:
    with Store(store_path, read_only=True) as store:
        lines = [f"store {store_path} (store version {store.version()})"]
        counts = store.counts()
        lines.append("  items: " + (", ".join(f"{n} {kind}" for kind, n in counts.items()) or "none: run `akeneo-sfcc pull`"))
        unfinished = store.unfinished_pulls()
        if unfinished:
            lines.append(f"  unfinished pull of {', '.join(unfinished)}: the next pull resumes it")
        lines.append("sources, last read completely:")
        lines += [f"  {started}  {source}" for source, started in store.reads()] or ["  none yet"]
        lines.append("outputs, written up to store version (by run):")
        lines += [f"  {version:>8}  {output}  ({run})" for output, version, run in store.outputs()] or ["  none yet"]
        lines.append(f"last {runs} runs:")
        recent = store.runs(runs)
        lines += [f"  {run_id}  {name:<28} {status:<11} {finished or ''}" for run_id, name, status, finished in recent] \
            or ["  none yet"]
        running = [run_id for run_id, _, status, _ in recent if status == "running"]
    if running and not StoreLock.held(store_path):
        lines.append(f"stuck: {', '.join(running)} left running by a process that died; the next run marks "
                     "them interrupted and sweeps their files")
    return lines
