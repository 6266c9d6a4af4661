"""The run report: what a job read and wrote, every bad record, and where the time went."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
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
    version: int | None = None  # the store version the job read up to: its outputs' watermark once committed
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
            "delta_from": self.delta_from, "version": self.version, "status": self.status,
            **({"reason": self.reason} if self.reason else {}),
            "started": self.started, "finished": self.finished,
            "counts": dict(sorted(self.counts.items())),
            **({"pull": self.pull} if self.pull is not None else {}),
            "error_groups": self.error_groups(),
            "errors": self.errors,
            "warnings": self.warnings,
            "mapping_warnings": self.mapping_warnings,
            "outputs": self.outputs,
            "timings_seconds": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
        }

    def error_groups(self, examples: int = 5) -> list[dict]:
        """The record errors by (field, message, action), most frequent first: 5,000 identical errors
        are one line to read, with a few of the records and the mapping line that produced them."""
        groups: dict[tuple, dict] = {}
        for error in self.errors:
            key = (error.get("field"), error.get("message"), error.get("action"))
            group = groups.setdefault(key, {
                "field": key[0], "message": key[1], "action": key[2], "count": 0, "examples": [],
                **({"mapping": error["mapping"]} if error.get("mapping") else {})})
            group["count"] += 1
            if len(group["examples"]) < examples:
                group["examples"].append(error.get("id"))
        return sorted(groups.values(), key=lambda g: (-g["count"], str(g["field"]), str(g["message"])))

    def write(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")


@dataclass
class RunSummary:
    """`run.json`: one invocation, whatever happened: what ran, with what, and how each job ended."""

    run: str
    name: str
    context: dict  # command line, config folder, store, PIM host: what the CLI knows
    reports: list[RunReport]
    started: str = field(default_factory=utc_now)
    status: str = "running"
    reason: str | None = None
    archive: str | None = None

    def as_dict(self) -> dict:
        return {"run": self.run, "name": self.name, "tool_version": __version__, **self.context,
                "started": self.started, "finished": utc_now(), "status": self.status,
                **({"reason": self.reason} if self.reason else {}), "archive": self.archive,
                "jobs": [{"job": r.job, "status": r.status, **({"reason": r.reason} if r.reason else {}),
                          "watermark_used": r.delta_from, "watermark_set": r.version, "counts": dict(sorted(r.counts.items())),
                          "record_errors": len(r.errors), "warnings": len(r.warnings) + len(r.mapping_warnings),
                          "outputs": [o["path"] for o in r.outputs], "seconds": round(r.timings.get("total", 0.0), 3),
                          "report": f"reports/{r.job}.json"} for r in self.reports]}

    def write(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")


class Progress:
    """A one-line progress display on a terminal; off a terminal (CI logs), a plain line every
    `heartbeat` seconds, so a long task shows it is alive. `total` may be unknown (None: no time
    left is shown) or an estimate (`estimated`: shown as `~N`); `advance(n, part)` also tallies
    `part` (an endpoint, a file), shown beside the total."""

    silent = False  # --quiet: only warnings and errors

    def __init__(self, label: str, total: int | None = None, stream=None, heartbeat: float = 30.0,
                 unit: str = "records", estimated: bool = False):
        stream = stream or sys.stderr  # the one of now, not of when this module was imported
        self.label, self.total, self.stream, self.heartbeat = label, total, stream, heartbeat
        self.unit, self.estimated = unit, estimated
        self.enabled = stream.isatty()
        self.started = self.shown = time.monotonic()
        self.done = 0
        self.parts: Counter = Counter()
        self.written = False  # a line is on the terminal, to clear at the end

    def advance(self, count: int = 1, part: str | None = None) -> None:
        self.done += count
        if part is not None:
            self.parts[part] += count
        now = time.monotonic()
        if self.silent or now - self.shown < (0.2 if self.enabled else self.heartbeat):
            return
        self.shown = now
        line = self.line(now)
        if self.enabled:  # a line wider than the terminal would wrap, and \r rewrite only its end
            line = line[:shutil.get_terminal_size().columns - 1]
        self.stream.write(f"\r{line}\033[K" if self.enabled else f"{line}\n")
        self.stream.flush()
        self.written = self.enabled

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.started, 1e-9)
        total = f"/{'~' if self.estimated else ''}{self.total:,}" if self.total else ""
        largest = sorted(self.parts.most_common(3), key=lambda part: list(self.parts).index(part[0]))
        parts = f" [{', '.join(f'{part} {n:,}' for part, n in largest)}]" if len(self.parts) > 1 else ""
        left = f", {(self.total - self.done) / rate:.0f} s left" if rate and self.total and self.total > self.done else ""
        return f"{self.label}: {self.done:,}{total} {self.unit}{parts} ({rate:,.0f}/s{left})"

    def close(self) -> None:
        if self.written:
            self.written = False
            self.stream.write("\r\033[K")
            self.stream.flush()
