"""One run of one job, as an engine sees it: the store to read, the watermark a differential run
starts from, and the one write path (render, stream, validate, write atomically, report)."""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from pathlib import Path
from time import perf_counter
from typing import Iterable, Iterator

from markupsafe import Markup

from .. import __version__, xsd
from ..errors import VALUE_DROPPED, InvalidOutput, Location, RecordError, TransformerError
from ..package import MARK, Validated, link_files, write_validated
from ..render import RecordRenderer, environment, render_document
from ..report import Progress, RunReport
from ..settings import Config, Job, Output
from ..store import Store


def record_renderer(config: Config, output: Output) -> RecordRenderer:
    """What renders the records of `output` (also in worker processes, which have no JobRun)."""
    return RecordRenderer(environment(config.templates), output.record_templates, site=config.site)


def records_check(config: Config, output: Output) -> xsd.RecordsCheck | None:
    """What validates records of `output` rendered apart (in worker processes): its document template
    rendered around a mark, None when it does not write its records once, in one place."""
    document = "".join(render_document(environment(config.templates), output.template, [Markup(MARK)],
                                       site=config.site))
    parts = document.split(MARK)
    return xsd.RecordsCheck(parts[0].encode(), parts[1].encode()) if len(parts) == 2 else None


NOT_VALIDATED = "no SFCC XSDs were found: the files were checked to be well-formed XML, not validated against the XSDs"


