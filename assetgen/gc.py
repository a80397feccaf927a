"""Garbage collection of the cache: drop what no recipe and no lock entry reaches.

A cache may be shared by several projects (`$ASSETGEN_CACHE_DIR`). Each project that builds with
such a cache registers its root under `projects/` in it, and `gc` keeps what every registered
project still reaches, loading each one as it is now. A registration whose project folder is gone
is forgotten.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from msgspec import Struct

from assetgen.atomic import TEMP_PREFIX, is_stale, write_atomic
from assetgen.cache import Claim, Store, paid
from assetgen.lockfile import Lock
from assetgen.plan.graph import Plan
from assetgen.plan.status import Resolution


class Garbage(Struct, frozen=True):
    records: tuple[str, ...]
    objects: tuple[str, ...]
    bytes: int
    temps: tuple[Path, ...] = ()    # temp files a killed build left, an hour old or more
    kept: tuple[Kept, ...] = ()     # paid results nothing reaches, kept for their grace
    kept_bytes: int = 0             # their records and the images only they name
    refusals: tuple[str, ...] = ()  # remembered refusals of calls nothing makes any more


class Kept(Struct, frozen=True):
    key: str
    provider: str
    model: str
    results: tuple[str, ...]
    last_reached: float


PROJECTS = "projects"
PROJECT_MARKERS = ("assetgen.yaml", "assetgen.lock")


def _registration(cache: Path, root: Path) -> Path:
    return cache / PROJECTS / f"{hashlib.sha256(str(root).encode()).hexdigest()[:32]}.json"


def register(cache: Path, root: Path) -> None:
    """Note in a shared cache that the project at `root` uses it (written once)."""
    root = root.resolve()
    path = _registration(cache, root)
    if not path.is_file():
        write_atomic(path, json.dumps({"root": str(root)}).encode("utf-8"))


class Sharing(Struct, frozen=True):
    others: tuple[Path, ...]     # other projects using this cache
    gone: tuple[Path, ...]       # registrations of projects that no longer exist


def sharing(cache: Path, root: Path) -> Sharing:
    root = root.resolve()
    others: list[Path] = []
    gone: list[Path] = []
    folder = cache / PROJECTS
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            other = Path(json.loads(path.read_bytes())["root"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            gone.append(path)
            continue
        if other == root:
            continue
        if any((other / m).is_file() for m in PROJECT_MARKERS):
            others.append(other)
        else:
            gone.append(path)
    return Sharing(tuple(others), tuple(gone))


def reachable(store: Store, resolution: Resolution, lock: Lock) -> tuple[set[str], set[str]]:
    """(record keys, object hashes) that the current recipes or the lock file reach."""
    keys = {st.key for st in resolution.states.values() if st.key}
    for asset in lock.assets.values():
        keys |= {s.key for s in asset.steps} | {o.key for o in asset.outputs}
    objects = {sha for a in lock.assets.values() for s in a.steps for sha in s.results}
    for key in keys:
        rec = store.record(key)
        if rec is not None and rec.op != "render":
            objects |= set(rec.results)
    return keys, objects


GRACE_DAYS = 30.0      # how long a paid result nothing reaches is kept, after it was last reached
DAY = 86400.0


class Reached(Struct, frozen=True):
    """When a project's stamped build last reached what it reached (`run.stamp.reached`): records
    touched at `at` were still reached at `until` (the last no-op build, which reads no record)."""

    at: float
    until: float


def reached_calls(plan: Plan, resolution: Resolution, *locks: Lock) -> set[str]:
    """The keys of the calls a plan and lock files reach: what a build or plan marks as reached."""
    found = {st.key for a in plan.actions if a.is_call and (st := resolution.states[a.id]).key}
    for lock in locks:
        found |= {s.key for asset in lock.assets.values() for s in asset.steps}
    return {k for k in found if k}


def find(store: Store, keys: set[str], objects: set[str], older_than: float = GRACE_DAYS,
         stamps: tuple[Reached, ...] = (), now: float | None = None) -> Garbage:
    """Records and objects outside the reachable `keys` and `objects`, except paid results (a
    remote provider's call) last reached less than `older_than` days ago: those, and the images
    they name, are in `Garbage.kept`. Render records and placeholders (the local provider) go at
    once: they cost nothing to make again."""
    now = time.time() if now is None else now
    records: list[str] = []
    kept: list[Kept] = []
    for key in sorted(k for k in store.record_keys() if k not in keys):
        rec = store.record(key)
        if rec is None or not paid(rec.op, rec.provider) or older_than <= 0:
            records.append(key)
            continue
        last = _last_reached(store, key, stamps, now)
        if now - last < older_than * DAY:
            kept.append(Kept(key, rec.provider, rec.model, rec.results, last))
        else:
            records.append(key)
    keep = objects | {sha for k in kept for sha in k.results}
    blobs = tuple(sorted(s for s in store.object_shas() if s not in keep))
    size = sum(size_of(store.actions / f"{k}.json") for k in records)
    size += sum(size_of(store.object_path(s)) for s in blobs)
    temps = tuple(sorted(p for p in store.root.rglob(f"{TEMP_PREFIX}*") if p.is_file() and is_stale(p, now)))
    size += sum(size_of(p) for p in temps)
    refusals = tuple(sorted(k for k in store.refusal_keys() if k not in keys))
    size += sum(size_of(store.refused / f"{k}.json") for k in refusals)
    held = sum(size_of(store.actions / f"{k.key}.json") for k in kept)
    held += sum(size_of(store.object_path(s)) for s in {sha for k in kept for sha in k.results}
                if store.has_object(s) and s not in objects)
    return Garbage(tuple(records), blobs, size, temps, tuple(kept), held, refusals)


def _last_reached(store: Store, key: str, stamps: tuple[Reached, ...], now: float) -> float:
    """When the record of `key` was last reached: its file's mtime, which builds, plans and gc set
    when they reach it; later when a no-op build (which reads no record) proved it still reached.
    A mtime in the future (a wrong clock, a hand) is set to now, so the grace runs from now once."""
    path = store.actions / f"{key}.json"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return 0.0
    if mtime > now:
        store.touch([key], now)
        return now
    for stamp in stamps:
        if abs(mtime - stamp.at) <= STAMP_SLACK and stamp.until > mtime:
            mtime = min(stamp.until, now)
    return mtime


STAMP_SLACK = 2.0       # seconds: file systems that keep mtimes coarsely (FAT: 2 s)


def remove(store: Store, garbage: Garbage) -> None:
    for key in garbage.records:
        (store.actions / f"{key}.json").unlink(missing_ok=True)
    for sha in garbage.objects:
        store.object_path(sha).unlink(missing_ok=True)
    for path in garbage.temps:
        path.unlink(missing_ok=True)
    for key in garbage.refusals:
        store.drop_refusal(key)
    locks = store.root / "locks"
    for path in sorted(locks.glob("*.lock")) if locks.is_dir() else ():
        claim = Claim(path)
        if claim.try_acquire():     # no build is making that call now
            path.unlink(missing_ok=True)
            claim.release()


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
