"""`build` as a library function: prepare, check (`--frozen`, `--max-cost`), execute, save.

Returns a BuildReport; the command only renders it. The lock file and the stat cache are saved
even after failures or an interrupt, so nothing that finished is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import Struct, field

from assetgen import gc, lockfile
from assetgen.atomic import Writes, drop_stale_temps
from assetgen.cache import CACHE_ENV
from assetgen.errors import ExitCode, UserError
from assetgen.plan import estimate
from assetgen.plan.explain import Why
from assetgen.plan.graph import Plan
from assetgen.plan.lockgen import next_lock
from assetgen.plan.status import UNSENT, Status
from assetgen.providers.registry import create_provider, where_calls_go
from assetgen.recipe.model import ProviderKind
from assetgen.run import shard, stamp
from assetgen.run.events import Event, Kind, Sink, discard
from assetgen.run.executor import Executor, Outcome, Settings
from assetgen.run.fetch import Fetcher
from assetgen.run.orphans import Swept, in_use, sweep, would_remove
from assetgen.run.prepare import Prepared, prepare
from assetgen.run.shard import Shard
from assetgen.run.share import uploads_of
from assetgen.run.upload import Uploader

if TYPE_CHECKING:
    from assetgen.batch.run import BatchRun


class BuildOptions(Struct, frozen=True):
    paths: tuple[str, ...] = ()
    cwd: Path = field(default_factory=Path.cwd)
    provider: ProviderKind | None = None
    jobs: int = 8
    only: tuple[str, ...] = ()
    force: tuple[str, ...] = ()
    frozen: bool = False
    fail_fast: bool = False
    max_cost: float | None = None
    previews: int | None = None
    overwrite: bool = False              # replace outputs changed by hand
    adopt: tuple[str, ...] = ()          # output paths (project-relative) to adopt as they are
    endpoint: str | None = None          # --endpoint: where a remote provider sends
    shard: Shard | None = None           # build only this part of the calls; write no outputs or lock
    batch: bool = False                  # submit ready calls to OpenAI's Batch API (assetgen.batch)
    # time.time_ns() when the command started (None: when `build` is called): a file changed since
    # may have been read before the change, so the build stamp never vouches for it
    started: int | None = None

    def check(self) -> None:
        """Usage errors among the options themselves."""
        if self.frozen and (self.force or self.overwrite or self.adopt):
            flag = "--force" if self.force else "--overwrite" if self.overwrite else "--adopt"
            raise UserError(f"--frozen changes nothing on disk, so it cannot go with {flag}")
        if self.shard is not None and (self.frozen or self.adopt or self.overwrite):
            flag = "--frozen" if self.frozen else "--adopt" if self.adopt else "--overwrite"
            raise UserError(f"--shard writes no outputs, so it cannot go with {flag}")


class Cause(Struct, frozen=True):
    """One reason for failures, and every asset it hit (said once, not once per asset)."""

    message: str
    assets: tuple[str, ...]
    details: tuple[str, ...] = ()    # per asset, what differs (a refused prompt); "" when nothing


class BuildReport(Struct, frozen=True):
    actions_total: int
    actions_run: int
    actions_cached: int
    actions_failed: int
    requests: int
    outputs_written: int
    failures: tuple[tuple[str, str], ...] = ()      # (asset, message)
    stale: tuple[Stale, ...] = ()                   # --frozen: every change it refused
    interrupted: bool = False
    swept: Swept = Swept()                          # outputs no recipe writes any more
    renditions: int = 0                             # render actions among actions_total
    kept: tuple[tuple[str, str, str], ...] = ()     # (asset, output path, message): changed by hand
    remote_hits: int | None = None                  # records and images taken from the remote cache
    remote_uploads: int | None = None               # records and images created there (None: no remote)
    warnings: tuple[str, ...] = ()
    pending: int | None = None                      # calls in batches not yet collected (None: no batches)
    collected: int = 0                              # calls whose batch results came in
    batches: tuple[str, ...] = ()                   # batch ids this build submitted
    deferred: int = 0                               # actions left for a later build: pending or behind one
    causes: tuple[Cause, ...] = ()                  # the failures grouped by cause
    paid: int = 0                                   # outputs a local build left as paid images
    parts: int = 0                                  # a large first build: the parts it was made in

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        failed = self.failures or self.stale or self.actions_failed or self.kept
        return ExitCode.FAILED if failed else ExitCode.OK

    def summary(self) -> dict[str, object]:
        """The keys SPEC section 7 names for `build --json`, `kept` (section 9) when a file was kept,
        and with a remote cache section 11's `remote_hits` and `remote_uploads`."""
        failures = [{"asset": a, "message": m} for a, m in self.failures]
        failures += [{"asset": a, "message": m} for a, _, m in self.kept]
        summary: dict[str, object] = {
            "actions_total": self.actions_total, "actions_run": self.actions_run,
            "actions_cached": self.actions_cached, "actions_failed": self.actions_failed,
            "requests": self.requests, "outputs_written": self.outputs_written, "failures": failures}
        if self.kept:
            summary["kept"] = [p for _, p, _ in self.kept]
        if self.remote_hits is not None:
            summary.update(remote_hits=self.remote_hits, remote_uploads=self.remote_uploads)
        summary.update(self.batch_summary())
        if self.paid:
            summary["left_as_paid"] = self.paid
        return summary

    def batch_summary(self) -> dict[str, object]:
        """`build --json`'s batch keys, when batches are involved (SPEC section 12)."""
        if self.pending is None:
            return {}
        return {"pending": self.pending, "collected": self.collected, "batches": list(self.batches)}


