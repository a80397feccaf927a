"""Look-ups in and uploads to the remote cache, bounded and concurrent, and never trusted.

Everything read from the remote is untrusted input: a record's key and hashes are checked (64
lowercase hex, the key asked for, the operation, provider and model of the call that asks), and
every downloaded image is hashed: bytes that do not match their name are never used, are reported
with the key they were fetched for, and count as a miss. Writes are create-only (`If-None-Match: *`):
nothing in the remote is ever replaced. A remote that cannot be reached costs one warning, and the
build goes on with the local cache.

`fetch=True` (build) downloads into the local cache, objects before the record that names them,
each written the moment it arrives, so a build that stops resumes where it was. `fetch=False`
(plan) only asks whether an object exists. `records` and `objects` ask for many at once (the
resolver, before anything runs); `record` and `object` for one (`assetgen.run.fetch`, while the
build runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from msgspec import Struct, field

from assetgen.cache import MAX_RECORD_BYTES, Store
from assetgen.plan.status import Expect
from assetgen.remote_cache.config import RemoteSpec, shown

WORKERS = 16            # transfers at once
MAX_OBJECT_BYTES = 64 << 20     # an image from the remote: the largest an API returns is a few tens of MB
SHA = re.compile(r"[0-9a-f]{64}")
QUERY = re.compile(r"(\w+://[^\s?]+)\?\S*")
OBJECTS = "objects"
ACTIONS = "actions"


class Upload(Struct, frozen=True):
    """One call's result (`record` set) or one rendition (`record` None): its objects go first."""

    objects: tuple[tuple[str, Callable[[], bytes | None]], ...]    # (sha, reads the bytes)
    record: dict[str, Any] | None = None


class Counts(Struct):
    hits: int = 0           # records and objects taken from the remote
    uploads: int = 0        # records and objects created in the remote
    corrupt: int = 0        # downloads that did not match their hash
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


def object_path(sha: str) -> str:
    return f"{OBJECTS}/{sha[:2]}/{sha}"


def record_path(key: str) -> str:
    return f"{ACTIONS}/{key}.json"


