"""`assetgen build`: run every stale action and write the outputs and the lock file.

A no-op build is decided from the build stamp alone (`assetgen.run.stamp`), before anything
heavy is imported; everything else goes through `assetgen.run.build.build`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assetgen.commands import counted
from assetgen.errors import ExitCode

if TYPE_CHECKING:
    from assetgen.run.build import BuildReport


def main(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    if not (args.force or args.only):
        from assetgen.run.stamp import fast_noop

        total = fast_noop(args.paths, cwd, args.provider)
        if total is not None:
            return _noop(args, total)
    return _full(args, cwd)


def _noop(args: argparse.Namespace, total: int) -> int:
    if args.json:
        print(json.dumps({"actions_total": total, "actions_run": 0, "actions_cached": total,
                          "actions_failed": 0, "requests": 0, "outputs_written": 0, "failures": []}))
    else:
        print(f"nothing to do: {total} actions up to date")
    return ExitCode.OK


def _full(args: argparse.Namespace, cwd: Path) -> int:
    from assetgen.recipe.model import ProviderKind
    from assetgen.run.build import BuildOptions, build
    from assetgen.run.progress import LiveReporter, PlainReporter

    opts = BuildOptions(
        paths=tuple(args.paths), cwd=cwd, provider=ProviderKind(args.provider) if args.provider else None,
        jobs=args.jobs, only=tuple(args.only), force=tuple(args.force), frozen=args.frozen,
        fail_fast=args.fail_fast, max_cost=args.max_cost, previews=args.previews,
    )
    if args.json:
        report = build(opts)
        print(json.dumps(report.summary()))
    else:
        reporter = LiveReporter() if sys.stdout.isatty() else PlainReporter()
        try:
            report = build(opts, reporter)
        finally:
            reporter.close()
        _print(report)
    for asset, why in report.stale:
        print(f"stale: {asset}: {why}", file=sys.stderr)
    left = report.actions_total - report.actions_run - report.actions_cached - report.actions_failed
    if report.interrupted or (left and not report.stale):   # --frozen starts nothing on purpose
        why = "interrupted" if report.interrupted else "--fail-fast"
        print(f"{why}: {counted(left, 'action')} not started; run the build again to finish them",
              file=sys.stderr)
    if args.json and not report.stale:
        for line in _swept(report):
            print(line, file=sys.stderr)
        for asset, message in report.failures:
            print(f"failed: {asset}: {message}", file=sys.stderr)
    return report.exit_code


def _swept(report: BuildReport) -> list[str]:
    return ([f"removed {p}: no recipe writes it any more" for p in report.swept.removed]
            + [f"kept {p}: no recipe writes it any more, but it changed since assetgen wrote it"
               for p in report.swept.kept])


def _print(report: BuildReport) -> None:
    if report.stale:
        needs = "asset needs" if len(report.stale) == 1 else "assets need"
        print(f"--frozen: {len(report.stale)} {needs} an API call; nothing was run")
        return
    for line in _swept(report):
        print(line)
    for asset, message in report.failures:
        print(f"failed: {asset}: {message}")
    calls = report.actions_total - report.renditions
    kinds = f"{counted(calls, 'call')}, {counted(report.renditions, 'rendition')}"
    print(f"{counted(report.actions_total, 'action')} ({kinds}): "
          f"{counted(report.actions_run, 'call')} made, {counted(report.outputs_written, 'output')} written, "
          f"{report.actions_failed} failed; {counted(report.requests, 'request')}")
