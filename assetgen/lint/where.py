"""Where diagnostics are shown from: paths relative to the current folder (or the git root, for
GitHub annotations), and the projects below a folder that has none of its own (a monorepo root).

A diagnostic's file is relative to its project root inside assetgen; a person or a CI annotation
needs it relative to where the command ran, so `assetgen lint game/` names `game/recipes/a.yaml`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

from assetgen.errors import Diagnostic

PROJECT_FILE = "assetgen.yaml"     # as `assetgen.project` names it (not imported: it pulls in JSON Schema)
_SKIP = frozenset({"node_modules", "venv", "__pycache__", "site-packages"})
MAX_DEPTH = 8


def rebased(diagnostics: Iterable[Diagnostic], root: Path, base: Path) -> list[Diagnostic]:
    """Each diagnostic with its file relative to `base` instead of the project `root` (absolute
    when the project is not below `base`, as a path given on the command line would be)."""
    root, base = root.resolve(), base.resolve()
    if root == base:
        return list(diagnostics)
    out = []
    for d in diagnostics:
        full = root / d.location.file
        shown = full.relative_to(base).as_posix() if full.is_relative_to(base) else full.as_posix()
        out.append(dataclasses.replace(d, location=dataclasses.replace(d.location, file=shown)))
    return out


def git_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `.git` (a folder, or a file in a worktree)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def projects_below(folder: Path) -> list[Path]:
    """The project roots (folders with assetgen.yaml) below `folder`, when `folder` belongs to no
    project itself: what `assetgen lint` from a monorepo root checks. Hidden folders and virtual
    environments are skipped."""
    if any((f / PROJECT_FILE).is_file() for f in (folder, *folder.parents)):
        return []
    found = []
    for here, dirs, files in os.walk(folder):
        depth = len(Path(here).relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP and depth < MAX_DEPTH)
        if PROJECT_FILE in files and Path(here) != folder:
            found.append(Path(here))
            dirs[:] = []    # a project's own folders are its own
    return found
