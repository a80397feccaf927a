"""The content-addressed cache: image bytes by sha256, and action records by key.

Layout under `.assetgen/cache/` (or `$ASSETGEN_CACHE_DIR`):
  objects/ab/abcdef...      image bytes, stored once by their sha256
  actions/<key>.json        {key, op, provider, model, results: [sha256...], usage, when, deployment?}
  refused/<key>.json        {key, when, message}: a call the content filter refused (not sent again)
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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from msgspec import Struct, field, structs

from assetgen import statefiles
from assetgen.atomic import write_atomic

CACHE_ENV = "ASSETGEN_CACHE_DIR"
BUILDS_LOCK = "builds.lock"
STATE_DIR = ".assetgen"


def cache_dir(root: Path) -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else root / STATE_DIR / "cache"


def linked_state(root: Path) -> Path | None:
    """A folder of the project's state (`.assetgen/`, its cache and the cache's folders, the
    review's page and thumbnails) that is a symbolic link, which writing would follow out of the
    project; None when there is none. A cache kept elsewhere is `$ASSETGEN_CACHE_DIR`'s job, and
    that one is the user's own to arrange."""
    state = root / STATE_DIR
    thumbs = state / "thumbs"       # the review's thumbnails, by size
    folders = [state, state / "previews", state / "review", state / "review" / "img", thumbs]
    if thumbs.is_dir() and not thumbs.is_symlink():
        folders += sorted(thumbs.iterdir())
    if not os.environ.get(CACHE_ENV):
        cache = state / "cache"
        folders += [cache, *(cache / name for name in ("objects", "actions", "locks", "projects", "refused"))]
    return next((f for f in folders if f.is_symlink()), None)


class ActionRecord(Struct, frozen=True):
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


class Refusal(Struct, frozen=True):
    """A call the content filter refused: when, and what the provider said (its cause)."""

    key: str
    when: float
    message: str


MAX_REFUSAL_MESSAGE = 400


