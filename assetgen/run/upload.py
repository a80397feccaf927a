"""The remote cache while a build runs, in `write` mode: each call's result goes up once it is stored.

The executor hands `Uploader.call` every call it makes, right after the call's images and record are
in the local cache. The upload runs on the transfer threads the downloads use (`remote.workers` at
once): it never holds a `-j` slot and the scheduler never waits for it, and a build killed after an
hour of calls has left them in the remote. `wait` lets the uploads under way finish; the build's last
pass (`assetgen.run.share`) then gives the remote what is left (renditions, results made before this
build or collected from batches, uploads that had not started), and nothing twice: the remote cache
remembers what it created or found there. Uploads are create-only, and each image is read back from
the local cache and checked against its hash, as in the last pass.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any

from assetgen.cache import Store
from assetgen.plan.graph import Action
from assetgen.remote_cache.remote import SHA, RemoteCache, Upload, call_record


class Uploader:
    def __init__(self, remote: RemoteCache, store: Store, pool: Executor) -> None:
        self.remote = remote
        self.store = store
        self.pool = pool
        self._sent: list[Future[None]] = []

    def call(self, action: Action, key: str, results: tuple[str, ...], usage: Mapping[str, Any],
             deployment: str) -> None:
        """Queue the upload of a call just made and stored; returns at once."""
        spec = action.call
        if spec is None or self.remote.down or not SHA.fullmatch(key):
            return
        record = call_record(key, action.op.value, spec.provider, spec.model, results, usage, deployment)
        objects = tuple((sha, partial(self.store.get_object, sha)) for sha in results)
        try:
            self._sent.append(self.pool.submit(self.remote.put, Upload(objects, record)))
        except RuntimeError:    # the transfers have stopped (the build is ending): the last pass sends it
            pass

    def wait(self) -> None:
        """Until the uploads that started are done. Those that never started were cancelled when
        the transfers stopped, and are left out: `concurrent.futures.wait` would never return for
        a future cancelled while queued."""
        started = [sent for sent in self._sent if not sent.cancelled()]
        concurrent.futures.wait(started)
        for sent in started:
            if not sent.cancelled():
                sent.result()       # a bug surfaces; the remote's own failures are warnings
