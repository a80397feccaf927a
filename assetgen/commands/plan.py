"""`assetgen plan`: say for every action whether it is cached or will run, and why; and which
outputs a build would remove."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetgen.errors import ExitCode

if TYPE_CHECKING:
    from assetgen.run.prepare import Prepared


def main(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    whole = not (args.paths or args.only or args.force)
    start = time.time_ns()
    found = None
    if whole:   # only some recipe files changed since the last build: plan those (`run.plancache`)
        from assetgen.run import plancache

        found = plancache.quick(cwd, args.provider, args.batch)
    if found is not None:
        prep, data = found
    else:
        prep, data = _full(args, cwd)
    from assetgen import gc
    from assetgen.providers.registry import where_calls_go
    from assetgen.run.orphans import would_remove

    target = where_calls_go(prep.provider, prep.project.config, args.endpoint)
    only_files = bool(args.paths) and all((cwd / p).is_file() for p in args.paths)
    swept = would_remove(prep, whole=not (args.only or only_files))
    if swept.removed:
        data["removes"] = list(swept.removed)
    if swept.kept:
        data["keeps"] = list(swept.kept)
    if swept.left:
        data["leaves"] = list(swept.left)
    if prep.paid:
        data["left_as_paid"] = prep.paid_outputs()
    prep.files.save()
    prep.store.touch(gc.reached_calls(prep.plan, prep.resolution, prep.lock))    # gc's grace runs from now
    if found is None and whole and not args.force and not prep.paid:
        from assetgen.run import plancache

        plancache.remember(prep, data["actions"], start)
    for warning in prep.remote.warnings if prep.remote is not None else ():
        print(f"warning: {warning}", file=sys.stderr)
    _show(args, data, target)
    return ExitCode.OK


def _full(args: argparse.Namespace, cwd: Path) -> tuple[Prepared, dict[str, Any]]:
    from assetgen.batch.run import pending_calls
    from assetgen.plan.report import plan_json
    from assetgen.recipe.model import ProviderKind
    from assetgen.run.prepare import prepare

    provider = ProviderKind(args.provider) if args.provider else None
    prep = prepare(args.paths, cwd, provider, args.only, args.force, remote="look")
    data = plan_json(prep.plan, prep.resolution, dict(prep.project.config.pricing),
                     config=prep.project.config, pending=pending_calls(prep.project.root),
                     batch=args.batch)
    return prep, data


def _show(args: argparse.Namespace, data: dict[str, Any], target: tuple[str, str] | None) -> None:
    from assetgen.plan.report import plan_text

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
