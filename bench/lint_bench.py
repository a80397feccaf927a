"""Benchmark: lint a 10,000-variant recipe, in-process and as a subprocess.

    .venv/bin/python bench/lint_bench.py [--variants N]

Prints wall-clock figures; asserts nothing (target: under 2 s on a 2-core machine).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """\
version: 1
defaults:
  model: gpt-image-1.5
  size: 1024x1024
  quality: low
  background: transparent
vars:
  style: "flat vector icon, {{{{ 'bold' }}}} outline"
assets:
  icon:
    matrix:
      kind: [{kinds}]
      colour: [{colours}]
    name: "icon-{{{{ kind }}}}-{{{{ colour }}}}"
    prompt: "A {{{{ colour }}}} {{{{ kind }}}}, {{{{ style }}}}"
    outputs:
      - path: "out/{{{{ name }}}}.png"
      - path: "out/small/{{{{ name }}}}.webp"
        quality: 80
        resize: 128x128
"""


def write_project(root: Path, variants: int) -> None:
    side = int(variants ** 0.5)
    kinds = ", ".join(f"k{i}" for i in range(side))
    colours = ", ".join(f"c{i}" for i in range(variants // side))
    (root / "recipes").mkdir()
    (root / "recipes" / "big.yaml").write_text(RECIPE.format(kinds=kinds, colours=colours), encoding="utf-8")


def in_process(root: Path) -> tuple[float, int, int]:
    from assetgen.lint import lint
    from assetgen.recipe.load import load_project

    start = time.perf_counter()
    diags = lint([], root)
    seconds = time.perf_counter() - start
    return seconds, len(load_project([], root).project.variants()), len(diags)


def subprocess_run(root: Path) -> tuple[float, int]:
    start = time.perf_counter()
    command = [sys.executable, "-m", "assetgen", "lint"]
    done = subprocess.run(command, cwd=root, capture_output=True, check=False)
    return time.perf_counter() - start, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, args.variants)
        first, count, ndiag = in_process(root)
        second, _, _ = in_process(root)
        sub, code = subprocess_run(root)
        print(f"variants: {count}  diagnostics: {ndiag}")
        print(f"lint in-process: first {first:.3f} s, warm {second:.3f} s")
        print(f"lint subprocess (python -m assetgen lint): {sub:.3f} s, exit {code}")


if __name__ == "__main__":
    main()