class Stale(Struct, frozen=True):
    """One change `--frozen` found: an asset that needs a call, an output to write, an orphan to
    remove, the lock file to rewrite."""

    kind: str           # call | refused | output | orphan | lock
    subject: str        # the asset (call), the path (output, orphan) or the lock file
    why: str
    asset: str          # the asset it belongs to, for `failures`

    def line(self) -> str:
        return f"{self.subject}: {self.why}"

    def failure(self) -> tuple[str, str]:
        if self.kind == "call":
            return self.asset, f"needs an API call (--frozen): {self.why}"
        if self.kind == "refused":
            return self.asset, f"--frozen: {self.why}"
        return self.asset, f"--frozen: {self.subject} {self.why}"


def frozen_changes(prep: Prepared, opts: BuildOptions) -> list[Stale]:
    """Everything a build would change on disk: calls, renditions, the lock file, orphan removals."""
    refused = {a for action in prep.plan.actions if prep.resolution.states[action.id].status is Status.REFUSED
               for a in action.assets}
    found = [Stale("refused" if asset in refused else "call", asset, why, asset)
             for asset, why in stale_assets(prep)]
    states = prep.resolution.states
    written = prep.lock.written()
    relock = False      # a call or a rendition that changes its lock entry
    stuck = waiting_on_unsent(prep)     # a build leaves their lock entries as they are
    for action in prep.plan.actions:     # a rendition waiting for a call is named by that call
        st = states[action.id]
        if st.status is not Status.RUN or action.id in stuck:
            continue
        if action.is_call:
            relock = True
        elif action.render is not None and st.key is not None:
            why = "; ".join(r.text() for r in states[action.id].reasons)
            path = action.render.output.path
            found.append(Stale("output", path, f"would be written ({why})", action.assets[0]))
            relock = relock or path not in written or written[path].key != st.key
    from assetgen.plan.status import encoder_version

    results = {aid: st.results for aid, st in states.items()
               if st.status is Status.CACHED and st.results is not None}
    lock = next_lock(prep.plan, results, prep.lock, prep.selected, encoder_version(),
                     prune=not (opts.only or _only_files(opts)), known=prep.known)
    if relock or lock != prep.lock:     # as a build decides to write it (its text is left as it is)
        found.append(Stale("lock", lockfile.LOCK_FILE, "would change", lockfile.LOCK_FILE))
    owners = {o.path: name for name, a in prep.lock.assets.items() for o in a.outputs}
    for path in orphans(prep, opts).removed:
        found.append(Stale("orphan", path, "would be removed (no recipe writes it any more)",
                           owners.get(path, path)))
    return found


def orphans(prep: Prepared, opts: BuildOptions) -> Swept:
    """The outputs no recipe writes any more that a build would remove (and keep: changed by hand)."""
    return would_remove(prep, whole=not (opts.only or _only_files(opts)))


