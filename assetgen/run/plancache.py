"""`plan` after a change to a few recipe files: plan those, take the rest's lines from the last plan.

A whole-project plan keeps, per recipe file, in `.assetgen/plan-cache.json`, the actions its
variants make (id, op, assets, target: what `plan` prints of a cached action) in plan order, with
the stat of the file and of the input files its variants read, and the project's file order. When
the build stamp shows that only some recipe files changed since the last complete build, the build
after a small change (`run.delta`) loads and plans those files; every other file is as that build
left it — built and in the lock: all its actions cached, with no reason — and its lines are the
stored ones when the stored stats are the stamp's (same bytes, same inputs). The output is the
full plan's, line for line and in its order, totals included.

Only what the stored lines can answer exactly takes this path: a project without references
between files and without an action that two files share (the plan's order then is file by
file), no `--only`, `--force` or paths, everything `run.delta` takes (no remote cache, no
batches, no paid images left by a local plan). Of a matrix whose definition did not change, only
the variants with new values are planned (`run.partial`); the others are as the last build left
them, and their stored lines are taken when they are those variants' actions. The fingerprint
holds assetgen's code and version, Pillow (a rendition's id), the project file and the provider.
Anything else is the full plan, which writes the file afresh. Like every state file it is
untrusted: a checksum line, its shape checked, its paths only compared with the stamp's.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetgen import statefiles

if TYPE_CHECKING:
    from assetgen.plan.graph import Plan
    from assetgen.recipe.model import Project
    from assetgen.run.partial import Kept
    from assetgen.run.prepare import Prepared
    from assetgen.run.stamp import Compared

CACHE_FILE = "plan-cache.json"
CHANGES_FILE = "plan-cache-changes.json"    # the files planned since: small, written each time
FORMAT = 1
RACY_NS = 50_000_000        # a stat this close to the run's start may hide a change in the same tick
REWRITE_AFTER = 100         # files in the changes file: beyond this the whole file is written again
_PACKAGE = Path(__file__).resolve().parent.parent

Line = list[Any]            # [id (16 hex digits), op, assets, target] of a cached action
ID = 16                     # hex digits of an action id in a plan


def environment(root: Path, provider: str) -> str | None:
    """Everything besides the recipe files and their inputs that can change an action's line."""
    import sys

    from assetgen import __version__
    from assetgen.run.stamp import pillow_version

    try:
        project_bytes = (root / "assetgen.yaml").read_bytes()
    except OSError:
        return None
    parts: list[Any] = [FORMAT, __version__, sys.version, provider, pillow_version(),
                        hashlib.sha256(project_bytes).hexdigest()]
    for path in sorted(_PACKAGE.glob("**/*.py")) + sorted((_PACKAGE / "data").glob("**/*.json")):
        try:
            st = os.stat(path)
        except OSError:
            continue
        parts.append([str(path), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


class Cache:
    """The stored lines: `order` (the project's recipe files) and per file [stats, lines], where
    stats maps the file and its inputs to their stat (none for a file whose stat was too recent to
    trust: it is planned again while it is one of the changed files, else the full plan runs)."""

    def __init__(self, env: str, order: list[str], files: dict[str, list[Any]], base: str = "") -> None:
        self.env = env
        self.order = order
        self.files = files
        self.base = base
        self.newer: set[str] = set()

    def encode(self) -> bytes:
        return statefiles.with_checksum({"format": FORMAT, "environment": self.env, "order": self.order,
                               "files": self.files})

    def encode_changes(self) -> bytes:
        return statefiles.with_checksum({"format": FORMAT, "base": self.base,
                               "files": {rel: self.files.get(rel) for rel in self.newer}})


def _columns(lines: list[Any]) -> tuple[tuple[Any, ...], ...] | None:
    """The columns (ids, ops, assets, targets) of stored lines, when each line is a list of four
    with an op, a list of assets and a target; else None. Checked a column at a time: the lines of
    a large project are read on every plan after a change."""
    if not (set(map(type, lines)) <= {list} and set(map(len, lines)) <= {4}):
        return None
    columns = tuple(zip(*lines, strict=True)) if lines else ((),) * 4
    _, ops, assets, targets = columns
    if not (set(map(type, ops)) <= {str} and set(map(type, assets)) <= {list}
            and set(map(type, targets)) <= {str}):
        return None
    return columns


def read(root: Path, env: str) -> Cache | None:
    state = root / ".assetgen"
    if state.is_symlink():
        return None
    found = statefiles.read_checksummed(state / CACHE_FILE)
    if found is None:
        return None
    base, body = found
    if not (isinstance(body, dict) and body.get("format") == FORMAT and body.get("environment") == env
            and type(body.get("order")) is list and type(body.get("files")) is dict):
        return None
    order, files = body["order"], body["files"]
    if len(set(order)) != len(order) or not files.keys() <= set(order) \
            or not all(map(statefiles.is_relative, order)):
        return None
    cache = Cache(env, order, files, base)
    changes = statefiles.read_checksummed(state / CHANGES_FILE)
    if changes is not None:
        extra = changes[1]
        if (isinstance(extra, dict) and extra.get("format") == FORMAT and extra.get("base") == base
                and type(extra.get("files")) is dict and extra["files"].keys() <= set(order)):
            for rel, raw in extra["files"].items():
                if raw is None:     # no lines now
                    files.pop(rel, None)
                else:
                    files[rel] = raw
            cache.newer = set(extra["files"])
    return cache


def _write(root: Path, cache: Cache, changes_only: bool) -> None:
    """Best effort: a read-only project still plans, only not incrementally."""
    from assetgen.atomic import write_atomic

    state = root / ".assetgen"
    if any(p.is_symlink() for p in (state, state / CACHE_FILE, state / CHANGES_FILE)):
        return
    try:
        state.mkdir(exist_ok=True)
        if changes_only:
            write_atomic(state / CHANGES_FILE, cache.encode_changes())
        else:
            (state / CHANGES_FILE).unlink(missing_ok=True)
            write_atomic(state / CACHE_FILE, cache.encode())
    except OSError:
        return


def forget(root: Path) -> None:
    if (root / ".assetgen").is_symlink():      # nothing is written through it
        return
    for name in (CACHE_FILE, CHANGES_FILE):
        try:
            (root / ".assetgen" / name).unlink()
        except OSError:
            pass


# -- what a plan gives per file ------------------------------------------------------------

def blocks(project: Project, plan: Plan, lines: Sequence[dict[str, Any]]) -> dict[str, list[Line]] | None:
    """Each recipe file's lines, in plan order; None when the plan is not file by file (a
    reference or an action across files, a file whose actions are not together)."""
    from assetgen.recipe.refs import refs_of

    home = {v.name: r.path for r in project.recipes for v in r.variants}
    for recipe in project.recipes:
        for v in recipe.variants:
            if any(home.get(ref.asset or "") != recipe.path for ref in refs_of(v)):
                return None
    found: dict[str, list[Line]] = {r.path: [] for r in project.recipes}
    last = None
    for action, line in zip(plan.actions, lines, strict=True):
        owners = {home.get(a) for a in action.assets}
        if len(owners) != 1:
            return None
        rel = owners.pop()
        if rel is None or (rel != last and found[rel]):
            return None
        last = rel
        found[rel].append([line["id"], line["op"], list(line["assets"]), line["target"]])
    return found


def _inputs(project: Project) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for recipe in project.recipes:
        paths: set[str] = set()
        for v in recipe.variants:
            for step in v.steps:
                refs = (step.image, step.mask, *step.images)
                paths.update(r.path for r in refs if r is not None and r.path)
        found[recipe.path] = sorted(paths)
    return found


def _stats(root: Path, rel: str, inputs: Sequence[str], start: int) -> dict[str, Any] | None:
    """The stat of a recipe file and of its inputs; None when one is too recent to trust."""
    from assetgen.run.stamp import stats

    found = stats(root, [rel, *inputs])
    if any(s is not None and s[-1] >= start - RACY_NS for s in found.values()):
        return None
    return found


def remember(prep: Prepared, lines: Sequence[dict[str, Any]], start: int) -> None:
    """Keep the lines of a whole-project plan (or forget them when it is not file by file)."""
    root = prep.project.root
    env = environment(root, prep.provider.value)
    per_file = blocks(prep.project, prep.plan, lines) if env is not None else None
    if env is None or per_file is None:
        forget(root)
        return
    inputs = _inputs(prep.project)
    files: dict[str, list[Any]] = {}
    for rel, found in per_file.items():
        # a file changed just now keeps no stats: its lines serve only as a matrix's kept variants
        # (checked against the build's actions), and it is planned again when unchanged next time
        files[rel] = [_stats(root, rel, inputs[rel], start) or {}, found]
    _write(root, Cache(env, [r.path for r in prep.project.recipes], files), changes_only=False)


# -- the quick plan ------------------------------------------------------------------------

def quick(cwd: Path, provider: str | None, batch: bool) -> tuple[Prepared, dict[str, Any]] | None:
    """The prepared plan of the changed files and the whole plan's data (`plan_json`'s), or None
    when the full plan must say."""
    from assetgen.run import stamp

    start = time.time_ns()
    root = stamp.find_root([], cwd)
    compared = stamp.compare(root, stamp.signature([], cwd, provider)) \
        or stamp.compare(root, stamp.signature([str(root)], cwd, provider))     # `build ROOT`: the same
    if compared is None or not compared.changed:
        return None
    from assetgen.recipe.model import ProviderKind
    from assetgen.run import delta

    prep = delta.prepare(compared, ProviderKind(provider) if provider else None)
    if prep is None or prep.rest is None:
        return None
    env = environment(root, prep.provider.value)
    cache = read(root, env) if env is not None else None
    loaded = [r.path for r in prep.project.recipes]
    files = {*prep.rest.files, *loaded}     # the build index's
    if cache is None or len(cache.order) != len(files) or not files.issuperset(cache.order):
        return None
    if [rel for rel in cache.order if rel in set(loaded)] != loaded:
        return None     # the loaded files planned in another order than the project's
    rest_lines = _rest(cache, compared, prep.rest.files, set(loaded))
    if rest_lines is None:
        return None
    from assetgen.plan.report import plan_json

    config = prep.project.config        # no calls in batches: `run.delta` takes none
    data = plan_json(prep.plan, prep.resolution, dict(config.pricing), config=config, batch=batch)
    fresh = blocks(prep.project, prep.plan, data["actions"])
    if fresh is None:
        return None
    ids = {line[0] for found in rest_lines.values() for line in found}
    if any(line["id"] in ids for line in data["actions"]):
        return None     # an action another file also makes: the full plan lists it once
    by_file: dict[str, list[dict[str, Any]]] = {rel: [] for rel in loaded}
    it = iter(data["actions"])
    for rel in loaded:
        by_file[rel] = [next(it) for _ in fresh[rel]]
        kept = prep.rest.kept.get(rel)
        if kept is not None and kept.some:      # a matrix planned in part: the rest of it as built
            whole = _with_kept(kept, prep, rel, by_file[rel], cache.files.get(rel))
            if whole is None:
                return None
            by_file[rel] = whole
            fresh[rel] = [[a["id"], a["op"], a["assets"], a["target"]] for a in whole]
    actions: list[dict[str, Any]] = []
    for rel in cache.order:
        if rel in by_file:
            actions += by_file[rel]
        else:
            actions += _cached(rest_lines[rel])
    data["actions"] = actions
    inputs = _inputs(prep.project)
    for rel in loaded:
        cache.files[rel] = [_stats(root, rel, inputs[rel], start) or {}, fresh[rel]]
        cache.newer.add(rel)
    _write(root, cache, changes_only=len(cache.newer) <= REWRITE_AFTER)
    return prep, data


def _cached(lines: Sequence[Line]) -> list[dict[str, Any]]:
    """Cached actions' entries, as `plan_json` makes them."""
    return [{"id": i, "op": op, "assets": list(assets), "target": target, "status": "cached", "reasons": [],
             "est_cost_usd": 0.0} for i, op, assets, target in lines]


def _with_kept(kept: Kept, prep: Prepared, rel: str, planned: list[dict[str, Any]],
               stored: Any) -> list[dict[str, Any]] | None:
    """A matrix file's entries in its variants' order: the planned ones, and the stored lines of
    the variants the build after a small change kept (when they are those variants' actions)."""
    from assetgen.recipe.reuse import combo_key

    if type(stored) is not list or len(stored) != 2 or type(stored[1]) is not list:
        return None
    lines = stored[1]
    columns = _columns(lines)
    if columns is None:
        return None
    assets = columns[2]     # each line of one variant, named by a string
    if not (set(map(len, assets)) <= {1} and set(map(type, chain.from_iterable(assets))) <= {str}):
        return None
    by_name: dict[str, list[Line]] = {}
    for (name,), line in zip(assets, lines, strict=True):
        by_name.setdefault(name, []).append(line)
    # the stored lines of the kept variants are their actions: the same (variant, id) pairs, as
    # many lines as actions (a record's actions are distinct), checked for all of them at once
    rows = list(kept.rows())
    records = [r for _, r in rows if r is not None]
    ours = [line for r in records for line in by_name.get(r.name, ())]
    if len(ours) != sum(len(r.actions) for r in records) or \
            {(ln[2][0], ln[0]) for ln in ours} != {(r.name, a[:ID]) for r in records for a in r.actions}:
        return None
    new: dict[str, list[dict[str, Any]]] = {}
    for entry in planned:
        if len(entry["assets"]) != 1:
            return None
        new.setdefault(entry["assets"][0], []).append(entry)
    recipe = next(r for r in prep.project.recipes if r.path == rel)
    names = {combo_key(v.asset, v.values): v.name for v in recipe.variants}
    found: list[dict[str, Any]] = []
    for key, record in rows:
        if record is None:
            name = names.get(key)
            if name is None or name not in new:
                return None
            found += new.pop(name)
            continue
        found += _cached(by_name.get(record.name, ()))
    return found if not new else None


def _rest(cache: Cache, compared: Compared, rest: Any, loaded: set[str]) -> dict[str, list[Line]] | None:
    """The stored lines of every file not loaded, when they were made from the bytes and inputs
    the build stamp holds (which the files still have: only the loaded ones changed)."""
    found: dict[str, list[Line]] = {}
    stamped = compared.files
    for rel in cache.order:
        if rel in loaded:
            continue
        raw = cache.files.get(rel)
        entry = rest.get(rel)
        if entry is None or type(raw) is not list or len(raw) != 2 or type(raw[0]) is not dict:
            return None
        stats, lines = raw
        if not entry.inputs:        # most files: the stat of the file only
            if len(stats) != 1 or rel not in stats or stats[rel] != stamped.get(rel):
                return None
        elif len(stats) != 1 + len(entry.inputs) or any(stamped.get(p) != s for p, s in stats.items()) \
                or rel not in stats or not stats.keys() >= set(entry.inputs):
            return None
        if type(lines) is not list or not set(map(type, lines)) <= {list} or len(lines) != len(entry.actions):
            return None
        try:
            if {ln[0] for ln in lines if ln} != {a[:ID] for a in entry.actions}:
                return None     # not the actions the build made
        except TypeError:       # an id that is not a string
            return None
        found[rel] = lines
    if _columns(list(chain.from_iterable(found.values()))) is None:
        return None
    return found
