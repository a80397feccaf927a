"""`assetgen diff [REV]`: outputs changed, added or removed between git REV and the working tree."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path

from assetgen.atomic import write_atomic
from assetgen.cache import STATE_DIR
from assetgen.errors import ExitCode
from assetgen.review import diff, diffreport
from assetgen.review.gitrev import Revision
from assetgen.review.images import Thumbs, encode_thumbnail
from assetgen.run.prepare import prepare

DIFF_PX = 512
REPORT = {"markdown": "diff.md", "html": "index.html", "json": "diff.json", "text": "diff.txt"}


def main(args: argparse.Namespace) -> int:
    rev, paths = args.rev, list(args.paths)
    if not paths and Path(rev).exists():     # `assetgen diff recipes/`: a path, compared with HEAD
        rev, paths = "HEAD", [rev]
    prep = prepare(paths, Path.cwd())
    root = prep.project.root
    revision = Revision(root, rev)
    found = diff.compare(prep, revision)
    prep.files.save()

    def load(path: str, before: bool) -> bytes | None:
        if before:
            return revision.read(path)
        try:
            return (root / path).read_bytes()
        except OSError:
            return None

    out = Path(args.out) if args.out else None
    url: diffreport.Url | None = None
    if out is not None:
        from assetgen.review.page import check_out

        check_out(out, REPORT[args.format])
        thumbs = Thumbs(root / STATE_DIR / "thumbs", out)
        url = _placed(thumbs, load)
    elif args.format == "html":
        url = _inline(load)
    if args.format == "json":
        text = json.dumps(found.to_json(), indent=2) + "\n"
    elif args.format == "markdown":
        text = diffreport.markdown(found, url)
    elif args.format == "html":
        assert url is not None
        text = diffreport.html(found, url)
    else:
        text = diff.text(found)
    if out is not None:
        write_atomic(out / REPORT[args.format], text.encode("utf-8"))
    sys.stdout.write(text)
    return ExitCode.OK


Loader = Callable[[str, bool], bytes | None]


def _placed(thumbs: Thumbs, load: Loader) -> diffreport.Url:
    def url(path: str, sha: str, before: bool) -> str | None:
        return thumbs.place(sha, DIFF_PX, lambda: load(path, before))
    return url


def _inline(load: Loader) -> diffreport.Url:
    def url(path: str, sha: str, before: bool) -> str | None:
        data = load(path, before)
        if data is None:
            return None
        try:
            thumb = encode_thumbnail(data, DIFF_PX)
        except (OSError, ValueError):
            return None
        return "data:image/webp;base64," + base64.b64encode(thumb).decode("ascii")
    return url
