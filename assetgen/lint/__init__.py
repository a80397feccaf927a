"""Every check that can run without calling an API, each a function returning diagnostics.

The checks are imported when first used: `lint.incremental` answers an unchanged project without
them (nor YAML, JSON Schema or Pillow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetgen.lint.run import check_project, lint, lint_project, load_checked

__all__ = ["check_project", "lint", "lint_project", "load_checked"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from assetgen.lint import run

        return getattr(run, name)
    raise AttributeError(f"module 'assetgen.lint' has no attribute {name!r}")
