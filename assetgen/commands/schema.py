"""`assetgen schema [--project]`: print the recipe (or project file) JSON Schema."""

from __future__ import annotations

import argparse
import sys

from assetgen.recipe import schema


def main(args: argparse.Namespace) -> int:
    sys.stdout.write(schema.schema_text(schema.PROJECT if args.project else schema.RECIPE))
    return 0
