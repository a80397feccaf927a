"""`assetgen review`: the gallery page, one `index.html` and its thumbnails in one folder.

Variants are grouped by asset and laid out on a grid of their first two matrix axes; further axes
become a flipbook. Each candidate of a variant's final step is an
`<img data-variant="V" data-candidate="K">` (the pick also `data-picked="true"`); each step shows
its rendered prompt, parameters, status and reasons; a changed output shows the image at git
`HEAD` beside the new one with a slider. The page loads nothing from any other host.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from assetgen.atomic import write_atomic
from assetgen.cache import STATE_DIR
from assetgen.errors import UserError
from assetgen.review import diff, model, page
from assetgen.review.gitrev import Revision
from assetgen.review.images import THUMB_PX, VIEW_PX, Thumbs
from assetgen.run.prepare import Prepared

COMPARE_PX = 512
# plan's words -> the page's
STATUS_WORDS = {"cached": "cached", "run": "stale", "blocked": "blocked", "refused": "refused"}


class Written(Struct):
    path: Path                      # the index.html written
    variants: int
    candidates: int
    images: int                     # candidates shown with an image
    thumbs_made: int
    thumbs_reused: int
    html_bytes: int
    seconds: float
    missing: list[str] = field(default_factory=list)   # variant #k whose image is not made yet


def _loader(prep: Prepared) -> Callable[[str], Callable[[], bytes | None]]:
    """sha -> a function reading that image's bytes: the cache, else an output file holding it."""
    holders: dict[str, list[str]] = {}
    for asset in prep.lock.assets.values():
        for out in asset.outputs:
            holders.setdefault(out.source, []).append(out.path)
            holders.setdefault(out.sha256, []).append(out.path)
    root = prep.project.root

    def make(sha: str) -> Callable[[], bytes | None]:
        def load() -> bytes | None:
            data = prep.store.get_object(sha)
            if data is not None:
                return data
            for path in holders.get(sha, ()):
                try:
                    return (root / path).read_bytes()
                except OSError:
                    continue
            return None
        return load
    return make


def _head_changes(prep: Prepared) -> tuple[Revision | None, dict[str, diff.VariantDiff]]:
    try:
        revision = Revision(prep.project.root, "HEAD")
    except UserError:                # not a git repository, or no commit yet: nothing to compare
        return None, {}
    found = diff.compare(prep, revision)
    return revision, {v.variant: v for v in found.variants if v.status is diff.Change.CHANGED}


def _json_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


Loader = Callable[[], bytes | None]


class Compare(Struct, frozen=True):
    """A changed output: its image at HEAD and now, as page URLs."""
    path: str
    before: str
    after: str


def _reader(root: Path, path: str) -> Loader:
    def read() -> bytes | None:
        try:
            return (root / path).read_bytes()
        except OSError:
            return None
    return read


def _compares(prep: Prepared, thumbs: Thumbs,
              pool: ThreadPoolExecutor) -> tuple[set[str], dict[str, Compare]]:
    """The variants that differ from git HEAD, and for each the first output whose image changed."""
    revision, changes = _head_changes(prep)
    if revision is None:
        return set(), {}
    jobs: dict[str, tuple[str, str, str]] = {}       # variant -> (path, before sha, after sha)
    for name, change in changes.items():
        o = next((o for o in change.outputs if o.before and o.after and o.before != o.after), None)
        if o is not None and o.before and o.after:
            jobs[name] = (o.path, o.before, o.after)

    def place(job: tuple[str, str, str]) -> Compare | None:
        path, before, after = job
        old = thumbs.place(before, COMPARE_PX, lambda: revision.read(path))
        new = thumbs.place(after, COMPARE_PX, _reader(prep.project.root, path))
        return Compare(path, old, new) if old and new else None

    placed = dict(zip(jobs, pool.map(place, jobs.values()), strict=True))
    return set(changes), {name: c for name, c in placed.items() if c is not None}


