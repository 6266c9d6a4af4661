"""One run of one job, as an engine sees it: the store to read, the watermark a differential run
starts from, and the one write path (render, stream, validate, write atomically, report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from time import perf_counter
from typing import Iterable, Iterator

from markupsafe import Markup

from ..errors import Location, RecordError, TransformerError
from ..package import write_validated
from ..render import RecordRenderer, environment, render_document
from ..report import RunReport
from ..settings import Config, Job, Output
from ..store import Store


def record_renderer(config: Config, output: Output) -> RecordRenderer:
    """What renders the records of `output` (also in worker processes, which have no JobRun)."""
    return RecordRenderer(environment(config.templates), output.record_templates, site=config.site)


def differential_start(store: Store, job: Job) -> str | None:
    """The watermark a differential run of `job` starts from: the start of its last successful run
    (None for a full run, or before any success)."""
    return store.last_success(job.id) if job.mode == "differential" else None


@dataclass
class JobRun:
    """Everything an engine needs for one run of one job."""

    config: Config
    job: Job
    store: Store
    archive: Path  # root of the site-import archive layout
    report: RunReport
    workers: int = 1
    _renderers: dict[str, RecordRenderer] = field(default_factory=dict, repr=False)

    # -- what to read ----------------------------------------------------------------------

    @cached_property
    def previous_success(self) -> str | None:
        """Start (UTC ISO 8601) of this job's last successful run, whatever its mode: what was
        deleted in the PIM since then is written, in full runs too."""
        return self.store.last_success(self.job.id)

    @cached_property
    def since(self) -> str | None:
        """The watermark a differential run starts from; None in a full run (or before any success)."""
        return differential_start(self.store, self.job)

    # -- what to write ---------------------------------------------------------------------

    def write(self, output: str, records: Iterable[object] = (), **context) -> None:
        """Render the document of `output` around `records` (view models, or XML fragments already
        rendered by workers), streaming it to its file while the XSD validator reads the same
        bytes; the file appears only when whole and valid, and the report lists it."""
        spec = self._output(output)
        path = self.archive / spec.path
        if not path.resolve().is_relative_to(self.archive.resolve()):
            raise TransformerError(f"output {spec.path} would be written outside {self.archive}")
        document = render_document(environment(self.config.templates), spec.template, self.records(output, records),
                                   site=self.config.site, **context)
        size = write_validated(path, document, self.report.timings)
        self.report.outputs.append({"output": output, "path": path.relative_to(self.archive).as_posix(), "bytes": size,
                                    "xsd_valid": True})

    def records(self, output: str, views: Iterable[object]) -> Iterator[Markup]:
        """`views` rendered lazily with the record templates of `output` (for documents that nest
        record streams, such as pricebooks); fragments already rendered pass through."""
        if output not in self._renderers:
            self._renderers[output] = record_renderer(self.config, self._output(output))
        render = self._renderers[output]
        for view in views:
            yield view if isinstance(view, Markup) else render(view)

    # -- what to report --------------------------------------------------------------------

    def record_error(self, record: str, field: str, message: str, origin: Location | None = None) -> None:
        """A bad record (or field), left out of the output: one entry in the report."""
        self.report.errors.append(RecordError(record, field, message, origin).as_dict())

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)

    def time(self, stage: str, started: float) -> None:
        self.report.timings[stage] = self.report.timings.get(stage, 0.0) + perf_counter() - started

    # -------------------------------------------------------------------------------------

    def _output(self, name: str):
        if name not in self.job.engine.outputs:
            raise TransformerError(f"engine '{self.job.engine.name}' has no output '{name}' (the engine table lists "
                                   f"{', '.join(self.job.engine.outputs) or 'none'})")
        return self.job.outputs[name]
