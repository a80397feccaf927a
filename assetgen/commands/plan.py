"""`assetgen plan`: say for every action whether it is cached or will run, and why."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assetgen.errors import ExitCode
from assetgen.plan.report import plan_json, plan_text
from assetgen.recipe.model import ProviderKind
from assetgen.run.prepare import prepare


def main(args: argparse.Namespace) -> int:
    provider = ProviderKind(args.provider) if args.provider else None
    prep = prepare(args.paths, Path.cwd(), provider)
    data = plan_json(prep.plan, prep.resolution, dict(prep.project.config.pricing),
                     config=prep.project.config)
    prep.files.save()
    if args.json:
        print(json.dumps(data))
    else:
        sys.stdout.write(plan_text(data))
    return ExitCode.OK
