"""A project of a few one-asset recipe files on the local provider, built in process with `--json`:
what the tests of the state a build after a small change reads and writes start from."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assetgen.cli import main


def recipe(name: str, prompt: str) -> str:
    return f"version: 1\nassets:\n  {name}:\n    prompt: \"{prompt}\"\n    output: out/{name}.png\n"


def make(root: Path, names: Iterable[str]) -> Path:
    """The project at `root`, one recipe file per name, built once."""
    names = list(names)
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text("version: 1\nprovider: local\n"
                                        "defaults: {model: gpt-image-2, size: 16x16}\n")
    for name in names:
        (root / "recipes" / f"{name}.yaml").write_text(recipe(name, f"Asset {name}"))
    assert build(root)["outputs_written"] == len(names)
    return root


def build(root: Path) -> dict[str, Any]:
    """`assetgen build --json` in `root`: its summary (the build must succeed)."""
    cwd = Path.cwd()
    os.chdir(root)
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["build", "--json"]) == 0
        return json.loads(out.getvalue())
    finally:
        os.chdir(cwd)
