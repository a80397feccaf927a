"""Run the lint checks over a loaded project."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from assetgen.errors import Diagnostic

if TYPE_CHECKING:
    from assetgen.recipe.load import LoadResult

CHECKS: tuple = ()


def check_project(result: LoadResult) -> list[Diagnostic]:
    """Diagnostics of every model check (the loader's own diagnostics are not repeated)."""
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(result))
    return out


def lint(paths: Sequence[str | Path] = (), cwd: Path | None = None) -> list[Diagnostic]:
    """Load and check: every diagnostic, each once, sorted by location."""
    from assetgen.recipe.load import dedupe, load_project

    result = load_project(paths, cwd)
    return dedupe([*result.diagnostics, *check_project(result)])
