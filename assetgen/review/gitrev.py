"""Read files of a project as they are at a git revision (the lock file, output images)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from assetgen.errors import UserError


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise UserError("diff needs git, which is not installed") from None


class Revision:
    """The project at `rev`: `read(path)` gives a project-relative file's bytes there, or None."""

    def __init__(self, root: Path, rev: str) -> None:
        if rev.startswith("-"):
            raise UserError(f"'{rev}' is not a git revision")
        top = _git(root, "rev-parse", "--show-prefix")
        if top.returncode != 0:
            raise UserError(f"{root} is not in a git repository: diff compares with a git revision")
        self.prefix = top.stdout.decode("utf-8").strip()
        found = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        if found.returncode != 0:
            raise UserError(f"unknown git revision '{rev}'")
        self.root = root
        self.rev = rev
        self.commit = found.stdout.decode("ascii").strip()

    def read(self, path: str) -> bytes | None:
        shown = _git(self.root, "cat-file", "blob", f"{self.commit}:{self.prefix}{path}")
        return shown.stdout if shown.returncode == 0 else None
