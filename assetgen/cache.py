"""The content-addressed cache: image bytes by sha256, and action records by key.

Layout under `.assetgen/cache/` (or `$ASSETGEN_CACHE_DIR`):
  objects/ab/abcdef...      image bytes, stored once by their sha256
  actions/<key>.json        {key, op, provider, model, results: [sha256...], usage, when, deployment?}
A record names the deployment that served the call (several may serve one model); it is not part
of the key.
Every write is atomic (temp + fsync + rename), and objects are written before the record that
names them, so a record never points at a missing or torn object.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assetgen.atomic import write_atomic

CACHE_ENV = "ASSETGEN_CACHE_DIR"
BUILDS_LOCK = "builds.lock"
STATE_DIR = ".assetgen"


def cache_dir(root: Path) -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else root / STATE_DIR / "cache"


@dataclass(frozen=True)
class ActionRecord:
    key: str
    op: str
    provider: str
    model: str
    results: tuple[str, ...]
    usage: dict[str, Any] = field(default_factory=dict)
    when: float = 0.0
    deployment: str = ""                # which deployment served the call ("" when not known)

    def to_json(self) -> dict[str, Any]:
        data = {"key": self.key, "op": self.op, "provider": self.provider, "model": self.model,
                "results": list(self.results), "usage": self.usage, "when": self.when}
        if self.deployment:
            data["deployment"] = self.deployment
        return data


class Store:
    """Objects and action records on disk. Safe to share between concurrent builds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.actions = root / "actions"
        self._records: dict[str, ActionRecord | None] = {}

    def object_path(self, sha: str) -> Path:
        return self.objects / sha[:2] / sha

    def has_object(self, sha: str) -> bool:
        return self.object_path(sha).is_file()

    def get_object(self, sha: str) -> bytes | None:
        """The bytes stored under `sha`; None when missing or damaged (a damaged file is removed,
        so the next plan sees it missing and runs the call again)."""
        path = self.object_path(sha)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            path.unlink(missing_ok=True)
            return None
        return data

    def put_object(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.object_path(sha)
        if not path.is_file():
            write_atomic(path, data)
        return sha

    def record(self, key: str, fresh: bool = False) -> ActionRecord | None:
        """The action record of `key`; `fresh` reads it again (another build may have written it)."""
        if fresh or key not in self._records:
            self._records[key] = self._read_record(key)
        return self._records[key]

    def claim(self, key: str) -> Claim:
        """A lock on `key` across processes: the build holding it is the one making that call."""
        return Claim(self.root / "locks" / f"{key}.lock")

    def in_use(self, exclusive: bool = False) -> Claim:
        """Each build holds this shared while it runs, and `gc` exclusively while it removes: gc would
        otherwise remove an image a running build has stored but not yet named in a record."""
        return Claim(self.root / BUILDS_LOCK, shared=not exclusive)

    def _read_record(self, key: str) -> ActionRecord | None:
        try:
            data = json.loads((self.actions / f"{key}.json").read_bytes())
            return ActionRecord(key=data["key"], op=data["op"], provider=data["provider"],
                                model=data["model"], results=tuple(data["results"]),
                                usage=data.get("usage") or {}, when=float(data.get("when", 0)),
                                deployment=str(data.get("deployment") or ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put_record(self, key: str, op: str, provider: str, model: str, results: tuple[str, ...],
                   usage: dict[str, Any] | None = None, deployment: str = "") -> ActionRecord:
        rec = ActionRecord(key, op, provider, model, results, usage or {}, round(time.time(), 3), deployment)
        write_atomic(self.actions / f"{key}.json",
                     json.dumps(rec.to_json(), sort_keys=True, indent=1).encode("utf-8"))
        self._records[key] = rec
        return rec

    def has_results(self, key: str, verify: bool = False, fresh: bool = False) -> bool:
        """Whether every result of `key` is stored; `verify` also reads and checks the bytes."""
        rec = self.record(key, fresh)
        if rec is None:
            return False
        if verify:
            return all(self.get_object(s) is not None for s in rec.results)
        return all(self.has_object(s) for s in rec.results)

    def record_keys(self) -> Iterator[str]:
        if self.actions.is_dir():
            for p in self.actions.glob("*.json"):
                yield p.stem

    def object_shas(self) -> Iterator[str]:
        if self.objects.is_dir():
            for p in self.objects.glob("??/*"):
                if not p.name.startswith("."):
                    yield p.name


class Claim:
    """An exclusive advisory lock (flock) on one action key, so two builds sharing a cache never
    pay twice for one call: the second waits for the first's result. The kernel drops the lock when
    its process dies, so a killed build never leaves a key claimed. Without flock (Windows) every
    claim succeeds at once."""

    def __init__(self, path: Path, shared: bool = False) -> None:
        self.path = path
        self.shared = shared
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        return self._lock(wait=False)

    def acquire(self) -> None:
        """Wait for the lock."""
        self._lock(wait=True)

    def _lock(self, wait: bool) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)      # closing the descriptor drops the lock
            self._fd = None
