"""`assetgen plan`: say for every action whether it is cached or will run, and why; and which
outputs a build would remove."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assetgen import gc
from assetgen.batch.run import pending_calls
from assetgen.errors import ExitCode
from assetgen.plan.report import plan_json, plan_text
from assetgen.providers.registry import where_calls_go
from assetgen.recipe.model import ProviderKind
from assetgen.run.orphans import would_remove
from assetgen.run.prepare import prepare


def main(args: argparse.Namespace) -> int:
    provider = ProviderKind(args.provider) if args.provider else None
    cwd = Path.cwd()
    prep = prepare(args.paths, cwd, provider, args.only, args.force, remote="look")
    target = where_calls_go(prep.provider, prep.project.config, args.endpoint)
    data = plan_json(prep.plan, prep.resolution, dict(prep.project.config.pricing),
                     config=prep.project.config, pending=pending_calls(prep.project.root),
                     batch=args.batch)
    only_files = bool(args.paths) and all((cwd / p).is_file() for p in args.paths)
    swept = would_remove(prep, whole=not (args.only or only_files))
    if swept.removed:
        data["removes"] = list(swept.removed)
    if swept.kept:
        data["keeps"] = list(swept.kept)
    if prep.paid:
        data["left_as_paid"] = prep.paid_outputs()
    prep.files.save()
    prep.store.touch(gc.reached_calls(prep.plan, prep.resolution, prep.lock))    # gc's grace runs from now
    for warning in prep.remote.warnings if prep.remote is not None else ():
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        if args.changed:
            data["actions"] = [a for a in data["actions"] if a["status"] != "cached"]
        print(json.dumps(data))
    else:
        lines = plan_text(data, changed=args.changed).splitlines(keepends=True)
        if target is not None and any(a["status"] == "run" and a["op"] != "render" for a in data["actions"]):
            url, source = target    # before the totals, which stay the last line
            lines.insert(len(lines) - 1, f"calls go to {url} ({source})\n")
        sys.stdout.write("".join(lines))
    return ExitCode.OK
