"""`assetgen gc [--dry-run]`: drop cache entries that no recipe or lock entry reaches."""

from __future__ import annotations

import argparse
from pathlib import Path

from assetgen import gc
from assetgen.errors import ExitCode
from assetgen.run.prepare import prepare


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def main(args: argparse.Namespace) -> int:
    prep = prepare(args.paths, Path.cwd())
    garbage = gc.find(prep.store, prep.resolution, prep.lock)
    verb = "would remove" if args.dry_run else "removed"
    if not args.dry_run:
        gc.remove(prep.store, garbage)
    print(f"{verb} {len(garbage.objects)} images and {len(garbage.records)} action records, "
          f"{'would free' if args.dry_run else 'freed'} {human(garbage.bytes)}")
    return ExitCode.OK