def stale_assets(prep: Prepared) -> list[tuple[str, str]]:
    """Every asset with a call to make (or blocked: one only `--force` would make), and why (for --frozen)."""
    found: dict[str, list[str]] = {}
    states = prep.resolution.states
    stuck = waiting_on_unsent(prep)     # named by the call they wait for
    for action in prep.plan.actions:
        st = states[action.id]
        if action.id in stuck:
            continue
        if (action.is_call and st.status is not Status.CACHED) or st.status is Status.BLOCKED:
            for asset in action.assets:
                found.setdefault(asset, []).extend(r.text() for r in st.reasons)
    return [(a, "; ".join(dict.fromkeys(w))) for a, w in sorted(found.items())]


def waiting_on_unsent(prep: Prepared) -> set[str]:
    """The actions that need the image of a blocked or refused call, directly or further down."""
    states = prep.resolution.states
    unsent = {a.id for a in prep.plan.actions if states[a.id].status in UNSENT}
    stuck: set[str] = set()
    for action in prep.plan.actions:     # in order: what an action depends on comes first
        if action.id not in unsent and not (unsent | stuck).isdisjoint(action.deps):
            stuck.add(action.id)
    return stuck


def _usd(amount: float) -> str:
    """Dollars with cents, or with as many digits as a sub-cent amount needs ($0.0015)."""
    if amount == 0 or amount >= 0.01:
        return f"${amount:.2f}"
    return f"${amount:.6f}".rstrip("0")


def _usd_apart(cost: float, limit: float) -> tuple[str, str]:
    """Both amounts with as many digits as it takes to tell them apart ($0.3974 over $0.3973, not
    $0.40 over $0.40)."""
    shown, cap = _usd(cost), _usd(limit)
    for digits in range(3, 7):
        if shown != cap:
            break
        shown, cap = f"${cost:.{digits}f}", f"${limit:.{digits}f}"
    return shown, cap


def run_cost(prep: Prepared, batch: bool = False) -> float:
    """The estimated USD of the calls to make; with `batch`, those the Batch API takes at its price."""
    pricing = dict(prep.project.config.pricing)
    own = prep.project.config.models
    return sum(estimate.cost(a, pricing, batch=batch and estimate.batchable(a), own=own)
               for a in prep.plan.actions if prep.resolution.states[a.id].status is Status.RUN)


def build(opts: BuildOptions, sink: Sink = discard, prepared: Prepared | None = None) -> BuildReport:
    """`prepared`: the plan of a build after a small change (`run.delta`); else the whole project's."""
    opts.check()
    if opts.started is None:
        opts = msgspec.structs.replace(opts, started=time.time_ns())
    loaded = None
    if prepared is None:    # a first build of a large project: a part at a time
        from assetgen.run import parts

        report = parts.build(opts, sink)
        if isinstance(report, BuildReport):
            return report
        loaded = report     # the files it loaded to find the project small: loaded once
    prep = prepared or prepare(opts.paths, opts.cwd, opts.provider, opts.only, opts.force,
                               remote=_remote_use(opts), remember=not opts.frozen, loaded=loaded)
    using = prep.store.in_use()
    using.acquire()     # waits while gc removes; gc refuses while a build runs
    try:
        return _build(prep, opts, sink)
    finally:
        using.release()


def _remote_use(opts: BuildOptions) -> str:
    """How the resolver uses the remote cache: --frozen writes nothing, not even the cache, so it
    only looks; --batch and --max-cost must know what the remote holds before anything runs, so it
    fetches first; any other build streams from it while the calls run."""
    if opts.frozen:
        return "look"
    return "fetch" if opts.batch or opts.max_cost is not None else "stream"


