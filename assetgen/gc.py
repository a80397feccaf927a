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
from dataclasses import dataclass
from pathlib import Path

from assetgen.atomic import TEMP_PREFIX, is_stale, write_atomic
from assetgen.cache import Claim, Store
from assetgen.lockfile import Lock
from assetgen.plan.status import Resolution


@dataclass(frozen=True)
class Garbage:
    records: tuple[str, ...]
    objects: tuple[str, ...]
    bytes: int
    temps: tuple[Path, ...] = ()    # temp files a killed build left, an hour old or more


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


@dataclass(frozen=True)
class Sharing:
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


def find(store: Store, keys: set[str], objects: set[str]) -> Garbage:
    """Records and objects outside the reachable `keys` and `objects`."""
    records = tuple(sorted(k for k in store.record_keys() if k not in keys))
    blobs = tuple(sorted(s for s in store.object_shas() if s not in objects))
    size = sum(_size(store.actions / f"{k}.json") for k in records)
    size += sum(_size(store.object_path(s)) for s in blobs)
    now = time.time()
    temps = tuple(sorted(p for p in store.root.rglob(f"{TEMP_PREFIX}*") if p.is_file() and is_stale(p, now)))
    size += sum(_size(p) for p in temps)
    return Garbage(records, blobs, size, temps)


def remove(store: Store, garbage: Garbage) -> None:
    for key in garbage.records:
        (store.actions / f"{key}.json").unlink(missing_ok=True)
    for sha in garbage.objects:
        store.object_path(sha).unlink(missing_ok=True)
    for path in garbage.temps:
        path.unlink(missing_ok=True)
    locks = store.root / "locks"
    for path in sorted(locks.glob("*.lock")) if locks.is_dir() else ():
        claim = Claim(path)
        if claim.try_acquire():     # no build is making that call now
            path.unlink(missing_ok=True)
            claim.release()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
