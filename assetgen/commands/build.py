"""`assetgen build`: run every stale action and write the outputs and the lock file.

A no-op build is decided from the build stamp alone (`assetgen.run.stamp`), before anything
heavy is imported; everything else goes through `assetgen.run.build.build`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from assetgen.commands import counted
from assetgen.errors import ExitCode, UserError

if TYPE_CHECKING:
    from assetgen.run.build import BuildReport
    from assetgen.run.stamp import Compared


def main(args: argparse.Namespace) -> int:
    started = time.time_ns()       # what changes from now on is never stamped as built
    cwd = Path.cwd()
    if args.frozen and (args.force or args.overwrite or args.adopt):
        flag = "--force" if args.force else "--overwrite" if args.overwrite else "--adopt"
        raise UserError(f"--frozen changes nothing on disk, so it cannot go with {flag}")
    compared = None
    if not (args.force or args.only or args.adopt or args.shard):
        from assetgen.run import stamp

        root = stamp.find_root(args.paths, cwd)
        compared = stamp.compare(root, stamp.signature(args.paths, cwd, args.provider))
        if compared is not None and not (compared.changed or compared.dirs_changed):
            if not args.frozen:
                stamp.touch_stamp(root)
            return _noop(args, compared.total)
        if args.frozen or args.batch or not all((cwd / p).is_dir() for p in args.paths):
            compared = None     # a build of named files, --frozen or --batch: the full path
    return _full(args, cwd, compared, started)


def _noop(args: argparse.Namespace, total: int) -> int:
    if args.json:
        print(json.dumps({"actions_total": total, "actions_run": 0, "actions_cached": total,
                          "actions_failed": 0, "requests": 0, "outputs_written": 0, "failures": []}))
    else:
        print(f"nothing to do: {total} actions up to date")
    return ExitCode.OK


def _full(args: argparse.Namespace, cwd: Path, compared: Compared | None = None,
          started: int | None = None) -> int:
    from assetgen.recipe.model import ProviderKind
    from assetgen.run.build import BuildOptions, build
    from assetgen.run.shard import Shard

    opts = BuildOptions(
        paths=tuple(args.paths), cwd=cwd, provider=ProviderKind(args.provider) if args.provider else None,
        jobs=args.jobs, only=tuple(args.only), force=tuple(args.force), frozen=args.frozen,
        fail_fast=args.fail_fast, max_cost=args.max_cost, previews=args.previews,
        overwrite=args.overwrite, adopt=tuple(args.adopt), endpoint=args.endpoint,
        shard=Shard.parse(args.shard) if args.shard else None, batch=args.batch, started=started,
    )
    prepared = None
    if compared is not None:    # only some recipe files changed: load and plan those
        from assetgen.run import delta

        prepared = delta.prepare(compared, opts.provider)
    if args.json:
        report = build(opts, prepared=prepared)
        print(json.dumps(report.summary()))
    else:
        from assetgen.run.progress import LiveReporter, PlainReporter  # (rich) not for --json

        reporter = LiveReporter() if sys.stdout.isatty() else PlainReporter()
        try:
            report = build(opts, reporter, prepared)
        finally:
            reporter.close()
        _print(report)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for stale in report.stale:
        print(f"stale: {stale.line()}", file=sys.stderr)
    left = (report.actions_total - report.actions_run - report.actions_cached - report.actions_failed
            - report.deferred)
    if report.interrupted or (left and not report.stale):   # --frozen starts nothing on purpose
        why = "interrupted" if report.interrupted else "--fail-fast"
        print(f"{why}: {counted(left, 'action')} not started; run the build again to finish them",
              file=sys.stderr)
    if args.json and not report.stale:
        for line in _swept(report):
            print(line, file=sys.stderr)
        for line in _failed(report):
            print(line, file=sys.stderr)
        for _, _, message in report.kept:
            print(message, file=sys.stderr)
    return report.exit_code


LISTED = 12      # assets named under one cause; the rest are counted


def _failed(report: BuildReport) -> list[str]:
    """One message per cause: `failed: ASSET: MESSAGE` when it hit one asset, else the message and
    the assets it hit (with what differs between them, such as a refused prompt)."""
    lines: list[str] = []
    for cause in report.causes:
        if len(cause.assets) == 1:
            detail = f": {cause.details[0]}" if cause.details and cause.details[0] else ""
            lines.append(f"failed: {cause.assets[0]}: {cause.message}{detail}")
            continue
        lines.append(f"failed: {cause.message}")
        more = len(cause.assets) - LISTED
        if cause.details:
            lines += [f"  {a}: {d}" for a, d in zip(cause.assets[:LISTED], cause.details, strict=False)]
            if more > 0:
                lines.append(f"  and {counted(more, 'asset')} more")
        else:
            also = f" and {more} more" if more > 0 else ""
            lines.append(f"  {counted(len(cause.assets), 'asset')}: {', '.join(cause.assets[:LISTED])}{also}")
    return lines


def _swept(report: BuildReport) -> list[str]:
    return ([f"removed {p}: no recipe writes it any more" for p in report.swept.removed]
            + [f"kept {p}: no recipe writes it any more, but it changed since assetgen wrote it"
               for p in report.swept.kept]
            + [f"left {p}: no recipe writes it any more, but assetgen has no record of making it (a lock "
               "file from elsewhere names it): not removed; delete it by hand if it is an old output"
               for p in report.swept.left])


def _print(report: BuildReport) -> None:
    if report.stale:
        print(f"--frozen: {_frozen_counts(report)}; nothing was written")
        return
    for line in _swept(report):
        print(line)
    for line in _failed(report):
        print(line)
    for _, _, message in report.kept:
        print(message)
    calls = report.actions_total - report.renditions
    kinds = f"{counted(calls, 'call')}, {counted(report.renditions, 'rendition')}"
    kept = f"{counted(len(report.kept), 'output')} kept, " if report.kept else ""
    paid = f"; {counted(report.paid, 'output')} left as paid images" if report.paid else ""
    if report.parts:
        print(f"a first build of a large project: built in {report.parts} parts, one after another")
    print(f"{counted(report.actions_total, 'action')} ({kinds}): "
          f"{counted(report.actions_run, 'call')} made, {counted(report.outputs_written, 'output')} written, "
          f"{kept}{report.actions_failed} failed; {counted(report.requests, 'request')}{paid}")
    for line in _batch_lines(report):
        print(line)


def _frozen_counts(report: BuildReport) -> str:
    """`2 assets need an API call, 3 outputs would be written, assetgen.lock would change`."""
    kinds = [s.kind for s in report.stale]
    parts = []
    calls = kinds.count("call")
    if calls:
        parts.append(f"{counted(calls, 'asset')} {'needs' if calls == 1 else 'need'} an API call")
    if kinds.count("refused"):
        parts.append(f"{counted(kinds.count('refused'), 'asset')} refused by the content filter")
    if kinds.count("output"):
        parts.append(f"{counted(kinds.count('output'), 'output')} would be written")
    if kinds.count("orphan"):
        parts.append(f"{counted(kinds.count('orphan'), 'output')} would be removed")
    if "lock" in kinds:
        parts.append("assetgen.lock would change")
    return ", ".join(parts)


def _batch_lines(report: BuildReport) -> list[str]:
    """What the batch phase did: batches submitted (their ids), calls collected and still pending."""
    if report.pending is None:
        return []
    lines = [f"submitted batch {batch_id}" for batch_id in report.batches]
    if report.collected:
        lines.append(f"collected {counted(report.collected, 'call')} from batches")
    if report.pending:
        lines.append(f"{counted(report.pending, 'call')} pending in batches; run assetgen build again later "
                     "to collect them")
    return lines
