"""Diagnostics and the one user-error base class.

A `UserError` is a mistake in input (recipes, configuration, command line): it carries
diagnostics with source locations and maps to exit code 2. Any other exception is a bug
and maps to exit code 3.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130
    PIPE_CLOSED = 141           # what a shell reports for a command killed by SIGPIPE


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A place in a source file; `line` and `col` are 1-based."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    location: Location
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity.value}: {self.message}"

    @classmethod
    def error(cls, location: Location, message: str) -> Diagnostic:
        return cls(location, Severity.ERROR, message)

    @classmethod
    def warning(cls, location: Location, message: str) -> Diagnostic:
        return cls(location, Severity.WARNING, message)


class UserError(Exception):
    """Bad input. Exit code 2; nothing was run."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str) -> None:
        if isinstance(diagnostics, str):
            self.diagnostics: list[Diagnostic] = []
            text = diagnostics
        else:
            self.diagnostics = [diagnostics] if isinstance(diagnostics, Diagnostic) else list(diagnostics)
            text = "\n".join(str(d) for d in self.diagnostics)
        super().__init__(text)
