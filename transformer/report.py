"""The run report: what a job read and wrote, every bad record, and where the time went."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .package import write_atomic
from .store import utc_now


@dataclass
class RunReport:
    job: str
    title: str
    mode: str
    run: str = ""  # the id of the run the job was part of
    engine: str = ""
    delta_from: int | None = None  # the store version a differential run wrote the changes after (None: all)
    started: str = field(default_factory=utc_now)
    finished: str | None = None
    status: str = "running"
    reason: str | None = None  # why the job failed or was interrupted
    counts: Counter = field(default_factory=Counter)
    errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What the mapping names that the PIM lacks (file:line: ...): skipped, and a problem under --strict.
    mapping_warnings: list[str] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    pull: dict | None = None  # what was read from the PIM before the job ran

    def as_dict(self) -> dict:
        return {
            "run": self.run, "job": self.job, "title": self.title, "engine": self.engine, "mode": self.mode,
            "delta_from": self.delta_from, "status": self.status,
            **({"reason": self.reason} if self.reason else {}),
            "started": self.started, "finished": self.finished,
            "counts": dict(sorted(self.counts.items())),
            **({"pull": self.pull} if self.pull is not None else {}),
            "errors": self.errors,
            "warnings": self.warnings,
            "mapping_warnings": self.mapping_warnings,
            "outputs": self.outputs,
            "timings_seconds": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
        }

    def write(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")


class Progress:
    """A one-line progress display on a terminal; off a terminal (CI logs), a plain line every
    `heartbeat` seconds, so a long job shows it is alive."""

    def __init__(self, label: str, total: int, stream=sys.stderr, heartbeat: float = 30.0):
        self.label, self.total, self.stream, self.heartbeat = label, total, stream, heartbeat
        self.enabled = stream.isatty()
        self.started = self.shown = time.monotonic()
        self.done = 0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.shown < (0.2 if self.enabled else self.heartbeat):
            return
        self.shown = now
        rate = self.done / max(now - self.started, 1e-9)
        left = f", {(self.total - self.done) / rate:.0f} s left" if rate and self.total > self.done else ""
        line = f"{self.label}: {self.done}/{self.total} records ({rate:,.0f}/s{left})"
        self.stream.write(f"\r{line}" if self.enabled else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
