"""The asyncio DAG executor: runs the actions the plan marked RUN, up to `-j` calls and `-j`
renditions at once (a rendition never waits for a slot a call holds while it waits for its quota).

Among ready actions the one with the longest chain of dependants starts first. A call's result is
in the cache (objects, then record) before anything that depends on it starts. After a failure the
executor goes on with independent work (`fail_fast` stops starting new work); `stop()` (first
Ctrl-C) lets the calls whose request is on the wire finish and save, and sends nothing new: a call
still waiting for its quota slot ends unsent and counts as not started, like its dependants.
Refused credentials stop the build the same way and are remembered in `Outcome.halted`.

With a remote cache, an action that becomes ready first gets what it lacks from the remote
(`assetgen.run.fetch`), outside the `-j` slots: a call the remote holds is done there, anything
else then queues for its slot as usual. In `write` mode each call made is uploaded once it is
stored (`assetgen.run.upload`), on the same transfer threads.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from assetgen.atomic import write_atomic
from assetgen.cache import Store
from assetgen.lockfile import LockOutput, LockStep
from assetgen.plan import keys
from assetgen.plan.explain import Why, day
from assetgen.plan.files import FileHashes
from assetgen.plan.graph import Action, Plan, RenderSpec, Role
from assetgen.plan.recovery import Recovered
from assetgen.plan.status import UNSENT, ActionState, Status, call_step, render_output
from assetgen.providers.base import ImageRequest, NotSent, Provider, ProviderError
from assetgen.recipe.model import Output
from assetgen.run import images, inputs, jobs
from assetgen.run.events import Event, Kind, Sink
from assetgen.run.fetch import Fetched, Fetcher
from assetgen.run.jobs import Target, Wrote, kept_message
from assetgen.run.upload import Uploader
from assetgen.workers import Workers, usable

CLAIM_POLL = 0.1     # seconds between looks at a call another build is making
WORKERS_AFTER = 32   # placeholders to draw beyond which worker processes draw, store and render them

__all__ = ["ActionFailed", "Executor", "Failure", "Kept", "Outcome", "Settings", "kept_message"]


class Failure(Struct, frozen=True):
    assets: tuple[str, ...]
    message: str
    action: str = ""
    cause: str = ""      # the start of `message` that every failure of the same cause shares


class Outcome(Struct):
    results: dict[str, tuple[str, ...]] = field(default_factory=dict)  # action id -> result hashes
    keys: dict[str, str] = field(default_factory=dict)                  # action id -> key
    failures: list[Failure] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)     # not run because an upstream action failed
    not_started: set[str] = field(default_factory=set)
    halted: str | None = None    # why a fatal error (refused credentials) stopped the build
    calls: int = 0
    requests: int = 0
    written: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)     # output path -> why it was kept, not written
    adopted: set[str] = field(default_factory=set)         # output paths whose bytes were adopted
    interrupted: bool = False


class Settings(Struct, frozen=True):
    root: Path
    jobs: int = 8
    fail_fast: bool = False
    forced: frozenset[str] = frozenset()
    previews: int | None = None
    encoder: str = ""
    overwrite: bool = False                      # replace outputs changed by hand
    adopt: frozenset[str] = frozenset()          # output paths whose current bytes become the output
    written: Mapping[str, LockOutput] = field(default_factory=dict)   # the lock: what assetgen left where
    # action id -> the FILE:LINE of its recipe step, named by a failure the recipe caused (filtered)
    locations: Mapping[str, str] = field(default_factory=dict)


class ActionFailed(Exception):
    pass


class Refused(ActionFailed):
    """A call the content filter refused before, not sent again."""


class Kept(Exception):
    """An output changed by hand since assetgen wrote it (or never written by assetgen) is not replaced."""


class Executor:
    def __init__(self, plan: Plan, states: dict[str, ActionState], store: Store, files: FileHashes,
                 provider: Provider, settings: Settings, sink: Sink,
                 recovered: Mapping[str, Recovered] | None = None,
                 ready: Mapping[str, str] | None = None, fetcher: Fetcher | None = None,
                 later: Mapping[str, tuple[str, ActionState]] | None = None,
                 uploader: Uploader | None = None) -> None:
        self.plan = plan
        self.by_id = plan.by_id()
        self.states = states
        self.store = store
        self.files = files
        self.provider = provider
        self.settings = settings
        self.sink = sink
        self.out = Outcome()
        self.stopping = False
        self.unsent: set[str] = set()    # calls that ended before sending: not started
        self.ready = dict(ready or {})   # render id -> the stored bytes of its output (remote cache)
        self.recovered = recovered or {}
        self.images = images.Images(store, settings.root, self.recovered, _overwritten(plan, states))
        self.fetcher = fetcher
        self.uploader = uploader         # write mode: each call made goes to the remote once stored
        self.later = later or {}         # blocked unless the remote has the image it lacks
        self.held: dict[str, bytes] = {}     # render id -> its rendition, downloaded, not yet written
        # many placeholders to draw: worker processes draw and store them, and render what they
        # drew (chunks of jobs; this process handles hashes, never image bytes)
        self.workers: Workers | None = None
        self.cache = store.root.absolute()      # for workers: a forkserver keeps the cwd it started in
        for aid, st in states.items():
            if st.status is Status.CACHED and st.results is not None:
                self.out.results[aid] = st.results
                if st.key:
                    self.out.keys[aid] = st.key

    def stop(self) -> None:
        """First Ctrl-C: send no new request; calls on the wire finish and save, ready renders still run."""
        if not self.out.interrupted:
            self.out.interrupted = True
            self.provider.stop()
            self.sink(Event(Kind.INTERRUPTED))

    async def run(self) -> Outcome:
        todo = [a.id for a in self.plan.actions if self.states[a.id].status is not Status.CACHED]
        drawings = sum(1 for aid in todo if _is_placeholder(self.by_id[aid]))
        size = usable() if drawings > WORKERS_AFTER else 0
        if size:
            self.workers = Workers(size, [jobs.__name__])
        try:
            return await self._run(todo)
        finally:
            if self.workers is not None:
                await self.workers.aclose()

    async def _run(self, todo: list[str]) -> Outcome:
        pending = set(todo)
        blocked = [aid for aid in todo if self.states[aid].status in UNSENT]
        # per action, how many of its upstream actions in `todo` have not finished (a count, not a
        # set: a set per action of a large project costs more than the rest of the scheduling)
        waiting: dict[str, int] = {}
        dependants: dict[str, list[str]] = {}     # only actions something waits for
        for aid in todo:
            if self.states[aid].status in UNSENT:     # it fails without reading: it waits for nothing
                waiting[aid] = 0
                continue
            deps = {d for d in self.by_id[aid].deps if d in pending}
            waiting[aid] = len(deps)
            for d in deps:
                dependants.setdefault(d, []).append(aid)
        # the order to start ready actions in: the longest chain of dependants first, then the plan's
        priority = _priorities(todo, dependants)
        stuck = _closure(blocked, dependants)
        self.sink(Event(Kind.STARTED, total=len(self.plan.actions), queued=len(todo) - len(stuck),
                        blocked=len(stuck)))
        for aid in blocked:     # before anything starts: with --fail-fast, no call is made
            await self.one(self.by_id[aid])
            pending.discard(aid)
            self.block(aid, dependants, pending)
        # waiting for a -j slot: calls, and renditions (which never wait for a call's slot)
        ready: dict[bool, list[tuple[int, str]]] = {True: [], False: []}
        remote: list[tuple[int, str]] = []     # waiting to fetch from the remote cache
        asked: set[str] = set()

        def queue(aid: str) -> None:
            entry = (priority[aid], aid)
            if aid not in asked and self.fetcher is not None:
                asked.add(aid)
                heapq.heappush(remote, entry)
            else:
                heapq.heappush(ready[self.by_id[aid].is_call], entry)

        def release(aid: str) -> None:
            for nxt in dependants.get(aid, ()):
                waiting[nxt] -= 1
                if not waiting[nxt] and nxt in pending:
                    queue(nxt)

        for aid in todo:
            if not waiting[aid] and aid in pending:
                queue(aid)
        running: dict[asyncio.Future[Any], str] = {}     # one(): None
        fetching: dict[asyncio.Future[Any], str] = {}    # fetch(): Fetched | None
        busy = {True: 0, False: 0}                       # calls, renditions running
        limit = self.fetcher.limit if self.fetcher is not None else 0
        while ready[True] or ready[False] or remote or running or fetching:
            while remote and len(fetching) < limit and not self.stopping:
                _, aid = heapq.heappop(remote)
                if self.out.interrupted and self.by_id[aid].is_call:
                    continue
                fetching[asyncio.ensure_future(self.fetch(self.by_id[aid]))] = aid
            for calls, heap in ready.items():
                while heap and busy[calls] < max(1, self.settings.jobs) and not self.stopping:
                    _, aid = heapq.heappop(heap)
                    if self.out.interrupted and calls:
                        continue
                    busy[calls] += 1
                    running[asyncio.ensure_future(self.one(self.by_id[aid]))] = aid
            if not running and not fetching:
                break
            done, _ = await asyncio.wait([*running, *fetching], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task in fetching:
                    aid = fetching.pop(task)
                    if task.result() is None:       # not a call the remote holds: it runs
                        queue(aid)
                    else:
                        pending.discard(aid)
                        release(aid)
                    continue
                aid = running.pop(task)
                busy[self.by_id[aid].is_call] -= 1
                if aid in self.unsent:      # stays pending: not started, and nor are its dependants
                    continue
                pending.discard(aid)
                if task.result() is None and aid in self.out.results:
                    release(aid)
                else:
                    self.block(aid, dependants, pending)
        self.out.not_started = pending - self.out.blocked
        return self.out

    async def fetch(self, action: Action) -> Fetched | None:
        """Get what `action` lacks from the remote cache; a Fetched with results when it was a call
        the remote holds (it is done), None when the action is to run."""
        assert self.fetcher is not None
        need = self.fetcher.need(action, self.out.results, self.out.keys, action.id in self.settings.forced,
                                 self.recovered)
        got = Fetched()
        if need is not None:
            try:
                got = await self.fetcher.fetch(need)
            except OSError:     # the local cache could not store it: the action runs, and says why
                got = Fetched()
            if got.results is not None:
                self.out.results[action.id] = got.results
                self.out.keys[action.id] = need.key
                self.sink(Event(Kind.ACTION_START, action.id, action.op.value, action.assets))
                self.sink(Event(Kind.ACTION_DONE, action.id, action.op.value, action.assets))
                return got
            if got.rendition:
                self.ready[action.id] = need.rendition
                if got.data is not None:
                    self.held[action.id] = got.data
        lacking = self.later.get(action.id)
        if lacking is not None and action.id not in self.ready and not self.store.has_object(lacking[0]):
            self.states[action.id] = lacking[1]     # blocked after all: one() says why
        return None

    def block(self, aid: str, dependants: Mapping[str, list[str]], pending: set[str]) -> None:
        for nxt in dependants.get(aid, ()):
            if nxt in pending:
                pending.discard(nxt)
                self.out.blocked.add(nxt)
                self.block(nxt, dependants, pending)

    async def one(self, action: Action) -> None:
        self.sink(Event(Kind.ACTION_START, action.id, action.op.value, action.assets))
        try:
            if self.states[action.id].status is Status.BLOCKED:
                raise ActionFailed(blocked_message(self.states[action.id], action))
            if self.states[action.id].status is Status.REFUSED:
                raise Refused(refused_message(self.states[action.id]))
            if action.is_call:
                requests = await self.call(action)
                wrote = ""
            else:
                requests = 0
                wrote = await self.render(action)
        except Kept as kept:
            assert action.render is not None
            self.out.kept[action.render.output.path] = str(kept)
            self.sink(Event(Kind.ACTION_DONE, action.id, action.op.value, action.assets, kept=str(kept)))
            return None
        except NotSent as unsent:
            self.out.requests += unsent.requests
            self.unsent.add(action.id)
            self.sink(Event(Kind.ACTION_STOPPED, action.id, action.op.value, action.assets,
                            requests=unsent.requests))
            return None
        except (ProviderError, ActionFailed, inputs.MissingInput, OSError) as exc:
            message = cause = str(exc)
            where = self.settings.locations.get(action.id)
            if isinstance(exc, ProviderError):
                cause = exc.cause
                if exc.about_recipe and where:
                    message, cause = f"{where}: {message}", f"{where}: {cause}"
                if exc.filtered and action.id in self.out.keys:
                    self.remember_refusal(self.out.keys[action.id], exc.cause)
            elif isinstance(exc, Refused) and where:
                message = cause = f"{where}: {message}"
            self.out.failures.append(Failure(action.assets, message, action.id, cause))
            if isinstance(exc, ProviderError):
                self.out.requests += exc.requests
                if exc.fatal:
                    self.stopping = True
                    self.out.halted = self.out.halted or str(exc)
            if self.settings.fail_fast:
                self.stopping = True
            self.sink(Event(Kind.ACTION_FAILED, action.id, action.op.value, action.assets, message,
                            cause=cause))
            return None
        self.sink(Event(Kind.ACTION_DONE, action.id, action.op.value, action.assets,
                        requests=requests, wrote=wrote))
        return None

    async def call(self, action: Action) -> int:
        step = call_step(action, self.out.results)
        spec = action.call
        assert spec is not None and step.key
        self.remember_key(action.id, step.key)
        if self.reuse(action, step.key, fresh=False):
            return 0
        if spec.provider == "local":     # free and deterministic: another build drawing it too is harmless
            return await self.make(action, step)
        claim = self.store.claim(step.key)
        while not claim.try_acquire():      # another build is making this very call: wait for it
            if self.out.interrupted or self.stopping:
                raise NotSent()
            await asyncio.sleep(CLAIM_POLL)
        try:
            if self.reuse(action, step.key, fresh=True):    # the other build made it meanwhile
                return 0
            return await self.make(action, step)
        finally:
            claim.release()

    def remember_key(self, aid: str, key: str) -> None:
        """The key an action ran with: the planned key's string when it is the same (one string
        per action kept for the lock, not two)."""
        planned = self.states[aid].key
        self.out.keys[aid] = planned if planned == key else key

    def remember_refusal(self, key: str, cause: str) -> None:
        """The next build does not send this call again (unless forced): it would be refused again."""
        try:
            self.store.put_refusal(key, cause)
        except OSError:
            pass        # safe to lose: the call is sent again, and refused again

    def reuse(self, action: Action, key: str, fresh: bool) -> bool:
        """Take the cached result of `key` (unless forced); `fresh` reads its record again."""
        if action.id in self.settings.forced or not self.store.has_results(key, fresh=fresh):
            return False
        rec = self.store.record(key)
        assert rec is not None
        self.out.results[action.id] = rec.results
        return True

    async def make(self, action: Action, step: LockStep) -> int:
        spec = action.call
        assert spec is not None and step.key
        root = self.settings.root
        pairs = zip(spec.sources, step.inputs, strict=True)
        loaded = [inputs.load(s, i.sha256, root, self.images.get) for s, i in pairs]
        for source, lock_input, image in zip(spec.sources, step.inputs, loaded, strict=True):
            if source.file is not None and keys.sha256_bytes(image.data) != lock_input.sha256:
                raise ActionFailed(f"{source.file} changed during the build; build again")
        mask = next((img for s, img in zip(spec.sources, loaded, strict=True) if s.role is Role.MASK), None)
        images = tuple(img for s, img in zip(spec.sources, loaded, strict=True) if s.role is not Role.MASK)
        request = ImageRequest(op=action.call_op, model=spec.model, prompt=spec.prompt,
                               params=dict(spec.params), label=spec.label, history=spec.history,
                               images=images, mask=mask,
                               partial_images=self.settings.previews or None,
                               on_partial=self.preview_saver(spec.label))
        if self.workers is not None and _is_placeholder(action) and request.on_partial is None:
            return await self.draw_in_worker(action, step.key, request)
        result = await self.provider.run(request)
        self.out.calls += 1
        self.out.requests += result.requests
        if not result.images:
            raise ActionFailed("the provider returned no image")
        shas = await asyncio.to_thread(self.save, step.key, action, result.images, dict(result.usage),
                                       result.served_by)
        self.out.results[action.id] = shas
        if self.uploader is not None:
            self.uploader.call(action, step.key, shas, dict(result.usage), result.served_by)
        return result.requests

    async def draw_in_worker(self, action: Action, key: str, request: ImageRequest) -> int:
        """A placeholder drawn and stored by a worker (`jobs.draw_and_store`): the same objects and
        record as `save` writes."""
        assert self.workers is not None
        shas = await self.workers.run(jobs.draw_and_store, request, self.cache, key, action.op.value)
        self.store.forget(key)      # the record of "missing" read while planning
        self.out.calls += 1
        if not shas:
            raise ActionFailed("the provider returned no image")
        self.out.results[action.id] = shas
        if self.uploader is not None:
            self.uploader.call(action, key, shas, {}, "")
        return 0

    def save(self, key: str, action: Action, images: tuple[bytes, ...],
             usage: dict[str, object], served_by: str = "") -> tuple[str, ...]:
        """Objects first, then the record that names them: a record never points at a missing image."""
        spec = action.call
        assert spec is not None
        durable = spec.provider != "local"      # a placeholder lost in a crash is drawn again, free
        shas = tuple(self.store.put_object(b, durable) for b in images)
        self.store.put_record(key, action.op.value, spec.provider, spec.model, shas, usage, served_by,
                              durable=durable)
        self.store.drop_refusal(key)    # sent again on purpose (--force), and served this time
        return shas

    def preview_saver(self, label: str) -> Callable[[int, bytes], None] | None:
        if not self.settings.previews:
            return None
        folder = self.settings.root / ".assetgen" / "previews" / label

        def save(index: int, data: bytes) -> None:
            ctype, ext = inputs.sniff(data)
            write_atomic(folder / f"partial-{index}.{ext}", data)

        return save

    async def render(self, action: Action) -> str:
        spec = action.render
        assert spec is not None
        out = render_output(action, self.out.results, self.settings.encoder)
        self.remember_key(action.id, out.key)
        made = self.ready.get(action.id)     # the rendition itself is at hand (from a remote)
        held = self.held.pop(action.id, None)
        source = out.source
        if (self.workers is not None and made is None and held is None and source not in self.images.held
                and source not in self.recovered):
            target = self.target(spec.output.path, durable=not self.drawn(spec))
            wrote = await self.workers.run(jobs.render_and_write, self.cache, source, spec.output, out.key,
                                           target)
            if wrote is None:
                raise ActionFailed(f"the image for {out.path} {self.images.missing(source)}")
        else:
            wrote = await asyncio.to_thread(self.read_and_write, out, spec.output, made, held)
        sha, written = self.took(out.path, wrote)
        if written:
            self.out.written.append(out.path)
        self.out.results[action.id] = (sha,)
        return out.path if written else ""

    def drawn(self, spec: RenderSpec) -> bool:
        """Whether the rendition's image is a placeholder (free to draw again)."""
        maker = self.by_id.get(spec.source.action or "")
        return maker is not None and _is_placeholder(maker)

    def target(self, path: str, durable: bool = True) -> Target:
        """Where a rendition goes, with the hash of what is there now (the stat cache's, else read)."""
        settings = self.settings
        return Target(settings.root.absolute(), path, self.files.hash(path), settings.written.get(path),
                      settings.overwrite, path in settings.adopt, durable)

    def took(self, path: str, wrote: Wrote) -> tuple[str, bool]:
        """What a rendition's writing means for the build: (sha, written), or why it failed or was kept."""
        if wrote.failed:
            raise ActionFailed(wrote.failed)
        if wrote.kept:
            raise Kept(wrote.kept)
        if wrote.adopted:
            self.out.adopted.add(path)
        if wrote.written and wrote.stat is not None:
            self.files.remember_stat(path, wrote.stat, wrote.sha)
        return wrote.sha, wrote.written

    def read_and_write(self, out: LockOutput, output: Output, made: str | None,
                       held: bytes | None = None) -> Wrote:
        """In a worker thread, off the event loop: the rendition downloaded (`held`) or stored
        (`made`), else the image to render it from; then render and write it."""
        from assetgen.render import render

        stored = held if held is not None else self.store.get_object(made) if made else None
        if stored is None:
            found = self.images.get(out.source)
            if found is None:
                raise ActionFailed(f"the image for {out.path} {self.images.missing(out.source)}")
            stored = render(found, output)
        return jobs.write_rendition(self.store, stored, output, out.key, self.target(output.path))


