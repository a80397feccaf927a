"""`assetgen review`: write the gallery (default `.assetgen/review/index.html`), or serve it on
loopback with pick and re-roll controls (`--serve`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from assetgen.cache import STATE_DIR
from assetgen.commands import counted
from assetgen.errors import ExitCode
from assetgen.review import gallery
from assetgen.review.page import check_out
from assetgen.run.prepare import prepare


def main(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    if args.serve:
        from assetgen.review.server import serve

        return serve(args.paths, cwd, Path(args.out) if args.out else None, args.host, args.port)
    prep = prepare(args.paths, cwd)
    out = Path(args.out) if args.out else prep.project.root / STATE_DIR / "review"
    check_out(out, "index.html")
    written = gallery.write(prep, out)
    prep.files.save()
    missing = f", {len(written.missing)} not made yet (run assetgen build)" if written.missing else ""
    print(f"wrote {written.path}: {counted(written.variants, 'variant')}, "
          f"{counted(written.candidates, 'candidate')}{missing}")
    return ExitCode.OK