def _build(prep: Prepared, opts: BuildOptions, sink: Sink) -> BuildReport:
    if os.environ.get(CACHE_ENV):   # a cache other projects may share: their gc must keep ours
        gc.register(prep.store.root, prep.project.root)
    total = prep.actions_total()
    adopt = _adopting(prep, opts)
    where_calls_go(prep.provider, prep.project.config, opts.endpoint)    # a bad URL: exit 2, nothing run
    if opts.frozen:
        stale = frozen_changes(prep, opts)
        if stale:
            failures = tuple(s.failure() for s in stale)
            return BuildReport(total, 0, 0, 0, 0, 0, failures, stale=tuple(stale), paid=prep.paid_outputs())
    if opts.shard is not None:
        _no_batches_with_shards(prep, opts)
    batches = _batches(prep, opts) if opts.shard is None else None
    try:
        if batches is not None:
            prep = batches.collect(prep)
        if opts.max_cost is not None:
            cost = run_cost(prep, opts.batch)
            if cost > opts.max_cost:
                shown, limit = _usd_apart(cost, opts.max_cost)
                raise UserError(f"the estimated cost {shown} exceeds --max-cost {limit}; "
                                "nothing was run")
        if opts.shard is not None:
            return _build_part(prep, opts, opts.shard, sink)
        phase = batches.submit(prep) if batches is not None else None
    finally:
        if batches is not None:
            batches.close()
    deferred = phase.deferred if phase is not None else frozenset()
    inputs = _input_stats(prep)
    plan = prep.plan
    if deferred:
        from assetgen.batch.run import without

        plan = without(prep.plan, deferred)
    writes = Writes.begin(prep.project.root / ".assetgen")     # before the first output is written
    out = asyncio.run(_execute(prep, opts, sink, adopt, plan))
    paid_missing = _paid_missing(prep)      # not stamped: the next build says it again
    swept = _save(prep, opts, out, inputs, writes, bool(deferred or paid_missing))
    failures, failed, left, causes = _failures(prep, out)
    renditions = prep.renditions()
    owner = {a.render.output.path: a.assets[0] for a in prep.plan.actions if a.render is not None}
    kept = tuple((owner[p], p, m) for p, m in sorted(out.kept.items()))
    hits, uploads, warnings = _share(prep, out)
    warnings += paid_missing
    if phase is None:
        return BuildReport(total, out.calls, total - out.calls - failed - left, failed,
                           out.requests, len(out.written), failures, interrupted=out.interrupted, swept=swept,
                           renditions=renditions, kept=kept, remote_hits=hits, remote_uploads=uploads,
                           warnings=warnings, causes=causes,
                           paid=prep.paid_outputs())
    failures = tuple(dict.fromkeys(phase.failures)) + failures
    causes = _causes_of(tuple(dict.fromkeys(phase.failures))) + causes
    waiting = len(deferred)
    return BuildReport(total, out.calls, total - out.calls - failed - left - waiting, failed,
                       out.requests + phase.requests, len(out.written), failures, interrupted=out.interrupted,
                       swept=swept, renditions=renditions, kept=kept, remote_hits=hits,
                       remote_uploads=uploads, warnings=warnings, pending=len(phase.pending),
                       collected=phase.collected,
                       batches=tuple(phase.submitted), deferred=waiting, causes=causes,
                       paid=prep.paid_outputs())


def _build_part(prep: Prepared, opts: BuildOptions, which: Shard, sink: Sink) -> BuildReport:
    """One shard: its calls only, at 1/N of each quota, into the cache (and the remote in write
    mode); no rendition, output, lock file or build stamp is written."""
    plan = shard.restrict(prep.plan, shard.part(prep.plan, which))
    out = asyncio.run(_execute(prep, opts, sink, frozenset(), plan, which.share))
    prep.files.save()
    total = len(plan.actions)
    failures, failed, left, causes = _failures(prep, out)
    hits, uploads, warnings = _share(prep, out)
    if out.calls and (prep.remote is None or not prep.remote.spec.writes):
        warnings += ("this shard's calls are in this machine's cache only: with no remote cache in write "
                     "mode, a build on another machine makes them again",)
    return BuildReport(total, out.calls, total - out.calls - failed - left, failed, out.requests, 0,
                       failures, interrupted=out.interrupted, remote_hits=hits, remote_uploads=uploads,
                       warnings=warnings, causes=causes)


def _share(prep: Prepared, out: Outcome) -> tuple[int | None, int | None, tuple[str, ...]]:
    """Upload what the remote cache still lacks (write mode: each call made went up once stored);
    (hits, uploads, warnings), None without one. When the remote went down, the build is not
    stamped as done: the next one takes the full path and uploads what is missing."""
    if prep.remote is None:
        return None, None, ()
    prep.remote.upload(uploads_of(prep, out))
    if prep.remote.spec.writes and prep.remote.down:
        stamp.clear(prep.project.root)
    return prep.remote.counts.hits, prep.remote.counts.uploads, tuple(prep.remote.warnings)


def _no_batches_with_shards(prep: Prepared, opts: BuildOptions) -> None:
    """A shard makes its calls synchronously: it must not make one that waits in a batch."""
    from assetgen.batch.run import has_records

    if opts.batch:
        raise UserError("--shard and --batch do not go together: a batch is submitted by one build")
    if has_records(prep.project.root):
        raise UserError("calls are pending in batches: collect them with assetgen build before building "
                        "shards")


