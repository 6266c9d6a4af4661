"""One error hierarchy: the CLI prints `str(error)` and exits non-zero."""

from __future__ import annotations

from dataclasses import dataclass


class TransformerError(Exception):
    """Base of every error the CLI reports as one clear line."""


@dataclass(frozen=True)
class ConfigProblem:
    """One located problem in a config file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"


class ConfigError(TransformerError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotImplementedYet(TransformerError):
    """A declared job whose engine support has not been built yet."""


class InvalidOutput(TransformerError):
    """A written file does not validate against its SFCC XSD."""


class StoreError(TransformerError):
    """The store is missing, empty or unreadable."""


class SourceError(TransformerError):
    """Input data (a snapshot or the PIM) could not be read."""


class JobSkipped(TransformerError):
    """The PIM lacks what the job needs (an Enterprise Edition feature): the job is skipped."""
