"""Which actions are cached and which must run, with their keys and the reasons why.

Keys need the hash of the image each upstream action actually produced: known from the cache's
action record or from the lock file. An action whose upstream must run first gets no key yet and
runs ("upstream asset changed"). An action that is up to date only through the lock (its bytes
are not in the cache) is fine until something that runs needs its bytes: then a lossless output
that holds them will do (`plan.recovery`). When none does, what needs them is BLOCKED, and the
call that made them is not run again: its key did not change, and calling again would silently
replace the image the lock promises with a new one. `--force` regenerates it on purpose. The
`local` provider is the exception: free and deterministic, it draws the lost image again ("image
not in cache"), and the passes repeat until nothing changes.

With a remote cache (`RemoteSource`), what the local cache and the lock lack is looked up there
after each forward pass: records of calls that would run (their results make the next keys
known, so the passes repeat), renditions a missing output needs (its bytes, by the hash the lock
names), and images that running actions read. The lock is asked first, so it wins over a remote
record that disagrees with it.

A build streams from the remote instead (`stream=True`): the resolver asks it nothing, and the
executor fetches what each action needs as it becomes ready, alongside the API calls. An image
that neither the cache nor an output holds then does not block its action here: the action is
`later` blocked, unless the remote has the image when the executor asks for it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import msgspec
from msgspec import Struct, field

from assetgen.cache import Store
from assetgen.lockfile import Lock, LockInput, LockOutput, LockStep
from assetgen.plan import keys
from assetgen.plan.explain import Reason, Why, call_reasons, output_of, render_reasons, step_of
from assetgen.plan.graph import Action, Plan, call_ident, render_ident
from assetgen.plan.recovery import Recovered, Recovery

ENCODER = "pillow"


class Status(enum.Enum):
    CACHED = "cached"
    RUN = "run"
    BLOCKED = "blocked"     # would run only to remake a locked image the cache lost: needs --force
    REFUSED = "refused"     # the content filter refused this very call before: not sent again


UNSENT = frozenset({Status.BLOCKED, Status.REFUSED})    # fail without a call unless forced


class ActionState(Struct, frozen=True):
    status: Status
    key: str | None                       # None while an upstream image is unknown
    results: tuple[str, ...] | None       # result hashes when known without running
    reasons: tuple[Reason, ...] = ()


Results = Mapping[str, tuple[str, ...] | None]


def encoder_version() -> str:
    import PIL

    return f"{ENCODER}-{PIL.__version__}"


def call_step(action: Action, results: Results, worked_out: str | None = None) -> LockStep:
    """The resolved request as the lock records it; key "" while an upstream image is unknown.
    `worked_out`: its key, already worked out from these results (not hashed again)."""
    spec = action.call
    assert spec is not None
    inputs = []
    for s in spec.sources:
        if s.action is not None:
            known = results.get(s.action)
            sha = known[s.index] if known and s.index < len(known) else ""
        else:
            sha = s.file_sha or ""
        inputs.append(LockInput(s.role.value, sha, s.file, s.asset if s.action else None))
    key = ""
    if worked_out and all(i.sha256 for i in inputs):
        key = worked_out
    elif all(i.sha256 for i in inputs):
        ident = call_ident(spec, action.op)
        ident["inputs"] = [[i.role, i.sha256] for i in inputs]
        key = keys.digest(ident)
    return LockStep(action.op.value, spec.provider, spec.model, spec.prompt, spec.params, tuple(inputs),
                    key, ())


def render_output(action: Action, results: Results, encoder: str,
                  worked_out: str | None = None) -> LockOutput:
    """The rendition as the lock records it; key "" while the source image is unknown. `worked_out`:
    its key, already worked out from these results (not hashed again)."""
    spec = action.render
    assert spec is not None
    out = spec.output
    known = results.get(spec.source.action or "")
    source = known[spec.source.index] if known and spec.source.index < len(known) else ""
    ident = render_ident(out)
    key = (worked_out or keys.digest({**ident, "source": source, "encoder": encoder})) if source else ""
    resize = f"{out.resize[0]}x{out.resize[1]}" if out.resize else None
    return LockOutput(out.path, out.format, out.quality, resize, ident["fit"] if out.resize else None,
                      source, key, "")


_NEW = (Reason(Why.NEW),)


def _shared(reasons: list[Reason]) -> tuple[Reason, ...]:
    """The reasons as a tuple: the one every action of a first build has (new) is one tuple for all."""
    return _NEW if len(reasons) == 1 and reasons[0] == _NEW[0] else tuple(reasons)


class RemoteSource(Protocol):
    """The remote cache as the resolver sees it (`assetgen.remote_cache.remote.RemoteCache`)."""

    def records(self, wanted: Mapping[str, Expect]) -> dict[str, tuple[str, ...]]:
        """key -> results, for the keys the remote holds a valid record (and its images) for."""
        ...

    def objects(self, wanted: Mapping[str, str]) -> set[str]:
        """Of the shas asked for (sha -> the key it is for), those available."""
        ...


class Expect(Struct, frozen=True):
    """What a remote record must say to serve a call."""

    op: str
    provider: str
    model: str


class Resolution(Struct, frozen=True):
    states: dict[str, ActionState]
    recovered: Mapping[str, Recovered] = field(default_factory=dict)  # image hash -> output holding it
    remote: frozenset[str] = frozenset()        # calls cached through a remote record
    ready: Mapping[str, str] = field(default_factory=dict)   # render id -> stored bytes of its output
    # streaming: render id -> the bytes its key promises (the lock's or a record's rendition)
    expected: Mapping[str, str] = field(default_factory=dict)
    # streaming: action id -> (the image it lacks, its state unless the remote has that image)
    later: Mapping[str, tuple[str, ActionState]] = field(default_factory=dict)

    def to_run(self) -> list[str]:
        return [i for i, s in self.states.items() if s.status is Status.RUN]


class Resolver:
    def __init__(self, plan: Plan, store: Store, lock: Lock, file_hash: Callable[[str], str | None],
                 root: Path, remote: RemoteSource | None = None, stream: bool = False) -> None:
        self.plan = plan
        self.remote = remote
        self.stream = stream and remote is not None     # the executor asks the remote, not the resolver
        self.remote_results: dict[str, tuple[str, ...]] = {}   # key -> results, from remote records
        self.remote_objects: set[str] = set()                  # images the remote holds
        self.asked: set[str] = set()                           # keys asked of the remote
        self.from_remote: set[str] = set()
        self.expected: dict[str, str] = {}     # render id -> the output bytes its key promises
        self.later: dict[str, tuple[str, Reason]] = {}   # streaming: blocked unless the remote has it
        self.ready: dict[str, str] = {}
        self.store = store
        self.lock = lock
        self.file_hash = file_hash
        self.lock_results = lock.step_results()
        self.lock_outputs = lock.output_shas()
        self.written = lock.written()
        self.encoder = encoder_version()
        self.recovery = Recovery(lock, file_hash, self.encoder, root)
        self.place = {sid: (a.name, i) for a in plan.assets for i, sid in enumerate(a.steps)}
        self.by_id = plan.by_id()

    def resolve(self, forced: set[str]) -> Resolution:
        must: dict[str, tuple[Reason, ...]] = {i: (Reason(Why.FORCED),) for i in forced}
        while True:
            states = self.forward(must)
            if self.remote is not None and not self.stream:
                if self._remote_records(states, must):
                    continue        # their results make more keys known
                self._remote_objects(states)
            recovered, blocked = self.backward(states)
            # The local provider is free and deterministic: it draws a lost image again, the same.
            redraw: dict[str, str] = {}
            for maker, who, _ in blocked.values():
                if self._is_local(maker):
                    redraw.setdefault(maker, who)
            if not redraw:
                break
            must.update({maker: (Reason(Why.NOT_CACHED, who),) for maker, who in redraw.items()})
        for aid, (_, _, reason) in blocked.items():
            st = states[aid]
            states[aid] = ActionState(Status.BLOCKED, st.key, None, (reason,))
        later = {aid: (image, ActionState(Status.BLOCKED, states[aid].key, None, (reason,)))
                 for aid, (image, reason) in self.later.items()}
        for action in self.plan.actions:
            if action.render is not None and states[action.id].status is Status.RUN:
                states[action.id] = _restored_from(states[action.id], action, states, recovered)
        expected = dict(self.expected) if self.stream else {}
        return Resolution(states, recovered, frozenset(self.from_remote), dict(self.ready), expected, later)

    def _remote_records(self, states: Mapping[str, ActionState], must: Mapping[str, object]) -> bool:
        """Ask the remote for the records of calls that would run; True when it had any."""
        assert self.remote is not None
        wanted: dict[str, Expect] = {}
        for action in self.plan.actions:
            st = states[action.id]
            call = action.call
            if (call is None or st.status is not Status.RUN or not st.key or action.id in must
                    or st.key in self.asked):
                continue
            wanted[st.key] = Expect(action.op.value, call.provider, call.model)
        if not wanted:
            return False
        self.asked.update(wanted)
        found = self.remote.records(wanted)
        self.remote_results.update(found)
        return bool(found)

    def _remote_objects(self, states: Mapping[str, ActionState]) -> None:
        """Renditions of missing outputs, then the images running actions read, from the remote."""
        assert self.remote is not None
        outputs = {sha: states[aid].key or "" for aid, sha in self.expected.items()
                   if states[aid].status is Status.RUN and not self.store.has_object(sha)}
        got = self.remote.objects(outputs) if outputs else set()
        self.ready = {}
        for aid, sha in self.expected.items():
            if states[aid].status is Status.RUN and (sha in got or self.store.has_object(sha)):
                self.ready[aid] = sha
        images: dict[str, str] = {}
        for action in self.plan.actions:
            if states[action.id].status is not Status.RUN or action.id in self.ready:
                continue
            for dep, index in upstream_images(action):
                st = states[dep]
                if st.status is Status.CACHED and st.results is not None and index < len(st.results):
                    image = st.results[index]
                    if image not in self.remote_objects and not self.store.has_object(image):
                        images[image] = st.key or ""
        self.remote_objects |= self.remote.objects(images) if images else set()

    def _is_local(self, action_id: str) -> bool:
        call = self.by_id[action_id].call
        return call is not None and call.provider == "local"

    def forward(self, must: dict[str, tuple[Reason, ...]]) -> dict[str, ActionState]:
        states: dict[str, ActionState] = {}
        results: dict[str, tuple[str, ...] | None] = {}
        self.expected = {}
        for action in self.plan.actions:
            if action.is_call:
                state = self.call_state(action, results, must)
            else:
                state = self.render_state(action, results)
            states[action.id] = state
            results[action.id] = state.results
        return states

    def call_state(self, action: Action, results: Results,
                   must: dict[str, tuple[Reason, ...]]) -> ActionState:
        step = call_step(action, results)
        key = step.key or None
        if action.id in must:
            return ActionState(Status.RUN, key, None, must[action.id])
        if key is not None:
            found = self.lock_results.get(key)   # the lock first: no file to read
            if not found:
                rec = self.store.record(key)
                found = rec.results if rec is not None else None
            if not found and key in self.remote_results:
                found = self.remote_results[key]
                self.from_remote.add(action.id)
            if found:
                return ActionState(Status.CACHED, key, found)
            refused = self.store.refusal(key)
            if refused is not None:
                reason = Reason(Why.REFUSED, action.assets[0], refused.when, refused.message)
                return ActionState(Status.REFUSED, key, None, (reason,))
        asset, index = self.place.get(action.id, (action.assets[0], 0))
        entry = self.lock.assets.get(asset)
        old = step_of(entry, index)
        candidates = {i.asset: self._candidates(i.asset, index - 1 if i.asset == asset else -1)
                      for i in step.inputs if i.asset is not None}
        return ActionState(Status.RUN, key, None, _shared(call_reasons(step, old, asset, candidates)))

    def _candidates(self, asset: str, index: int) -> tuple[str, ...]:
        """Every result of the locked call at step `index` (-1: the last) of `asset`."""
        entry = self.lock.assets.get(asset)
        if entry is None or not entry.steps or index >= len(entry.steps):
            return ()
        return entry.steps[index].results

    def render_state(self, action: Action, results: Results) -> ActionState:
        out = render_output(action, results, self.encoder)
        path = out.path
        current = self.file_hash(path)
        expected = None
        if out.key:
            expected = self.lock_outputs.get((path, out.key))
            if expected is None or expected != current:
                rec = self.store.record(out.key)
                expected = rec.results[0] if rec is not None and rec.results else expected
        if expected is not None and current == expected:
            return ActionState(Status.CACHED, out.key, (expected,))
        if expected is not None:
            self.expected[action.id] = expected
        asset = action.assets[0]
        old = output_of(self.lock.assets.get(asset), path)
        if old is not None and out.key and old.key == out.key:
            reasons = [Reason(Why.OUTPUT_CHANGED if current else Why.OUTPUT_MISSING, path)]
        else:
            reasons = render_reasons(out, old, current is not None, asset, self.encoder,
                                     self._candidates(asset, -1))
            kept = self._kept(path, current)
            if kept is not None:
                reasons.append(kept)
        return ActionState(Status.RUN, out.key or None, None, _shared(reasons))

    def _kept(self, path: str, current: str | None) -> Reason | None:
        """Why a build would keep the file at `path` rather than write it: changed by hand, adopted,
        or not written by assetgen (None: it is missing, or as assetgen wrote it)."""
        if current is None:
            return None
        known = self.written.get(path)
        if known is None:
            return Reason(Why.KEPT, path, "unknown")
        if known.adopted:
            return Reason(Why.KEPT, path, "adopted")
        return Reason(Why.KEPT, path, "changed") if known.sha256 != current else None

    def backward(self, states: dict[str, ActionState]
                 ) -> tuple[dict[str, Recovered], dict[str, tuple[str, str, Reason]]]:
        """For every image a running action needs from a cached one: in the cache, recovered from an
        output (image hash -> where), or neither: then the action that needs it is blocked (action
        id -> the action that made the image, who needs it, why). Only what needs a lost image is
        blocked: another candidate of the same call may still serve its own users."""
        recovered: dict[str, Recovered] = {}
        blocked: dict[str, tuple[str, str, Reason]] = {}
        stored: dict[str, bool] = {}
        self.later = {}
        for action in reversed(self.plan.actions):
            if states[action.id].status is not Status.RUN or action.id in self.ready:
                continue
            who = action.render.output.path if action.render else action.assets[0]
            for dep, index in upstream_images(action):
                st = states[dep]
                if st.status is not Status.CACHED or st.results is None or index >= len(st.results):
                    continue
                image = st.results[index]
                if image not in stored:
                    stored[image] = image in self.remote_objects or self.store.get_object(image) is not None
                if stored[image] or image in recovered:
                    continue
                found = self.recovery.find(image)
                if found is not None:
                    recovered[image] = found
                elif action.id not in blocked and action.id not in self.later:
                    maker = self.by_id[dep].assets[0]
                    reason = Reason(Why.LOCKED_MISSING, maker, image, self.recovery.why_not(image))
                    if self.stream and not self._is_local(dep):
                        self.later[action.id] = (image, reason)
                    else:
                        blocked[action.id] = (dep, who, reason)
        return recovered, blocked


def _restored_from(state: ActionState, action: Action, states: Mapping[str, ActionState],
                   recovered: Mapping[str, Recovered]) -> ActionState:
    """A restored output says where its image comes from when that is another output, not the cache."""
    assert action.render is not None
    src = action.render.source
    known = states[src.action].results if src.action else None
    found = recovered.get(known[src.index]) if known and src.index < len(known) else None
    if found is None:
        return state
    restored = (Why.OUTPUT_MISSING, Why.OUTPUT_CHANGED)
    reasons = tuple(msgspec.structs.replace(r, new=found.path) if r.why in restored else r
                    for r in state.reasons)
    return msgspec.structs.replace(state, reasons=reasons)


def upstream_images(action: Action) -> list[tuple[str, int]]:
    """(upstream action id, candidate index) of every upstream image `action` reads."""
    if action.render is not None:
        src = action.render.source
        return [(src.action, src.index)] if src.action else []
    assert action.call is not None
    return [(s.action, s.index) for s in action.call.sources if s.action is not None]