def _batches(prep: Prepared, opts: BuildOptions) -> BatchRun | None:
    """The batch phase: with --batch, or when batches submitted earlier wait to be collected
    (never with --frozen: it calls nothing and writes nothing)."""
    if opts.frozen:
        return None
    if opts.batch or (prep.provider is ProviderKind.OPENAI and _has_batches(prep.project.root)):
        from assetgen.batch.run import BatchRun  # (and its HTTP client) only when batches are used

        return BatchRun(prep, opts.batch, endpoint=opts.endpoint)
    return None


def _has_batches(root: Path) -> bool:
    """Whether this project has submitted batches (a record, or the folder of lost ones): a plain
    build then collects them, and looks for lost ones before it pays for a call they carry."""
    from assetgen.batch.records import Records

    return Records(root).used()


Failures = tuple[tuple[str, str], ...]      # (asset, message)


def _failures(prep: Prepared, out: Outcome) -> tuple[Failures, int, int, tuple[Cause, ...]]:
    """(failures as (asset, message), actions failed, actions not started, causes). After refused
    credentials every asset not built is a failure, and its actions count as failed."""
    failed = len(out.failures) + len(out.blocked)
    # one entry per asset (SPEC: `{"asset": str, ...}`), also for an action several assets share
    failures = tuple(dict.fromkeys((a, f.message) for f in out.failures for a in f.assets))
    left = len(out.not_started)
    if out.halted is not None:      # every asset not built, blocked or not started, is for that cause
        stopped = _not_started(prep, out, out.halted)
        failures += tuple((asset, f"not started: {why}") for asset, why in stopped)
        failed, left = failed + left, 0
    else:
        stopped = _blocked(prep, out)
        failures += stopped
    return failures, failed, left, _causes(prep, out, stopped)


def _blocked(prep: Prepared, out: Outcome) -> tuple[tuple[str, str], ...]:
    """(asset, why) for each asset not built because an image it needs failed, that has no failure
    of its own: named, with the assets whose failure it waits for."""
    if not out.blocked:
        return ()
    failed = {f.action: f.assets for f in out.failures if f.action}
    named = {a for f in out.failures for a in f.assets}
    by_id = prep.plan.by_id()
    found: dict[str, str] = {}
    for action in prep.plan.actions:        # in plan order: the recipes'
        if action.id not in out.blocked:
            continue
        upstream: dict[str, None] = {}
        seen: set[str] = set()
        stack = list(action.deps)
        while stack:
            aid = stack.pop()
            if aid in seen or aid not in by_id:
                continue
            seen.add(aid)
            if aid in failed:
                upstream.update(dict.fromkeys(failed[aid]))
            else:
                stack.extend(by_id[aid].deps)
        why = (f"not built: it needs the image of {', '.join(sorted(upstream))}, which failed" if upstream
               else "not built: an image it needs was not made")
        for asset in action.assets:
            if asset not in named and asset not in found:
                found[asset] = why
    return tuple(found.items())


