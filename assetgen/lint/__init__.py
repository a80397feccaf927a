"""Every check that can run without calling an API, each a function returning diagnostics."""

from __future__ import annotations

from assetgen.lint.run import check_project, lint, lint_project, load_checked

__all__ = ["check_project", "lint", "lint_project", "load_checked"]
