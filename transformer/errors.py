"""One error hierarchy: the CLI prints `str(error)` and exits non-zero; and where a config fact was written."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where something was written in a config file: errors found at run time point back to it."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# What the run did about a record error, as its report entry says.
VALUE_DROPPED = "value dropped"  # the record was written without this value
RECORD_SKIPPED = "record skipped"  # the record was not written


@dataclass(frozen=True)
class RecordError:
    """A problem with one record, reported in the run report; the value (or the whole record,
    as `action` says) is left out and the run goes on."""

    record: str
    field: str
    message: str
    origin: Location | None = None  # the mapping line that produced the value
    action: str = VALUE_DROPPED

    def as_dict(self) -> dict:
        entry = {"id": self.record, "field": self.field, "message": self.message, "action": self.action}
        return entry | ({"mapping": str(self.origin)} if self.origin else {})


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret (longest first, so that none hides inside another) replaced by ***."""
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class TransformerError(Exception):
    """Base of every error the CLI reports as one clear line. `retryable`: the other side did not
    answer well enough (network, 5xx after retries, a lock held); trying later may work (exit 75)."""

    def __init__(self, *args, retryable: bool = False):
        super().__init__(*args)
        self.retryable = retryable


@dataclass(frozen=True)
class ConfigProblem:
    """One located problem in a config file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    @classmethod
    def at(cls, location: Location, path: str, message: str) -> "ConfigProblem":
        return cls(location.file, location.line, location.column, path, message)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"


class ConfigError(TransformerError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InvalidOutput(TransformerError):
    """A written file does not validate against its SFCC XSD."""


class StoreError(TransformerError):
    """The store is missing, empty or unreadable."""


class SourceError(TransformerError):
    """Input data (a snapshot or the PIM) could not be read; `status`: the PIM's HTTP answer, if any."""

    def __init__(self, *args, retryable: bool = False, status: int | None = None):
        super().__init__(*args, retryable=retryable)
        self.status = status


class JobSkipped(TransformerError):
    """The PIM lacks what the job needs (an Enterprise Edition feature): the job is skipped."""


def hint(name: str, candidates) -> str:
    """` (did you mean 'x'?)` for a near miss, else ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI cancel, Kubernetes): the command stops as for Ctrl-C, and exits 143."""