def _causes(prep: Prepared, out: Outcome, stopped: tuple[tuple[str, str], ...]) -> tuple[Cause, ...]:
    """The failures by cause, in the order each cause first failed, each cause's assets in the
    plan's order (the recipes'), not in the order calls happened to fail; an asset a stop left
    unbuilt goes with the failure that stopped the build."""
    grouped: dict[str, dict[str, str]] = {}     # cause -> asset -> detail
    for f in out.failures:
        cause = f.cause or f.message
        detail = f.message[len(cause):].removeprefix(": ") if f.message.startswith(cause) else ""
        for asset in f.assets:
            grouped.setdefault(cause, {}).setdefault(asset, detail)
    for asset, why in stopped:
        grouped.setdefault(why, {}).setdefault(asset, "")
    rank: dict[str, int] = {}
    for action in prep.plan.actions:
        for asset in action.assets:
            rank.setdefault(asset, len(rank))
    causes = []
    for message, assets in grouped.items():
        ordered = sorted(assets.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
        details = tuple(d for _, d in ordered)
        causes.append(Cause(message, tuple(a for a, _ in ordered), details if any(details) else ()))
    return tuple(causes)


def _causes_of(failures: Failures) -> tuple[Cause, ...]:
    """(asset, message) failures by message."""
    grouped: dict[str, list[str]] = {}
    for asset, message in failures:
        grouped.setdefault(message, []).append(asset)
    return tuple(Cause(message, tuple(assets)) for message, assets in grouped.items())


def _outputs(prep: Prepared) -> list[str]:
    """The output path of every render in the plan."""
    return [a.render.output.path for a in prep.plan.actions if a.render is not None]


def _paid_outputs(prep: Prepared) -> list[str]:
    """The outputs of the variants a local build leaves alone because they hold paid images."""
    assets = prep.lock.assets
    return [o.path for name in sorted(prep.paid) if name in assets for o in assets[name].outputs]


def _paid_missing(prep: Prepared) -> tuple[str, ...]:
    """A warning for each output of a paid image that is not there: a local build does not restore
    it (it leaves the variant alone), so it says so."""
    root = prep.project.root
    return tuple(f"{path} is missing: it holds a paid image, which a local build leaves alone; a build "
                 "with the project's provider restores it (from the cache: no call)"
                 for path in _paid_outputs(prep) if not (root / path).is_file())


def _not_started(prep: Prepared, out: Outcome, why: str) -> tuple[tuple[str, str], ...]:
    """(asset, why) for each asset left unbuilt by a stop (refused credentials) that has no failure
    of its own."""
    named = {a for f in out.failures for a in f.assets}
    undone = out.not_started | out.blocked
    left = {a for action in prep.plan.actions if action.id in undone for a in action.assets}
    return tuple((asset, why) for asset in sorted(left - named))


def step_locations(prep: Prepared) -> dict[str, str]:
    """Action id -> `FILE:LINE` of the recipe step that makes the call (the first, for a call that
    several variants share)."""
    variants = {v.name: v for v in prep.project.variants()}
    found: dict[str, str] = {}
    texts: dict[str, str] = {}      # one string per step location (a matrix's variants share theirs)
    for asset in prep.plan.assets:
        variant = variants.get(asset.name)
        if variant is None:
            continue
        for aid, step in zip(asset.steps, variant.steps, strict=False):
            if aid not in found:
                text = f"{step.location.file}:{step.location.line}"
                found[aid] = texts.setdefault(text, text)
    return found


async def _execute(prep: Prepared, opts: BuildOptions, sink: Sink, adopt: frozenset[str],
                   plan: Plan | None = None, share: float = 1.0) -> Outcome:
    from assetgen.plan.status import encoder_version

    forced = frozenset(aid for aid, st in prep.resolution.states.items()
                       if any(r.why is Why.FORCED for r in st.reasons))
    settings = Settings(prep.project.root, opts.jobs, opts.fail_fast, forced, opts.previews,
                        encoder_version(), opts.overwrite, adopt, prep.lock.written(),
                        locations=step_locations(prep))
    provider = create_provider(prep.provider, prep.project.config, prep.project.root, opts.endpoint, share)
    sink(Event(Kind.ACTIVITY, activity=provider.activity))
    resolution = prep.resolution
    fetcher: Fetcher | None = None
    uploader: Uploader | None = None
    pool: ThreadPoolExecutor | None = None
    if prep.remote is not None:     # the transfer threads, outside -j: downloads and uploads
        pool = ThreadPoolExecutor(max_workers=max(1, prep.remote.workers),
                                  thread_name_prefix="assetgen-remote")
        if prep.resolver.stream:
            fetcher = Fetcher(prep.remote, prep.store, resolution.expected, settings.encoder, pool)
        if prep.remote.spec.writes:
            uploader = Uploader(prep.remote, prep.store, pool)
    executor = Executor(plan or prep.plan, resolution.states, prep.store, prep.files, provider, settings,
                        sink, resolution.recovered, resolution.ready, fetcher, resolution.later, uploader)
    loop = asyncio.get_running_loop()
    presses = [0]

    def on_stop() -> None:
        """Ctrl-C, or SIGTERM (a CI job cancelled, `timeout`, `docker stop`): the first sends
        nothing new and saves what is on the wire (paid for); the second exits at once."""
        presses[0] += 1
        if presses[0] > 1:
            os._exit(ExitCode.INTERRUPTED)
        executor.stop()

    installed = _install(loop, on_stop)
    try:
        return await executor.run()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if pool is not None:    # what has not started never starts (the last pass uploads it)
            pool.shutdown(wait=False, cancel_futures=True)
        if uploader is not None:
            await asyncio.to_thread(uploader.wait)      # before the last pass: nothing goes up twice
        await provider.aclose()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _install(loop: asyncio.AbstractEventLoop, handler: object) -> list[signal.Signals]:
    """The stop signals `handler` now answers (none where the loop cannot take them: Windows)."""
    installed = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, handler)  # type: ignore[arg-type]
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(sig)
    return installed


