"""The remote cache while a build runs: each action's share of it, fetched as the action becomes ready.

Before the executor runs an action it asks `Fetcher.need` what the local cache lacks that the remote
may hold: a call's record (and its images), a rendition's own bytes, the images the action reads.
`Fetcher.fetch` gets them on the build's transfer threads, at most `remote.workers` at once: they never
take one of the `-j` slots the API calls use and never wait for one, and a call the remote does not
hold goes to the API as soon as the remote says so. Every object is stored the moment it arrives
(checked against its hash), so a build that stops resumes where it was; a remote that is down
answers nothing more after its one warning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Container, Mapping
from concurrent.futures import Executor

from msgspec import Struct

from assetgen.cache import Store
from assetgen.plan.graph import Action
from assetgen.plan.status import Expect, Results, call_step, render_output, upstream_images
from assetgen.remote_cache.remote import RemoteCache


class Need(Struct, frozen=True):
    """What one action lacks locally that the remote may hold."""

    key: str                        # the action's key (messages name it)
    expect: Expect | None = None    # a call's record, to ask for
    rendition: str = ""             # a render's own bytes, by the hash its key promises
    images: tuple[tuple[str, str], ...] = ()    # (image, the key of the call that made it) it reads


class Fetched(Struct, frozen=True):
    results: tuple[str, ...] | None = None     # a call the remote holds: its results
    rendition: bool = False                    # a render's own bytes are at hand:
    data: bytes | None = None                  # downloaded (None: in the local cache)


class Fetcher:
    def __init__(self, remote: RemoteCache, store: Store, expected: Mapping[str, str],
                 encoder: str, pool: Executor) -> None:
        self.remote = remote
        self.store = store
        self.expected = expected    # render id -> the bytes its key promises
        self.encoder = encoder
        self.limit = max(1, remote.workers)
        self._pool = pool           # the build's transfer threads (`remote.workers`), uploads' too

    def need(self, action: Action, results: Results, keys: Mapping[str, str], forced: bool,
             recovered: Container[str]) -> Need | None:
        """What `action` may lack (None: nothing, or the remote is down); `results` and `keys` are
        those of the actions done so far. Nothing is read here: `fetch` looks in the local cache
        first, on its own threads."""
        if self.remote.down:
            return None
        key, expect, rendition = "", None, ""
        if action.call is not None:
            key = call_step(action, results).key
            if key and not forced:
                expect = Expect(action.op.value, action.call.provider, action.call.model)
        elif action.render is not None:
            key = render_output(action, results, self.encoder).key
            rendition = self.expected.get(action.id, "")
        images = []
        for dep, index in upstream_images(action):
            known = results.get(dep)
            if known and index < len(known) and known[index] not in recovered:
                images.append((known[index], keys.get(dep, "")))
        if expect is None and not rendition and not images:
            return None
        return Need(key, expect, rendition, tuple(images))

    async def fetch(self, need: Need) -> Fetched:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._fetch, need)

    def _fetch(self, need: Need) -> Fetched:
        if need.expect is not None and not self.store.has_results(need.key):
            results = self.remote.record(need.key, need.expect)
            if results is not None:
                return Fetched(results)
        if need.rendition:
            if self.store.has_object(need.rendition):
                return Fetched(rendition=True)
            data = self.remote.download(need.rendition, need.key)
            if data is not None:
                return Fetched(rendition=True, data=data)
        for sha, key in need.images:
            self.remote.object(sha, key)
        return Fetched()