@dataclass
class JobRun:
    """Everything an engine needs for one run of one job."""

    config: Config
    job: Job
    store: Store
    archive: Path  # root of the site-import archive layout
    report: RunReport
    workers: int = 1
    run_id: str = ""
    version: int = 0  # the store version this run writes everything up to (read once its pull is done)
    full_refresh: bool = False  # a differential job writes everything, as its full counterpart would
    _renderers: dict[str, RecordRenderer] = field(default_factory=dict, repr=False)
    _validated: deque[Validated] = field(default_factory=deque, repr=False)  # on their way to the writer

    # -- what to read ----------------------------------------------------------------------

    @cached_property
    def written_up_to(self) -> int | None:
        """The store version up to which the last committed runs wrote this job's outputs (None:
        none was written yet). What was deleted in the PIM since then is written, in full runs too."""
        versions = [state[0] for state in self._states.values() if state is not None]
        return min(versions) if versions else None

    @cached_property
    def since(self) -> int | None:
        """The watermark a differential run starts from: items changed after this store version are
        written. None in a full run, before any output was written, or when the configuration of an
        output changed since (then everything is written again)."""
        if self.job.mode != "differential" or self.written_up_to is None:
            return None
        if self.full_refresh:
            self.warn("--full-refresh: writing everything")
            return None
        changed = [name for name, state in self._states.items() if state and state[1] != self.fingerprint(name)]
        if changed:
            self.warn(f"the configuration of {', '.join(changed)} changed since it was last written: writing everything")
            return None
        categories = self.job.mappings.categories
        if categories and categories.products_outside_trees == "skip" and any(
                kind == "categories" for kind, _ in self.store.relinked_since(self.written_up_to)):
            self.warn("categories moved between trees since the last run: which products the site holds may have "
                      "changed, writing everything")
            return None
        return self.written_up_to

    @cached_property
    def _states(self) -> dict[str, tuple[int, str] | None]:
        return {name: self.store.output_state(output.path) for name, output in self.job.outputs.items()}

    def fingerprint(self, output: str) -> str:
        """What decides the bytes of `output` for the same PIM data, besides the code: the site, the
        job's engine and mappings, the output's declaration and every template (they include each other)."""
        templates = {p.relative_to(self.config.templates).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
                     for p in sorted(self.config.templates.rglob("*.j2"))}
        described = {"tool": __version__, "engine": self.job.engine.name, "site": self.config.site,
                     "mappings": self.job.mappings, "output": self.job.outputs[output], "templates": templates}
        return hashlib.sha1(json.dumps(described, default=_described, sort_keys=True).encode()).hexdigest()

    # -- what to write ---------------------------------------------------------------------

    @cached_property
    def progress(self) -> Progress:
        """The job's live progress: records rendered (an engine that knows how many sets `total`)."""
        return Progress(self.job.id)

    def write(self, output: str, records: Iterable[object] = (), **context) -> None:
        """Render the document of `output` around `records` (view models, or XML fragments already
        rendered by workers, or blocks validated by them), streaming it to its file while the XSD
        validator reads the same bytes; the file appears only when whole and valid, and the report lists it."""
        spec = self._output(output)
        path = self.archive / spec.path
        if not path.resolve().is_relative_to(self.archive.resolve()):
            raise TransformerError(f"output {spec.path} would be written outside {self.archive}")
        self._validated.clear()  # what a failed write left
        document = render_document(environment(self.config.templates), spec.template, self.records(output, records),
                                   site=self.config.site, **context)
        try:
            size = write_validated(path, document, self.report.timings, self._validated)
        except InvalidOutput as exc:  # which templates wrote it: where to look
            templates = ", ".join(f"templates/{t}" for t in [spec.template, *spec.record_templates.values()])
            raise InvalidOutput(f"{exc}\n  written by {templates}") from None
        finally:
            self.progress.close()
        validated = xsd.validating()
        if not validated and NOT_VALIDATED not in self.report.warnings:
            self.warn(NOT_VALIDATED)
        self.report.outputs.append({"output": output, "path": path.relative_to(self.archive).as_posix(), "bytes": size,
                                    "xsd_valid": validated})
        self.store.stage_output(self.run_id, spec.path, self.version, self.fingerprint(output))

    def records(self, output: str, views: Iterable[object]) -> Iterator[Markup]:
        """`views` rendered lazily with the record templates of `output` (for documents that nest
        record streams, such as pricebooks); fragments already rendered pass through, and blocks
        validated by workers go to the writer beside the template's output."""
        if output not in self._renderers:
            self._renderers[output] = record_renderer(self.config, self._output(output))
        render = self._renderers[output]
        for view in views:
            if isinstance(view, Markup):
                yield view
            elif isinstance(view, Validated):
                self._validated.append(view)
                yield Markup(MARK)
            else:
                self.progress.advance()
                yield render(view)

    def write_binaries(self) -> None:
        """Place the binaries the store keeps (downloaded by the pulls, copied from snapshots) in the
        master catalog's static folder: all of them in a full run, in a differential run those that
        changed since they were last written."""
        output = f"catalogs/{self.config.site.master_catalog}/static/default"
        state = self.store.output_state(output)
        paths = self.store.media_paths(state[0] if state and self.job.mode == "differential" else None)
        if link_files((self.store.media_root / path, self.archive / output / path) for path in paths):
            self.report.counts["binaries"] = len(paths)
        self.store.stage_output(self.run_id, output, self.version, "binaries")

    # -- what to report --------------------------------------------------------------------

    def record_error(self, record: str, field: str, message: str, origin: Location | None = None,
                     action: str = VALUE_DROPPED) -> None:
        """A bad value (or, `action=RECORD_SKIPPED`, a bad record), left out of the output: one entry
        in the report."""
        self.report.errors.append(RecordError(record, field, message, origin, action).as_dict())

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)

    def warn_missing(self, problems: Iterable[object]) -> None:
        """Mapping lines naming what the PIM lacks (skipped by the mapper)."""
        self.report.mapping_warnings += [str(p) for p in problems if str(p) not in self.report.mapping_warnings]

    def time(self, stage: str, started: float) -> None:
        self.report.timings[stage] = self.report.timings.get(stage, 0.0) + perf_counter() - started

    # -------------------------------------------------------------------------------------

    def _output(self, name: str):
        if name not in self.job.engine.outputs:
            raise TransformerError(f"engine '{self.job.engine.name}' has no output '{name}' (the engine table lists "
                                   f"{', '.join(self.job.engine.outputs) or 'none'})")
        return self.job.outputs[name]


def _described(value: object) -> object:
    """Settings as plain data for a fingerprint: where a setting was written does not count."""
    if is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in fields(value) if not isinstance(getattr(value, f.name), Location)}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value.__qualname__ if callable(value) else str(value)