def _save(prep: Prepared, opts: BuildOptions, out: Outcome, inputs: Stats, writes: Writes,
          unfinished: bool = False) -> Swept:
    """`unfinished`: the build leaves something to a later one (calls waiting in batches, paid
    outputs a local build does not restore), so it is not stamped as done."""
    from assetgen.plan.status import encoder_version

    root = prep.project.root
    whole = not (opts.only or _only_files(opts))
    lock = next_lock(prep.plan, out.results, prep.lock, prep.selected, encoder_version(), prune=whole,
                     keys=out.keys,
                     kept=out.kept, adopted=out.adopted, known=prep.known)
    swept = Swept()
    writing = None
    if lock != prep.lock:
        swept = sweep(root, prep.lock, lock, in_use(prep), prep.files, prep.store)
        writing = _Writing(root, lock)
    try:
        prep.files.save()
        _drop_stale_temps(prep, writes, whole)
        # what the old lock reached was reached until now, and so is what the new one does (gc's grace)
        reached_at = time.time()
        prep.store.touch(gc.reached_calls(prep.plan, prep.resolution, prep.lock, lock), reached_at)
        del lock        # not held here while the stamp and the build index are made
        complete = not (out.failures or out.blocked or out.not_started or out.interrupted or out.kept
                        or unfinished)
        if complete and not opts.only and not opts.force:
            if writing is None:     # a lock file read whole and left as it is, in assetgen's layout?
                lockfile.claim(root, prep.lock)
            _stamp(prep, opts, inputs, reached_at, writing)
        else:
            stamp.clear(root)
    finally:
        if writing is not None:
            writing.done()
    if complete:
        writes.end()    # else its mark stays: a failed worker may have left a temp file
    return swept


class _Writing:
    """The lock file written to a temp file here, then synced to disk and put in place in a thread
    while the rest is saved (that waits on the disk, the rest on the processor: at 10,000 assets
    ~10 ms of syncing 9.5 MB and freeing the old file overlap the index's and the stamp's work).
    `done` waits for it, before the stamp (which holds the lock file's stat) is written."""

    def __init__(self, root: Path, lock: lockfile.Lock) -> None:
        import threading

        self._writing: lockfile.Writing | None = lockfile.Writing(root, lock)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._place, args=(self._writing,), name="assetgen-lock")
        self._thread.start()

    def _place(self, writing: lockfile.Writing) -> None:
        try:
            writing.sync()
            writing.place()
        except BaseException as exc:    # raised by `done`, in the build's thread
            writing.abort()
            self._error = exc

    def done(self) -> None:
        """Wait for the lock file to be in place, and record it (once); raise what the thread raised."""
        self._thread.join()
        writing, self._writing = self._writing, None
        if writing is None:
            return
        if self._error is not None:
            raise self._error
        writing.record()


def _drop_stale_temps(prep: Prepared, writes: Writes, whole: bool) -> None:
    """Remove the temp files that writers which are gone left beside this build's outputs. A build
    of the whole project looks in every output folder, and then forgets the marks of those writers;
    a build after a small change looks only when such a mark is there (a folder of 10,000 outputs
    takes 5 ms to list)."""
    gone = writes.gone()
    if prep.rest is not None and gone == []:
        return
    drop_stale_temps(prep.project.root, _outputs(prep))
    if whole and prep.rest is None and gone:
        writes.forget(gone)


def _adopting(prep: Prepared, opts: BuildOptions) -> frozenset[str]:
    """The outputs `--adopt` names, as project-relative paths; one no recipe writes is a usage error."""
    root = prep.project.root.resolve()
    outputs = set(_outputs(prep))
    found: set[str] = set()
    for given in opts.adopt:
        full = (opts.cwd / given).resolve()
        rel = full.relative_to(root).as_posix() if full.is_relative_to(root) else given
        if rel not in outputs and given in outputs:
            rel = given         # written as in the recipe, from another folder
        if rel not in outputs:
            raise UserError(f"--adopt {given}: no recipe in this build writes that output")
        if not (root / rel).is_file():
            raise UserError(f"--adopt {given}: there is no file there to adopt (a build writes it anew "
                            "without --adopt)")
        found.add(rel)
    return frozenset(found)