class Store:
    """Objects and action records on disk. Safe to share between concurrent builds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.actions = root / "actions"
        self.refused = root / "refused"
        self._records: dict[str, ActionRecord | None] = {}

    def object_path(self, sha: str) -> Path:
        """Where the object `sha` is stored; ValueError unless `sha` is a sha256 (a hash read from
        the lock or a record never becomes a path outside the cache)."""
        if not statefiles.is_sha(sha):
            raise ValueError(f"not a sha256: {sha[:80]!r}")
        return self.objects / sha[:2] / sha

    def has_object(self, sha: str) -> bool:
        if not statefiles.is_sha(sha):
            return False
        path = self.object_path(sha)
        return path.is_file() and not path.is_symlink()

    def get_object(self, sha: str) -> bytes | None:
        """The bytes stored under `sha`; None when missing or damaged (a damaged file is removed,
        so the next plan sees it missing and runs the call again)."""
        if not statefiles.is_sha(sha):
            return None
        path = self.object_path(sha)
        try:
            data = statefiles.read_bytes(path)
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            if not path.parent.is_symlink():    # removed only inside the cache
                path.unlink(missing_ok=True)
            return None
        return data

    def put_object(self, data: bytes, durable: bool = True) -> str:
        """Store `data` by its hash; `durable=False` (a copy from the remote cache, which keeps the
        original) skips the fsync."""
        sha = hashlib.sha256(data).hexdigest()
        if not self.has_object(sha):
            path = self.object_path(sha)
            if path.parent.is_symlink():    # never write through a link: replace it with a folder
                path.parent.unlink()
            write_atomic(path, data, durable)  # replaces a symlink at `path` itself
        return sha

    def record(self, key: str, fresh: bool = False) -> ActionRecord | None:
        """The action record of `key`; `fresh` reads it again (another build may have written it).
        None for a key that is not a sha256, or a record that is missing or damaged."""
        if not statefiles.is_sha(key):
            return None
        if fresh or key not in self._records:
            self._records[key] = self._read_record(key)
        return self._records[key]

    def forget(self, key: str) -> None:
        """Drop what this process read of `key`'s record (another process wrote it since)."""
        self._records.pop(key, None)

    def claim(self, key: str) -> Claim:
        """A lock on `key` across processes: the build holding it is the one making that call."""
        return Claim(self.root / "locks" / f"{key}.lock")

    def in_use(self, exclusive: bool = False) -> Claim:
        """Each build holds this shared while it runs, and `gc` exclusively while it removes: gc would
        otherwise remove an image a running build has stored but not yet named in a record."""
        return Claim(self.root / BUILDS_LOCK, shared=not exclusive)

    def _read_record(self, key: str) -> ActionRecord | None:
        """The record, or None when it is missing or damaged in any way (then the action is not
        cached: the lock still names a call's results, so this costs time, not a call)."""
        try:
            data = statefiles.read_json(self.actions / f"{key}.json", MAX_RECORD_BYTES)
        except (OSError, statefiles.Damaged):
            return None
        return _record(key, data)

    def put_record(self, key: str, op: str, provider: str, model: str, results: tuple[str, ...],
                   usage: dict[str, Any] | None = None, deployment: str = "",
                   durable: bool = True, remember: bool = True) -> ActionRecord:
        """`durable=False` skips the fsync (still all or nothing): for a record of work that is free
        to make again (a placeholder, a rendition), whose loss in a crash costs time only.
        `remember=False`: not kept in memory (a record nothing in this process reads again)."""
        rec = ActionRecord(key, op, provider, model, results, usage or {}, round(time.time(), 3), deployment)
        if paid(op, provider):
            self._keep_replaced(key, results)
        write_atomic(self.actions / f"{key}.json",
                     json.dumps(rec.to_json(), sort_keys=True, indent=1).encode("utf-8"), durable)
        if remember:
            self._records[key] = rec
        else:
            self._records.pop(key, None)
        return rec

    def _keep_replaced(self, key: str, results: tuple[str, ...]) -> None:
        """A paid call made again (`--force`: a re-roll) gets other images: the record of the ones it
        replaces is kept under a key of its own, which no plan looks up, so that `gc` keeps them for
        the grace of paid work nothing reaches (a checkout of the lock file before the re-roll
        still needs their bytes) instead of removing them at once."""
        old = self._read_record(key)
        if old is None or not old.results or old.results == results or not paid(old.op, old.provider):
            return
        kept = hashlib.sha256("\0".join(("replaced", key, *old.results)).encode("utf-8")).hexdigest()
        body = json.dumps(structs.replace(old, key=kept).to_json(), sort_keys=True, indent=1)
        write_atomic(self.actions / f"{kept}.json", body.encode("utf-8"))

    def has_results(self, key: str, verify: bool = False, fresh: bool = False) -> bool:
        """Whether every result of `key` is stored; `verify` also reads and checks the bytes."""
        rec = self.record(key, fresh)
        if rec is None:
            return False
        if verify:
            return all(self.get_object(s) is not None for s in rec.results)
        return all(self.has_object(s) for s in rec.results)

    def touch(self, keys: Iterable[str], when: float | None = None) -> None:
        """Mark the records of `keys` as reached now (their file's mtime): `gc` keeps a paid result
        for a while after nothing reaches it any more, counted from then. Safe to lose: a mtime
        that is lost or wrong only shortens or lengthens that grace."""
        stamp = time.time() if when is None else when
        for key in keys:
            if not statefiles.is_sha(key):
                continue
            path = self.actions / f"{key}.json"
            try:
                if not path.is_symlink():
                    os.utime(path, (stamp, stamp))
            except OSError:
                continue

    def refusal(self, key: str) -> Refusal | None:
        """The refusal recorded for `key`; None when there is none or it is damaged (then the call
        is sent again, which costs a refused request, not an image)."""
        if not statefiles.is_sha(key):
            return None
        path = self.refused / f"{key}.json"
        try:
            if path.is_symlink():
                return None
            data = statefiles.read_json(path, MAX_RECORD_BYTES)
        except (OSError, statefiles.Damaged):
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        when, message = data.get("when"), data.get("message")
        if not statefiles.is_number(when) or not isinstance(message, str):
            return None
        assert isinstance(when, int | float)
        shown = "".join(c if c.isprintable() else " " for c in message[:MAX_REFUSAL_MESSAGE])
        return Refusal(key, float(when), shown)

    def put_refusal(self, key: str, message: str) -> None:
        """Remember that the content filter refused the call `key` (safe to lose)."""
        data = {"key": key, "when": round(time.time(), 3), "message": message[:MAX_REFUSAL_MESSAGE]}
        write_atomic(self.refused / f"{key}.json", json.dumps(data, sort_keys=True, indent=1).encode("utf-8"),
                     durable=False)

    def drop_refusal(self, key: str) -> None:
        if statefiles.is_sha(key):
            (self.refused / f"{key}.json").unlink(missing_ok=True)

    def refusal_keys(self) -> Iterator[str]:
        if self.refused.is_dir():
            for p in self.refused.glob("*.json"):
                if statefiles.is_sha(p.stem):
                    yield p.stem

    def record_keys(self) -> Iterator[str]:
        if self.actions.is_dir():
            for p in self.actions.glob("*.json"):
                yield p.stem

    def object_shas(self) -> Iterator[str]:
        if self.objects.is_dir():
            for p in self.objects.glob("??/*"):
                if statefiles.is_sha(p.name) and p.parent.name == p.name[:2]:
                    yield p.name


MAX_RECORD_BYTES = 1 << 20


def paid(op: str, provider: str) -> bool:
    """Whether a record is of paid work: a remote provider's call (not a rendition, not a placeholder)."""
    return op != "render" and provider not in ("local", "pillow")


def _record(key: str, data: Any) -> ActionRecord | None:
    """An action record from its JSON, checked: the key it was read under, strings where strings
    belong, sha256 results, a usage object and a finite time."""
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    op, provider, model = data.get("op"), data.get("provider"), data.get("model")
    results, usage, when = data.get("results"), data.get("usage") or {}, data.get("when", 0)
    if not (isinstance(op, str) and isinstance(provider, str) and isinstance(model, str)):
        return None
    if not isinstance(results, list) or not all(statefiles.is_sha(r) for r in results):
        return None
    deployment = data.get("deployment") or ""
    if not isinstance(usage, dict) or not statefiles.is_number(when) or not isinstance(deployment, str):
        return None
    return ActionRecord(key, op, provider, model, tuple(results), usage, float(when), deployment)


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
