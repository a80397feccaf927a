"""Garbage collection of the cache: drop what no recipe and no lock entry reaches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assetgen.cache import Store
from assetgen.lockfile import Lock
from assetgen.plan.status import Resolution


@dataclass(frozen=True)
class Garbage:
    records: tuple[str, ...]
    objects: tuple[str, ...]
    bytes: int


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


def find(store: Store, resolution: Resolution, lock: Lock) -> Garbage:
    keys, objects = reachable(store, resolution, lock)
    records = tuple(sorted(k for k in store.record_keys() if k not in keys))
    blobs = tuple(sorted(s for s in store.object_shas() if s not in objects))
    size = sum(_size(store.actions / f"{k}.json") for k in records)
    size += sum(_size(store.object_path(s)) for s in blobs)
    return Garbage(records, blobs, size)


def remove(store: Store, garbage: Garbage) -> None:
    for key in garbage.records:
        (store.actions / f"{key}.json").unlink(missing_ok=True)
    for sha in garbage.objects:
        store.object_path(sha).unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