class RemoteCache:
    def __init__(self, spec: RemoteSpec, store: Any, local: Store, fetch: bool = True,
                 workers: int = WORKERS) -> None:
        self.spec = spec
        self.obj = store            # the obstore store
        self.local = local
        self.fetch = fetch
        self.workers = workers
        self.counts = Counts()
        self.warnings: list[str] = []
        self.down = False
        self._no_writes = False
        self._lock = threading.Lock()
        self._present: set[str] = set()     # object shas known to be in the remote
        self._recorded: set[str] = set()    # record keys known to be in the remote

    def probe(self) -> None:
        """A bucket or container that is not there (a typo in the URL) would look like an empty
        cache: every read a miss, every upload refused without a word. One listing says it once."""
        import obstore
        from obstore import exceptions as ox

        if self.obj is None:        # a folder that is not there, in read mode (`store.open_store`)
            self.down = True
            self._warn(f"remote cache {shown(self.spec.url)}: no such folder; going on with the local "
                       "cache only")
            return
        if self.spec.scheme == "file":
            return
        try:
            for _ in obstore.list(self.obj, prefix="actions", chunk_size=1):
                break
        except Exception as exc:  # noqa: BLE001 - not there, down or refused: each said once
            if isinstance(exc, ox.NotFoundError) or " 404 " in str(exc):
                self.down = True
                self._warn(f"remote cache {shown(self.spec.url)}: its bucket or container is not there; "
                           "going on with the local cache only")
            else:
                self._failed(exc, "read")

    # -- reading

    def records(self, wanted: Mapping[str, Expect]) -> dict[str, tuple[str, ...]]:
        """The results of each key the remote holds a valid, complete record for."""
        found: dict[str, tuple[str, ...]] = {}

        def one(key: str) -> None:
            results = self._record(key, wanted[key])
            if results is not None:
                found[key] = results

        self._each(one, [k for k in wanted if SHA.fullmatch(k)])
        return found

    def objects(self, wanted: Mapping[str, str]) -> set[str]:
        """Of the shas asked for (sha -> the key it is fetched for), those now in the local cache
        (fetch) or in the remote (look only)."""
        got: set[str] = set()

        def one(sha: str) -> None:
            if self._object(sha, wanted[sha]):
                got.add(sha)

        self._each(one, [s for s in wanted if SHA.fullmatch(s)])
        return got

    def record(self, key: str, expect: Expect) -> tuple[str, ...] | None:
        """The results of `key`, when the remote holds a valid record for it and its images."""
        return self._record(key, expect) if SHA.fullmatch(key) else None

    def object(self, sha: str, key: str) -> bool:
        """Whether the image `sha` (fetched for `key`) is now in the local cache (or, looking only,
        in the remote)."""
        return self._object(sha, key) if SHA.fullmatch(sha) else False

    def _record(self, key: str, expect: Expect) -> tuple[str, ...] | None:
        data = self._get(record_path(key), MAX_RECORD_BYTES)
        if data is None:
            return None
        rec = _parse_record(data, key, expect)
        if rec is None:
            self._warn(f"remote cache: the record for key {key} is not valid for this call; not used")
            return None
        results = tuple(rec["results"])
        if not all(self._object(sha, key) for sha in results):
            return None
        if self.fetch:
            self.local.put_record(key, expect.op, expect.provider, expect.model, results,
                                  rec.get("usage") or {}, **_extra(rec))
        self.counts.add("hits")
        return results

    def download(self, sha: str, key: str) -> bytes | None:
        """The bytes of `sha` (fetched for `key`) from the remote, checked against their hash, not
        stored: a rendition goes straight to its output."""
        if not SHA.fullmatch(sha):
            return None
        data = self._get(object_path(sha), MAX_OBJECT_BYTES)
        if data is None:
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            self.counts.add("corrupt")
            self._warn(f"remote cache: the image {sha} for key {key} does not match its hash; not used")
            return None
        self.counts.add("hits")
        return data

    def _object(self, sha: str, key: str) -> bool:
        if self.local.has_object(sha):
            return True
        if not self.fetch:
            return self._exists(object_path(sha))
        data = self.download(sha, key)
        if data is None:
            return False
        self.local.put_object(data, durable=False)      # the remote keeps the original
        return True

    # -- writing

    def upload(self, items: Iterable[Upload]) -> None:
        """Create what the remote lacks; never replace anything."""
        if not self.spec.writes:
            return
        self._each(self.put, list(items))

    def put(self, item: Upload) -> None:
        """Create what the remote lacks of one result, in this thread; nothing this remote cache
        created or saw there already is sent again."""
        if not self.spec.writes or self.down:
            return
        for sha, read in item.objects:
            if not self._put_object(sha, read):
                return      # a record never names an object the remote lacks
        if item.record is not None:
            key = item.record["key"]
            with self._lock:
                if key in self._recorded:
                    return
            body = json.dumps(item.record, sort_keys=True, indent=1).encode("utf-8")
            state = self._create_state(record_path(key), body)
            if state == "exists":
                self._other_record(key, tuple(item.record.get("results") or ()))
            if state in ("created", "exists"):
                with self._lock:
                    self._recorded.add(key)

    def _other_record(self, key: str, results: tuple[str, ...]) -> None:
        """The remote holds a record of `key` already: when it names other images (made first on
        another machine, or before a re-roll: records are never replaced), say that other builds
        take those, not this build's."""
        data = self._get(record_path(key), MAX_RECORD_BYTES)
        try:
            theirs = tuple(json.loads(data)["results"]) if data is not None else results
        except (ValueError, KeyError, TypeError, RecursionError):
            theirs = ()
        if theirs != results:
            self._warn(f"remote cache: the record of key {key} there names other images (made first "
                       "elsewhere, or before a re-roll); it stays, so other builds take those images, "
                       "not this build's")

    def _put_object(self, sha: str, read: Callable[[], bytes | None]) -> bool:
        with self._lock:
            if sha in self._present:
                return True
        if self._exists(object_path(sha)):
            present = True
        else:
            data = read()
            present = (data is not None and hashlib.sha256(data).hexdigest() == sha
                       and self._create(object_path(sha), data))
        if present:
            with self._lock:
                self._present.add(sha)
        return present

    # -- the store, with its failures sorted

    def _each(self, work: Callable[[Any], None], items: list[Any]) -> None:
        if self.down or not items:
            return
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(items)))
        try:
            for future in [pool.submit(work, item) for item in items]:
                future.result()
        finally:    # after Ctrl-C, what has not started never starts (what arrived is stored)
            pool.shutdown(wait=False, cancel_futures=True)

    def _get(self, path: str, limit: int) -> bytes | None:
        """The bytes at `path`, or None (missing, the remote down, or larger than `limit`: a remote
        is untrusted, and 16 transfers at once of what it says must not run the build out of
        memory; its size is known before its bytes are read)."""
        if self.down:
            return None
        import obstore

        try:
            found = obstore.get(self.obj, path)
            size = int(found.meta["size"])
            if size > limit:
                self._warn(f"remote cache: {path} is {size} bytes, more than the {limit} a "
                           f"{'record' if path.startswith(ACTIONS) else 'image'} may be; not used")
                return None
            return bytes(found.bytes())
        except Exception as exc:  # noqa: BLE001 - sorted by _failed
            self._failed(exc, "read")
            return None

    def _exists(self, path: str) -> bool:
        if self.down:
            return False
        import obstore

        try:
            obstore.head(self.obj, path)
            return True
        except Exception as exc:  # noqa: BLE001 - sorted by _failed
            self._failed(exc, "read")
            return False

    def _create(self, path: str, data: bytes) -> bool:
        """Put `data` unless something is there already; True when the path now holds an object."""
        return self._create_state(path, data) in ("created", "exists")

    def _create_state(self, path: str, data: bytes) -> str:
        """Put `data` unless something is there already: "created", "exists", or why not."""
        if self.down or self._no_writes:
            return "off"
        import obstore

        try:
            obstore.put(self.obj, path, data, mode="create")
        except Exception as exc:  # noqa: BLE001 - sorted by _failed
            return self._failed(exc, "write")
        self.counts.add("uploads")
        return "created"

    def _failed(self, exc: Exception, doing: str) -> str:
        from obstore import exceptions as ox

        if isinstance(exc, FileNotFoundError | ox.NotFoundError):
            return "missing"
        if isinstance(exc, FileExistsError | ox.AlreadyExistsError | ox.PreconditionError):
            return "exists"
        why = _first_line(exc)
        if isinstance(exc, PermissionError | ox.PermissionDeniedError | ox.UnauthenticatedError):
            if doing == "write":
                with self._lock:
                    first, self._no_writes = not self._no_writes, True
                if first:
                    self._warn(f"remote cache {shown(self.spec.url)} refused an upload ({why}); nothing "
                               "more is uploaded: check that these credentials may write, or use "
                               "remote_mode: read")
                return "denied"
        with self._lock:
            first, self.down = not self.down, True
        if first:
            self._warn(f"remote cache {shown(self.spec.url)} cannot be used ({why}); "
                       "going on with the local cache only")
        return "down"

    def _warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)


