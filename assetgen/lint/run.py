"""Run the lint checks over a loaded project."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from assetgen.errors import Diagnostic, Severity, UserError
from assetgen.lint import where
from assetgen.lint.files import check_files
from assetgen.lint.graph import check_cycles, check_duplicates, check_pick, check_unused
from assetgen.lint.models import check_models
from assetgen.lint.outputs import check_output_targets, check_outputs
from assetgen.recipe.load import Loaded, LoadResult, dedupe, load_project
from assetgen.recipe.model import Project

CHECKS: tuple[Callable[[Project], list[Diagnostic]], ...] = (
    check_models, check_files, check_duplicates, check_pick, check_cycles, check_unused, check_outputs,
    check_output_targets,
)


def check_project(result: LoadResult) -> list[Diagnostic]:
    """Diagnostics of every model check (the loader's own diagnostics are not repeated)."""
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(result.project))
    return out


def lint(paths: Sequence[str | Path] = (), cwd: Path | None = None) -> list[Diagnostic]:
    """Load and check: every diagnostic, each once, sorted by location (files relative to the
    project root)."""
    return lint_project(paths, cwd)[1]


def lint_project(paths: Sequence[str | Path] = (), cwd: Path | None = None) -> tuple[Path, list[Diagnostic]]:
    """The project root, and every diagnostic of `lint`."""
    result = load_project(paths, cwd)
    return result.project.root, dedupe([*result.diagnostics, *check_project(result)])


def load_checked(paths: Sequence[str | Path] = (), cwd: Path | None = None, *,
                 remember: bool = True, loaded: Loaded | None = None) -> Project:
    """The project, or UserError (exit 2) listing every error found by loading and by lint checks,
    their files relative to `cwd`. `remember`: keep the recipe cache up to date; `loaded`: files
    loaded already (see `load_project`)."""
    result = load_project(paths, cwd, remember=remember, loaded=loaded)
    diags = dedupe([*result.diagnostics, *check_project(result)])
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors:
        raise UserError(where.rebased(errors, result.project.root, (cwd or Path.cwd()).resolve()))
    return result.project