def blocked_message(state: ActionState, action: Action) -> str:
    why = "; ".join(r.text() for r in state.reasons)
    maker = next((r.subject for r in state.reasons if r.why is Why.LOCKED_MISSING), action.assets[0])
    return (f"{why}; restore the cache (copy .assetgen/cache, or point $ASSETGEN_CACHE_DIR at one) "
            f"or pass --force {maker} to make a new image")


def refused_message(state: ActionState) -> str:
    reason = next(r for r in state.reasons if r.why is Why.REFUSED)
    return (f"{reason.new} on {day(reason.old)}; not sent again until the prompt or an input changes "
            f"(--force {reason.subject} resends it)")


def _is_placeholder(action: Action) -> bool:
    return action.call is not None and action.call.provider == "local"


def _overwritten(plan: Plan, states: Mapping[str, ActionState]) -> set[str]:
    """Output paths this build renders again."""
    return {a.render.output.path for a in plan.actions
            if a.render is not None and states[a.id].status is Status.RUN}


def _closure(roots: list[str], dependants: Mapping[str, list[str]]) -> set[str]:
    """The roots and everything that depends on them."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        aid = stack.pop()
        if aid not in seen:
            seen.add(aid)
            stack.extend(dependants.get(aid, ()))
    return seen


def _priorities(todo: list[str], dependants: Mapping[str, list[str]]) -> dict[str, int]:
    """Each action's place in the order ready actions start in, lowest first: the longest chain of
    dependants first (the critical path), then the plan's order; one number each."""
    height: dict[str, int] = {}
    for aid in reversed(todo):   # todo is topological, so dependants come later
        height[aid] = 1 + max((height[d] for d in dependants.get(aid, ())), default=0)
    size = len(todo)
    for i, aid in enumerate(todo):     # in place: one dict of a number per action
        height[aid] = -height[aid] * size + i
    return height