def call_record(key: str, op: str, provider: str, model: str, results: tuple[str, ...],
                usage: Mapping[str, Any], deployment: str | None) -> dict[str, Any]:
    """An action record as the remote keeps it, with who wrote it (for audit) when CI says so."""
    rec: dict[str, Any] = {"key": key, "op": op, "provider": provider, "model": model,
                           "results": list(results), "usage": dict(usage), "when": round(time.time(), 3)}
    if deployment:
        rec["deployment"] = deployment
    writer = _writer()
    if writer:
        rec["writer"] = writer
    return rec


def _writer() -> dict[str, str]:
    env = os.environ
    found = {}
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        found["run"] = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    if env.get("GITHUB_SHA"):
        found["commit"] = env["GITHUB_SHA"]
    return found


def _parse_record(data: bytes, key: str, expect: Expect) -> dict[str, Any] | None:
    try:
        rec = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):    # nested too deeply: RecursionError
        return None
    if not isinstance(rec, dict):
        return None
    results = rec.get("results")
    if (rec.get("key") != key or rec.get("op") != expect.op or rec.get("provider") != expect.provider
            or rec.get("model") != expect.model or not isinstance(results, list) or not results
            or not all(isinstance(s, str) and SHA.fullmatch(s) for s in results)):
        return None
    if not isinstance(rec.get("usage", {}), dict):
        rec["usage"] = {}
    return rec


def _extra(rec: Mapping[str, Any]) -> dict[str, Any]:
    deployment = rec.get("deployment")
    return {"deployment": deployment} if isinstance(deployment, str) and deployment else {}


def _first_line(exc: BaseException) -> str:
    """The first line of an error, with every URL's query (a SAS token) left out."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return QUERY.sub(r"\1?...", line)
