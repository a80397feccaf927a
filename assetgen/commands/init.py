"""`assetgen init [DIR]`: scaffold a project that lints and builds offline; never overwrites."""

from __future__ import annotations

import argparse
from pathlib import Path

from assetgen.errors import ExitCode
from assetgen.review.init import IGNORE_LINE, init


def main(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    done = init(root)
    for rel in done.written:
        print(f"created {root / rel}")
    if done.gitignore != "kept":
        print(f"{done.gitignore} {root / '.gitignore'} ({IGNORE_LINE}: the cache and other local state)")
    where = "" if args.dir == "." else f"cd {args.dir} && "
    print(f"next: {where}assetgen lint && assetgen build && assetgen review")
    return ExitCode.OK