def _card(v: model.VariantView, flip_axes: set[str], urls: dict[str, dict[int, str]],
          compare: Compare | None, changed: bool, written: Written) -> dict[str, Any]:
    cands = []
    for k, sha in enumerate(v.candidates):
        got = urls.get(sha, {}) if sha else {}
        written.candidates += 1
        if got:
            written.images += 1
        else:
            written.missing.append(f"{v.name} #{k}")
        cands.append({"k": k, "sha": sha, "thumb": got.get(THUMB_PX), "full": got.get(VIEW_PX),
                      "picked": k == v.pick})
    steps = [{"index": s.index + 1, "op": s.op, "prompt": s.prompt, "status": s.status,
              "reasons": s.reasons, "cost": s.cost_usd, "inputs": s.inputs, "pick": s.pick,
              "params": ", ".join(f"{key}={_json_value(val)}" for key, val in s.params),
              "images": [urls.get(image, {}).get(THUMB_PX) for image in s.images]}
             for s in v.steps]
    values = {a: _json_value(val) for a, val in v.values}
    return {"name": v.name, "status": v.status, "n": v.n, "pick": v.pick, "cands": cands, "steps": steps,
            "outputs": v.outputs, "cost": v.cost_usd, "to_run": v.cost_to_run_usd, "values": values,
            "changed": changed, "compare": compare,
            "flip": json.dumps({a: val for a, val in values.items() if a in flip_axes}, sort_keys=True)}


def context(prep: Prepared, out: Path, serve: bool = False, token: str = "",
            jobs: int | None = None) -> tuple[dict[str, Any], Written]:
    """The page's template context, with every thumbnail it shows made and placed in `out`."""
    started = time.perf_counter()
    root = prep.project.root
    views = model.variants(prep)
    thumbs = Thumbs(root / STATE_DIR / "thumbs", out)
    load = _loader(prep)
    wanted = {sha: load(sha) for v in views for step in v.steps for sha in step.images}
    with ThreadPoolExecutor(max_workers=jobs or min(8, os.cpu_count() or 1)) as pool:
        made = pool.map(lambda sha: thumbs.place_all(sha, (THUMB_PX, VIEW_PX), wanted[sha]), wanted)
        urls = dict(zip(wanted, made, strict=True))
        changed, compares = _compares(prep, thumbs, pool)
    written = Written(out / "index.html", len(views), 0, 0, thumbs.made, thumbs.reused, 0, 0.0)
    counts: dict[str, int] = {}
    groups = []
    for g in model.groups(views):
        flip_axes = {a for a, _ in g.axes[2:]}
        cards = []
        for v in g.variants:
            counts[v.status] = counts.get(v.status, 0) + 1
            cards.append(_card(v, flip_axes, urls, compares.get(v.name), v.name in changed, written))
        groups.append(_layout(g, cards))
    ctx = {"title": root.name, "words": STATUS_WORDS, "groups": groups, "serve": serve, "token": token,
           "total_cost": sum(v.cost_usd for v in views), "to_run": sum(v.cost_to_run_usd for v in views),
           "counts": counts, "variants": len(views), "candidates": written.candidates,
           "provider": prep.provider.value, "changed": len(changed)}
    written.seconds = time.perf_counter() - started
    return ctx, written


def _layout(group: model.AssetGroup, cards: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows and columns from the first two axes; the rest flip; variants off the grid go below."""
    axes = [(a, [_json_value(v) for v in vals]) for a, vals in group.axes]
    base = {"key": group.key, "recipe": group.recipe, "cards": cards, "axes": axes,
            "cost": sum(c["cost"] for c in cards), "to_run": sum(c["to_run"] for c in cards),
            "flip": axes[2:], "grid": None, "others": []}
    if len(axes) < 2:
        return base
    (ra, rows), (ca, cols) = axes[0], axes[1]
    grid: list[list[list[dict[str, Any]]]] = [[[] for _ in cols] for _ in rows]
    others = []
    for card in cards:
        r, c = card["values"].get(ra), card["values"].get(ca)
        if r in rows and c in cols:
            grid[rows.index(r)][cols.index(c)].append(card)
        else:
            others.append(card)
    base.update(grid={"row_axis": ra, "col_axis": ca, "rows": rows, "cols": cols, "cells": grid},
                others=others)
    return base


def write(prep: Prepared, out: Path, serve: bool = False, token: str = "") -> Written:
    ctx, written = context(prep, out, serve, token)
    html = page.render("index.html.j2", **ctx)
    write_atomic(out / "index.html", html.encode("utf-8"))
    written.html_bytes = len(html.encode("utf-8"))
    return written


def picks_of(views: Sequence[model.VariantView]) -> dict[str, int]:
    return {v.name: v.pick for v in views}
