"""`assetgen schema`: print the recipe JSON Schema."""

from __future__ import annotations

import argparse
import sys

from assetgen.recipe import schema


def main(args: argparse.Namespace) -> int:
    sys.stdout.write(schema.recipe_schema_text())
    return 0
