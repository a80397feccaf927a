"""Command line: parse arguments, call one command function, return its exit code.

Each command lives in `assetgen.commands.<name>` as `main(args) -> int`. Imports are lazy so
that every command pays only for what it uses.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from assetgen import __version__
from assetgen.errors import ExitCode, UserError

BUG_URL = "https://github.com/assetgen/assetgen/issues"


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got '{text}'")
    return value


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:      # also refuses nan, which compares false with every cost
        raise argparse.ArgumentTypeError(f"expected an amount in USD of 0 or more, got '{text}'")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 36500:     # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected a number of days of 0 or more, got '{text}'")
    return value


def _shard(text: str) -> str:
    """`I/N` with 1 <= I <= N (parsed again by the build: the CLI imports nothing heavy)."""
    index, sep, count = text.partition("/")
    if not (sep and index.strip().isdigit() and count.strip().isdigit()
            and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"expected I/N with 1 <= I <= N (the I-th of N parts), got '{text}'")
    return text


def _paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATHS",
                   help="recipe files or folders (a folder means its project); default: the current project")


def _provider(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", choices=["local", "azure", "openai"],
                   help="override the project's provider (default: local)")


def _endpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", metavar="URL",
                   help="send the calls to URL: the azure endpoint or the openai base URL; wins over "
                        "assetgen.yaml and $AZURE_OPENAI_ENDPOINT / $OPENAI_BASE_URL")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assetgen", description="Build generated images from YAML recipes.")
    parser.add_argument("--version", action="version", version=f"assetgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="run every stale action and write the outputs and the lock file")
    _paths(p)
    _provider(p)
    _endpoint(p)
    p.add_argument("-j", "--jobs", type=_jobs, default=8, metavar="N",
                   help="calls at once, and as many renditions (default 8)")
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="build only assets whose name matches this glob (repeatable)")
    p.add_argument("--force", action="append", default=[], metavar="PATTERN",
                   help="regenerate assets matching this glob even when cached (repeatable)")
    p.add_argument("--frozen", action="store_true",
                   help="change nothing on disk; exit 1 naming every call, output, orphan removal and "
                        "lock change a build would make")
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs changed by hand since assetgen wrote them (kept by default)")
    p.add_argument("--adopt", action="append", default=[], metavar="PATH",
                   help="keep this hand-edited output as it is and record its bytes in the lock (repeatable)")
    p.add_argument("--fail-fast", action="store_true", help="stop starting new work after the first failure")
    p.add_argument("--max-cost", type=_usd, metavar="USD",
                   help="refuse to start (exit 2) when the estimated cost exceeds USD")
    p.add_argument("--previews", type=int, metavar="N", choices=range(0, 4),
                   help="stream with partial_images=N and save partial images under .assetgen/previews/")
    p.add_argument("--shard", type=_shard, metavar="I/N",
                   help="make only the I-th of N disjoint parts of the calls (chains kept whole), at 1/N of "
                        "each quota, into the cache; write no outputs or lock file")
    p.add_argument("--batch", action="store_true",
                   help="submit ready calls to OpenAI's Batch API at half price and exit; a later build "
                        "collects them")
    p.add_argument("--json", action="store_true", help="print one JSON summary object and nothing else")

    p = sub.add_parser("plan", help="say for every action whether it is cached or will run, and why")
    _paths(p)
    _provider(p)
    _endpoint(p)
    p.add_argument("--batch", action="store_true", help="estimate at the Batch API's price, as build --batch")
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="plan only assets whose name matches this glob, as build --only (repeatable)")
    p.add_argument("--force", action="append", default=[], metavar="PATTERN",
                   help="plan regenerating assets matching this glob, as build --force (repeatable)")
    p.add_argument("--changed", action="store_true", help="list only the actions that are not cached")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")

    p = sub.add_parser("lint", help="check recipes without calling any API")
    _paths(p)
    p.add_argument("--format", choices=["text", "json", "github"], default="text",
                   help="text (FILE:LINE:COL), json, or GitHub Actions annotations")

    p = sub.add_parser("schema", help="print the recipe JSON Schema")
    p.add_argument("--project", action="store_true",
                   help="print the project file's schema instead (it refers to recipe.schema.json beside it)")

    p = sub.add_parser(
        "emulator", help="serve an offline emulation of the Azure OpenAI image API",
        description="Serve the Azure OpenAI image API (/openai/deployments/{d}/images/*, "
                    "/openai/v1/images/*) and OpenAI's /v1/images/* offline, with placeholder images, "
                    "until Ctrl-C. Point the azure provider at it with "
                    "AZURE_OPENAI_ENDPOINT=http://HOST:PORT, the openai provider with "
                    "OPENAI_BASE_URL=http://HOST:PORT/v1.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765,
                   help="port to listen on (default 8765; 0 picks a free one)")
    p.add_argument("--api-key", metavar="KEY", help="the only key accepted (default: any non-empty key)")
    p.add_argument("--deployment", action="append", default=[], metavar="NAME=MODEL",
                   help="a deployment of a model (repeatable; default: each model is its own)")
    p.add_argument("--rpm", type=int, metavar="N",
                   help="requests per minute per deployment, answered with 429 beyond (default: no limit)")
    p.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                   help="seconds per 1,000 output tokens (default 0)")
    p.add_argument("--fault-rate", type=float, default=0.0, metavar="F",
                   help="fraction (0-1) of requests answered with 500, 503 or a dropped connection "
                        "(default 0)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed for injected faults (default 0)")
    p.add_argument("--vary", action="store_true",
                   help="draw each request's number into its images, so that the same request twice gets "
                        "other images, as from a real image API (default: the same request, the same images)")
    p.add_argument("--block-word", default="forbidden", metavar="WORD",
                   help="prompts containing WORD are refused by the content filter (default 'forbidden'; "
                        "'' turns the filter off)")
    p.add_argument("--filter-code", default="content_policy_violation",
                   choices=["content_policy_violation", "contentFilter", "moderation_blocked"],
                   help="the shape of the content-filter answer (default content_policy_violation; "
                        "contentFilter is Azure's documented one, on Azure paths)")
    p.add_argument("--batch-delay", type=float, default=5.0, metavar="SECONDS",
                   help="a batch (/v1/batches) completes this long after its creation (default 5)")
    p.add_argument("--log", metavar="FILE",
                   help="append one JSON line per image request (never keys or images)")

    p = sub.add_parser("gc", help="drop cache entries that no recipe or lock entry reaches")
    _paths(p)
    p.add_argument("--dry-run", action="store_true",
                   help="list what would be removed (cache paths and sizes), remove nothing")
    p.add_argument("--older-than", type=_days, default=30.0, metavar="DAYS",
                   help="remove paid results nothing reaches once DAYS have passed since they were "
                        "last reached (default 30; 0 removes them now); placeholders go at once")

    p = sub.add_parser("review", help="write a gallery of every variant and candidate (or serve it to pick)")
    _paths(p)
    p.add_argument("--out", metavar="DIR",
                   help="folder for index.html and its images (default .assetgen/review)")
    p.add_argument("--serve", action="store_true",
                   help="serve the gallery with pick and re-roll controls until Ctrl-C")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8766,
                   help="port to serve on (default 8766; 0 picks a free one)")

    p = sub.add_parser("diff", help="list outputs changed, added or removed since a git revision")
    p.add_argument("rev", nargs="?", default="HEAD", metavar="REV", help="git revision (default HEAD)")
    _paths(p)
    p.add_argument("--format", choices=["text", "markdown", "json", "html"], default="text",
                   help="text, markdown (a pull-request comment), json, or html (before and after)")
    p.add_argument("--out", metavar="DIR", help="also write the report and its images into DIR")

    p = sub.add_parser("show", help="print a variant's rendered prompts, parameters and outputs; no call")
    p.add_argument("variant", metavar="VARIANT", help="a variant name, an asset key, or a glob of either")
    _paths(p)

    p = sub.add_parser("init", help="start a project: assetgen.yaml, an example recipe, the schemas")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the project folder (default: here)")
    return parser


def crash_report(exc: BaseException) -> str:
    frames = traceback.format_exception(exc)
    return (
        f"assetgen {__version__}: internal error: {type(exc).__name__}: {exc}\n"
        f"This is a bug in assetgen. Please file it at {BUG_URL} with this report:\n\n"
        + "".join(frames[-6:])
    )


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    finally:
        gc.unfreeze()       # what state files froze (`statefiles.load_json`) may be collected again


def _run(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"assetgen.commands.{args.command}")
        return int(module.main(args))
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:     # `assetgen plan | head`: the reader left; say nothing more
        _silence_stdout()
        return ExitCode.PIPE_CLOSED
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into exit 3
        print(crash_report(exc), file=sys.stderr)
        return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