Stats = dict[str, "list[int] | None"]


def _input_stats(prep: Prepared) -> Stats:
    """Stats of what the build read (recipes, project file, input images), taken right after
    loading, so an edit made while the build runs is never stamped as built."""
    root = prep.project.root
    files = [r.path for r in prep.project.recipes] + [stamp.PROJECT_FILE]
    for action in prep.plan.actions:
        if action.call is not None:
            files += [s.file for s in action.call.sources if s.file]
    return stamp.stats(root, files)


def _stamp(prep: Prepared, opts: BuildOptions, inputs: Stats, reached_at: float,
           writing: _Writing | None = None) -> None:
    """The build index, the variant cache and the stamp; the stamp once the lock file is written."""
    from assetgen.run import index, partial, varcache

    root = prep.project.root
    sig = stamp.signature(opts.paths, opts.cwd, opts.provider.value if opts.provider else None)
    only_files = _only_files(opts)
    dirs = stamp.glob_dirs(root, prep.project.config.recipes) if not only_files else ["."]
    # the outputs' stats over the inputs' (and those over the stamped stats of the files left
    # alone), merged a map at a time (a ChainMap is read an entry at a time: 2x the stamp's time)
    # (the outputs of paid images a local build leaves alone too: one deleted is then said again)
    fresh: dict[str, Any] = {**inputs, **stamp.stats(root, _outputs(prep) + _paid_outputs(prep))}
    if _changed_meanwhile(prep, inputs, fresh, opts.started) is not None:
        stamp.clear(root)       # the next build takes the full path, and sees what changed
        return
    files = fresh
    entries = None
    cached: dict[str, Any] = {}
    env = ""
    if not (only_files or prep.paid):       # the index covers every variant, or there is none
        made, records = index.entries(prep.project.recipes, prep.plan,
                                      keep=partial.cacheable if prep.rest is None else None)
        entries, env, cached = partial.after_build(prep, made, inputs, records)
        del made, records
    if prep.rest is not None:
        files = {**prep.rest.stamped, **fresh}
        entries = {**prep.rest.files, **entries} if entries is not None else None
    # the index, then the variant cache (it holds the hash of the index it goes with), then the stamp
    index_sha = index.write(root, entries) if entries is not None else None
    del entries
    if index_sha is not None and cached:
        varcache.write(root, index_sha, env, cached)
    else:
        varcache.remove(root)
    if writing is not None:
        writing.done()
    locked = stamp.stats(root, [lockfile.LOCK_FILE])
    files.update(locked)
    fresh.update(locked)
    searched = stamp.dir_stats(root, dirs)
    if not only_files and stamp.recipe_added(root, prep.project.config.recipes, searched, opts.started,
                                             lambda: _known_recipes(prep)):
        stamp.clear(root)       # its folder's mtime, stamped, would hide it from the next build
        return
    stamp.write(root, sig, files, searched, prep.actions_total(), reached_at, index_sha,
                fresh=fresh.keys() if prep.rest is not None else None)


def _known_recipes(prep: Prepared) -> set[str]:
    """The recipe files the build knows: those it loaded, and those a small build left alone."""
    known = {r.path for r in prep.project.recipes}
    if prep.rest is not None:
        known |= set(prep.rest.files)
    return known


def _changed_meanwhile(prep: Prepared, inputs: Stats, fresh: dict[str, Any],
                       started: int | None) -> str | None:
    """A file the stamp would vouch for that changed while the build ran, or None: a recipe, the
    project file or an input changed since the command started (it may have been read before the
    change), or an output that is not as the build wrote or found it (deleted, or changed by hand
    meanwhile: recorded as it is now, the stamp would hide it from the next build)."""
    if started is not None:     # their stats were taken once they were read: a ctime since the start
        found = next((path for path, st in inputs.items() if st is not None and st[3] >= started), None)
        if found is not None:
            return found
    for path in _outputs(prep):
        if fresh.get(path) != prep.files.seen(path):
            return path
    return None


def _only_files(opts: BuildOptions) -> bool:
    return bool(opts.paths) and all((opts.cwd / p).is_file() for p in opts.paths)
