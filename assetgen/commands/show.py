"""`assetgen show VARIANT`: a variant's rendered prompts, request parameters and outputs; no call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assetgen.errors import ExitCode
from assetgen.review import model, show
from assetgen.run.prepare import prepare


def main(args: argparse.Namespace) -> int:
    prep = prepare(args.paths, Path.cwd())
    names = show.select([(a.name, a.key) for a in prep.plan.assets], args.variant)
    for i, view in enumerate(model.variants(prep, names)):
        sys.stdout.write(("\n" if i else "") + show.text(view))
    prep.files.save()
    return ExitCode.OK
