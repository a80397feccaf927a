"""`assetgen lint [PATHS] [--format text|json|github]`: check recipes without calling any API.

Exit 0 when there are no errors (warnings allowed), 1 when there are, 2 for usage errors
(raised as UserError and mapped by the CLI). Files are named relative to the current folder
(`--format github`: to the git root); run in a folder that belongs to no project, it lints every
project below it (a monorepo root, as the pre-commit hook runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from assetgen.errors import Diagnostic, ExitCode, Severity
from assetgen.lint import where
from assetgen.lint.incremental import lint_project


def main(args: argparse.Namespace) -> int:
    cwd = Path.cwd().resolve()
    base = (where.git_root(cwd) or cwd) if args.format == "github" else cwd
    roots = [] if args.paths else where.projects_below(cwd)   # a monorepo root: every project below
    diagnostics: list[Diagnostic] = []
    for paths in ([[str(r)] for r in roots] or [args.paths]):
        root, found = lint_project(paths, cwd)
        diagnostics += where.rebased(found, root, base)
    sys.stdout.write(render(diagnostics, args.format))
    failed = any(d.severity is Severity.ERROR for d in diagnostics)
    return ExitCode.FAILED if failed else ExitCode.OK


def render(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([_as_dict(d) for d in diagnostics], indent=2) + "\n"
    if fmt == "github":
        return "".join(_github(d) + "\n" for d in diagnostics)
    return "".join(f"{d}\n" for d in diagnostics)


def _as_dict(d: Diagnostic) -> dict[str, object]:
    loc = d.location
    return {"file": loc.file, "line": loc.line, "col": loc.col, "severity": d.severity.value,
            "message": d.message}


def _github(d: Diagnostic) -> str:
    """A GitHub Actions workflow command: `::error file=F,line=L,col=C::MESSAGE`."""
    loc = d.location
    props = f"file={_escape(loc.file, True)},line={loc.line},col={loc.col}"
    return f"::{d.severity.value} {props}::{_escape(d.message, False)}"


def _escape(text: str, prop: bool) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text
