"""A first build of a large project, a part at a time, so that its memory is about one part's.

A whole-project build whose lock file holds nothing yet (a first build: from nothing, or after the
lock file was deleted) of more than PART variants is made in parts of about PART variants, instead
of loading, planning and running the whole project at once (which holds every variant, action and
result in memory together: ~6 KB an asset):

1. Every recipe file is loaded once, into the recipe cache, and kept only as its names, outputs,
   inputs and the names it refers to.
2. The checks between files are made on those: a variant name or asset key in two files, an
   output path another file writes or reads (in any case), an output over a recipe file, a
   reference to nothing. Files that refer to one another go into one part, whole.
3. Each part is loaded again from the recipe cache and checked with every lint check, and planned
   (the provider given on the command line checked too), before anything runs.
4. Each part is resolved and run in turn, against the cache alone (the lock holds nothing yet);
   what it leaves is kept compressed, about 300 bytes an asset: its lock entries' text, its run
   of the build index and its files' stats. The last part writes the lock file (every part's
   entries merged by name), the build index and the stamp of the whole project, as the whole
   build would have written them. A build that stops (a failure under `--fail-fast`, Ctrl-C, an
   error) writes the lock file of the parts it built, and no stamp.

Anything unusual (an error in any file, a remote cache, batches,
`--only`, `--force`, `--adopt`, named files, few variants) returns None: the full path builds,
and gives the exact messages. This path only ever builds what the full path would build, as it
would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from assetgen import lockfile
from assetgen.errors import Severity, UserError
from assetgen.plan.lockgen import next_lock
from assetgen.recipe.model import Project, Recipe
from assetgen.run import stamp
from assetgen.run.build import BuildOptions, BuildReport, Cause, _has_batches
from assetgen.run.events import Sink
from assetgen.run.orphans import Swept

if TYPE_CHECKING:
    from pathlib import Path

    from assetgen.atomic import Writes
    from assetgen.project import ConfigResult
    from assetgen.recipe.convert import FileResult, Params
    from assetgen.recipe.filecache import RecipeCache
    from assetgen.recipe.load import Loaded
    from assetgen.run.executor import Outcome
    from assetgen.run.prepare import Prepared

PART = 10_000       # variants a part holds (files that refer to one another go together: maybe more)
PART_ENV = "ASSETGEN_PART_VARIANTS"
SMALL_LOCK = 1 << 16    # a lock file larger than this holds entries: the full path


class _File(NamedTuple):
    """A recipe file as the first pass keeps it."""

    rel: str
    variants: tuple[str, ...]
    assets: tuple[str, ...]     # its asset keys
    refs: tuple[str, ...]       # the names its variants refer to
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]     # the files its variants read


def part_size() -> int:
    try:
        return max(1, int(os.environ.get(PART_ENV, PART)))
    except ValueError:
        return PART


def build(opts: BuildOptions, sink: Sink) -> BuildReport | Loaded | None:
    """The build in parts; else None, or the recipe files loaded to find the project small: the
    full path builds (and takes those as loaded)."""
    if opts.only or opts.force or opts.adopt or opts.frozen or opts.batch or opts.shard is not None \
            or opts.max_cost is not None:
        return None
    from assetgen import project as project_file
    from assetgen.cache import linked_state
    from assetgen.recipe import load as recipe_load
    from assetgen.remote_cache.config import remote_spec

    root, named = recipe_load.targets(opts.paths, opts.cwd)
    lock = _empty_lock(root) if named is None else None
    if lock is None:
        return None
    cfg = project_file.read_config(root)
    if cfg.diagnostics or remote_spec(cfg.config.cache) is not None or linked_state(root) is not None \
            or _has_batches(root):
        return None
    files, unmatched = recipe_load.recipe_files(root, cfg.config.recipes)
    if unmatched or len(files) < 2:
        return None
    size = part_size()
    surveyed = _survey(root, cfg, files, size)
    if not isinstance(surveyed, tuple):
        return surveyed
    found, cache = surveyed
    groups = _parts(found, size)
    del surveyed, found
    # each part's entries of the recipe cache, kept compressed (the cache of 50,000 files is ~27 MB of
    # text): a part is loaded without reading the cache file again
    parts = [_Part(group, cache.texts(group)) for group in groups or ()]
    cache.save()
    del cache
    if len(parts) < 2:
        return None
    if not _check(root, cfg, parts, opts):
        return None
    return _run(root, cfg, parts, lock, opts, sink)


def _empty_lock(root: Path) -> lockfile.Lock | None:
    """The lock file when it holds no entry (or there is none); else None."""
    try:
        if (root / lockfile.LOCK_FILE).stat().st_size > SMALL_LOCK:
            return None
    except FileNotFoundError:
        return lockfile.EMPTY
    except OSError:
        return None
    try:
        lock = lockfile.read(root)
    except UserError:
        return None
    return lock if not lock.assets and not lock.others else None


# -- 1 and 2: the files as names and paths, checked between files, grouped into parts -----

def _survey(root: Path, cfg: ConfigResult, files: list[str], size: int
            ) -> tuple[list[_File], RecipeCache] | Loaded | None:
    """Every file loaded (into the recipe cache) and, once they hold more than `size` variants,
    kept as names and paths only. Until then the results are kept: when the files end first, or
    one has an error, those loaded are given back, for the full path to take. None: an error
    after that (the full path reports it)."""
    from assetgen.recipe import load as recipe_load

    cache = recipe_load.recipe_cache(root)
    params: list[Params] = []
    held: dict[str, FileResult] | None = {}
    found: list[_File] = []
    count = 0
    for rel in files:
        result = recipe_load.load_cached(root, rel, cfg, cache, params)
        bad = _bad(result)
        count += len(result.variants)
        if held is None:
            if bad:
                return None
            found.append(_kept(rel, result))
            continue
        held[rel] = result
        if bad:
            break
        if count > size:
            found = [_kept(r, held[r]) for r in held]
            held = None
    if held is not None:
        return recipe_load.Loaded(held, cache)      # (saved by the full path's loading)
    return found, cache


def _bad(result: FileResult) -> bool:
    """A file with errors, or variants dropped for them: the full path reports it."""
    return bool(result.skipped) or any(d.severity is Severity.ERROR for d in result.diagnostics)


def _kept(rel: str, result: FileResult) -> _File:
    """What the first pass keeps of a file."""
    from assetgen.recipe.refs import refs_of

    intern = sys.intern
    refs: set[str] = set()
    inputs: set[str] = set()
    for variant in result.variants:
        refs.update(r.asset for r in refs_of(variant) if r.asset)
        for step in variant.steps:
            inputs.update(r.path for r in (step.image, step.mask, *step.images) if r is not None and r.path)
    return _File(intern(rel), tuple(intern(v.name) for v in result.variants),
                 tuple(intern(k) for k in result.assets), tuple(sorted(refs)),
                 tuple(o.path for v in result.variants for o in v.outputs), tuple(sorted(inputs)))


def _parts(files: list[_File], size: int) -> list[list[str]] | None:
    """The files in parts of about `size` variants, each closed under references; None when the
    files clash (a name or path in two of them) or refer to a name no file has."""
    owner: dict[str, int] = {}
    for i, f in enumerate(files):
        for name in (*f.variants, *f.assets):
            if owner.setdefault(name, i) != i:
                return None
    recipes = {f.rel.casefold() for f in files}
    written: dict[str, int] = {}
    read: dict[str, int] = {}
    for i, f in enumerate(files):
        for path in f.inputs:
            read.setdefault(path.casefold(), i)
    for i, f in enumerate(files):
        for path in f.outputs:
            folded = path.casefold()
            if written.setdefault(folded, i) != i or folded in recipes:
                return None
            if read.get(folded, i) != i:
                return None
    for folded, i in read.items():      # an input another file writes (any reader of it)
        if written.get(folded, i) != i:
            return None
    lead = list(range(len(files)))      # union-find: files that refer to one another

    def find(i: int) -> int:
        while lead[i] != i:
            lead[i] = lead[lead[i]]
            i = lead[i]
        return i

    for i, f in enumerate(files):
        for name in f.refs:
            j = owner.get(name)
            if j is None:
                return None
            a, b = find(i), find(j)
            if a != b:
                lead[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(files)):
        groups.setdefault(find(i), []).append(i)
    parts: list[list[str]] = []
    current: list[str] = []
    count = 0
    for members in groups.values():     # in the order of each group's first file
        n = sum(len(files[i].variants) for i in members)
        if current and count + n > size:
            parts.append(current)
            current, count = [], 0
        current += [files[i].rel for i in members]
        count += n
    if current:
        parts.append(current)
    return parts


# -- 3: each part checked and planned before anything runs --------------------------------

def _labelled(sink: Sink, part: str) -> Sink:
    """`sink`, told which part a build's start is of."""
    import dataclasses

    from assetgen.run.events import Event, Kind

    def labelled(event: Event) -> None:
        sink(dataclasses.replace(event, part=part) if event.kind is Kind.STARTED else event)

    return labelled


class _Part:
    """A part's recipe files, and their entries of the recipe cache, compressed."""

    def __init__(self, files: list[str], entries: dict[str, str]) -> None:
        self.files = files
        self.actions = self.renditions = 0      # once planned (`_check`)
        self._entries = zlib.compress(json.dumps(entries, ensure_ascii=False).encode("utf-8"))

    def entries(self) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(zlib.decompress(self._entries))
        return loaded


def _project(root: Path, cfg: ConfigResult, part: _Part) -> Project | None:
    """The part's files as a project (through its entries of the recipe cache), references
    resolved among them."""
    from assetgen.recipe import load as recipe_load
    from assetgen.recipe import refs

    cache = recipe_load.recipe_cache(root, held=part.entries())
    params: list[Params] = []
    results = [(rel, recipe_load.load_cached(root, rel, cfg, cache, params)) for rel in part.files]
    del cache
    if any(_bad(r) for _, r in results):
        return None
    names = refs.Names(
        variants=frozenset(v.name for _, r in results for v in r.variants),
        assets={k: n for _, r in results for k, n in r.assets.items()},
        matrix_assets=frozenset(k for _, r in results for k in r.matrix_assets), skipped=frozenset())
    recipes = []
    for rel, result in results:
        variants, diags, dropped = refs.resolve(result.variants, names)
        if diags or dropped:
            return None
        recipes.append(Recipe(path=rel, variants=tuple(variants), definition=result.definition))
    return Project(root=root, config=cfg.config, recipes=tuple(recipes))


def _check(root: Path, cfg: ConfigResult, parts: list[_Part], opts: BuildOptions) -> bool:
    """Whether every part passes every lint check and is planned (its actions and renditions
    counted); else the full path reports what it found."""
    from assetgen.cache import STATE_DIR
    from assetgen.lint.run import CHECKS
    from assetgen.plan.files import FileHashes
    from assetgen.plan.graph import build_plan
    from assetgen.run.prepare import check_for

    kind = opts.provider or cfg.config.provider
    for part in parts:
        project = _project(root, cfg, part)
        if project is None:
            return False
        for check in CHECKS:
            if any(d.severity is Severity.ERROR for d in check(project)):
                return False
        try:
            if kind is not cfg.config.provider:
                check_for(project, kind, opts.cwd)
            plan = build_plan(project, kind.value, FileHashes(root, root / STATE_DIR).hash)
        except UserError:
            return False
        part.actions = len(plan.actions)
        part.renditions = sum(1 for a in plan.actions if a.render is not None)
        del project, plan
    return True


# -- 4: each part run; the last saves for the whole project -------------------------------

def _run(root: Path, cfg: ConfigResult, parts: list[_Part], lock: lockfile.Lock, opts: BuildOptions,
         sink: Sink) -> BuildReport:
    from assetgen import gc
    from assetgen.atomic import Writes
    from assetgen.cache import CACHE_ENV, Store, cache_dir
    from assetgen.providers.registry import where_calls_go

    kind = opts.provider or cfg.config.provider
    where_calls_go(kind, cfg.config, opts.endpoint)     # a bad URL: exit 2, nothing run
    store = Store(cache_dir(root))
    if os.environ.get(CACHE_ENV):
        gc.register(store.root, root)
    stamp.clear(root)       # until the last part is saved, no stamp says the project is built
    using = store.in_use()
    using.acquire()
    try:
        return _Parts(root, cfg, parts, opts, sink, Writes.begin(root / ".assetgen")).run(lock)
    finally:
        using.release()


class _Built:
    """A part once built, compressed (about 300 bytes an asset): its lock entries' text, by name;
    its run of the build index; and its files' stats, as the stamp's JSON members."""

    PER = 512       # lock entries a block

    def __init__(self, entries: Iterator[tuple[str, str]], index: tuple[str, ...], members: str) -> None:
        blocks, block = [], []
        for entry in entries:
            block.append(entry)
            if len(block) == self.PER:
                blocks.append(_packed(block))
                block = []
        if block:
            blocks.append(_packed(block))
        self._lock = blocks
        self._index = [zlib.compress(text.encode("utf-8")) for text in index]
        self._members = zlib.compress(members.encode("utf-8"))

    def lock_entries(self) -> Iterator[tuple[str, str]]:
        for blob in self._lock:
            yield from json.loads(zlib.decompress(blob))

    def index_run(self, i: int) -> str:
        return zlib.decompress(self._index[i]).decode("utf-8")

    def members(self) -> str:
        return zlib.decompress(self._members).decode("utf-8")


def _packed(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, ensure_ascii=False).encode("utf-8"))


class _Parts:
    """The parts run in turn; what each leaves to the next is `_Built` and the report's figures."""

    def __init__(self, root: Path, cfg: ConfigResult, parts: list[_Part], opts: BuildOptions, sink: Sink,
                 writes: Writes) -> None:
        self.root, self.cfg, self.parts, self.total = root, cfg, parts, sum(p.actions for p in parts)
        self.opts, self.sink, self.writes = opts, sink, writes
        self.built: list[_Built] = []
        self.filled = [False] * 7           # the index columns with a value that is not empty
        self.inputs: set[str] = set()       # input files whose stats a built part holds
        self.reached_at: float | None = None
        self.complete = True        # every part so far built whole, nothing changed meanwhile: stamped
        self.interrupted = False
        self.calls = self.cached = self.failed = self.requests = self.written = 0
        self.failures: tuple[tuple[str, str], ...] = ()
        self.causes: tuple[Cause, ...] = ()
        self.kept: tuple[tuple[str, str, str], ...] = ()

    def run(self, lock: lockfile.Lock) -> BuildReport:
        """`lock`: the lock file, empty: each part resolves against the cache alone."""
        from assetgen.run.build import _execute, _input_stats
        from assetgen.run.prepare import prepare_project

        last = len(self.parts) - 1
        deferred = 0
        warnings: tuple[str, ...] = ()
        saved = False
        try:
            for k, part in enumerate(self.parts):
                project = _project(self.root, self.cfg, part)
                if project is None:     # a file changed since it was checked: left to the next build
                    deferred = sum(p.actions for p in self.parts[k:])
                    warnings = (f"a recipe file changed while the build ran: {len(self.parts) - k} of its "
                                f"{len(self.parts)} parts were not built; run the build again",)
                    break
                prep = prepare_project(project, self.opts.provider, lock=lock)
                del project
                inputs = _input_stats(prep)
                sink = _labelled(self.sink, f"part {k + 1} of {last + 1}")
                out = asyncio.run(_execute(prep, self.opts, sink, frozenset()))
                going = self._count(prep, out)
                saved = k == last or not going
                self._save(prep, out, inputs, final=saved)
                if out.halted is not None and k != last:   # refused credentials: the rest is not sent
                    deferred = sum(p.actions for p in self.parts[k + 1:])
                    warnings = (f"the build stopped at part {k + 1} of {len(self.parts)} ({out.halted}); "
                                f"the {deferred} actions of the parts after it were not started",)
                del prep, out, inputs   # not held while the next part loads
                if not going:
                    break
        finally:
            if not saved:   # stopped between parts (an error, Ctrl-C): the lock file keeps what was built
                self.complete = False
                stamp.clear(self.root)
                if self.built:
                    lockfile.write_merged(self.root, [b.lock_entries() for b in self.built])
        return BuildReport(self.total, self.calls, self.cached, self.failed, self.requests, self.written,
                           self.failures, interrupted=self.interrupted, swept=Swept(),
                           renditions=sum(p.renditions for p in self.parts), kept=self.kept,
                           warnings=warnings, deferred=deferred,
                           causes=self.causes, parts=len(self.parts))

    def _count(self, prep: Prepared, out: Outcome) -> bool:
        """Count the part's outcome; whether the build goes on to the next part."""
        from assetgen.run.build import _failures

        failures, failed, left, causes = _failures(prep, out)
        owner = {a.render.output.path: a.assets[0] for a in prep.plan.actions if a.render is not None}
        self.calls += out.calls
        self.cached += len(prep.plan.actions) - out.calls - failed - left
        self.failed += failed
        self.requests += out.requests
        self.written += len(out.written)
        self.failures += failures
        self.causes += causes
        self.kept += tuple((owner[p], p, m) for p, m in sorted(out.kept.items()))
        self.complete = self.complete and not (out.failures or out.blocked or out.not_started
                                               or out.interrupted or out.kept)
        self.interrupted = out.interrupted
        return not (out.interrupted or out.halted is not None or (self.opts.fail_fast and failed))

    def _save(self, prep: Prepared, out: Outcome, inputs: dict[str, Any], final: bool) -> None:
        """The part's lock entries, stats and index run kept; and when `final`, the lock file with
        every part's entries, and the index and stamp when the whole project was built."""
        from assetgen import gc
        from assetgen.plan.status import encoder_version
        from assetgen.run import index as build_index
        from assetgen.run.build import _changed_meanwhile, _drop_stale_temps, _outputs

        lock = next_lock(prep.plan, out.results, prep.lock, prep.selected, encoder_version(), prune=False,
                         keys=out.keys, kept=out.kept, adopted=out.adopted)
        if final:
            lockfile.write_merged(self.root, [*(b.lock_entries() for b in self.built),
                                              lockfile.entry_texts(lock)])
        prep.files.save()
        _drop_stale_temps(prep, self.writes, True)
        reached_at = time.time()
        prep.store.touch(gc.reached_calls(prep.plan, prep.resolution, prep.lock, lock), reached_at)
        self.reached_at = self.reached_at or reached_at
        fresh = {**inputs, **stamp.stats(self.root, _outputs(prep))}
        if _changed_meanwhile(prep, inputs, fresh, self.opts.started) is not None:
            self.complete = False
        if not final:
            self.built.append(self._built(prep, lock, inputs, fresh))
            return
        if not self.complete:
            stamp.clear(self.root)
            return
        index_run = self._index_run(prep)
        index_runs: list[Callable[[int], str]] = [*(b.index_run for b in self.built), index_run.__getitem__]
        index_sha = build_index.write_joined(self.root, index_runs, self.filled)
        from assetgen.run import varcache

        varcache.remove(self.root)      # none kept: the next change to a large matrix loads it whole
        fresh.update(stamp.stats(self.root, [lockfile.LOCK_FILE]))
        self._stamp(prep, inputs, fresh, index_sha)
        self.writes.end()

    def _built(self, prep: Prepared, lock: lockfile.Lock, inputs: dict[str, Any], fresh: dict[str, Any]
               ) -> _Built:
        index_run = self._index_run(prep)
        return _Built(lockfile.entry_texts(lock), index_run, self._members(prep, inputs, fresh, final=False))

    def _index_run(self, prep: Prepared) -> tuple[str, ...]:
        """The part's run of the build index (and which columns it fills)."""
        from assetgen.run import index as build_index

        texts, filled = build_index.run_texts(build_index.entries(prep.project.recipes, prep.plan)[0])
        self.filled = [a or b for a, b in zip(self.filled, filled, strict=True)]
        return texts

    def _members(self, prep: Prepared, inputs: dict[str, Any], fresh: dict[str, Any], final: bool) -> str:
        """The stats' JSON members: each input file's once (two parts may read one), the project
        file's in the last part's (every part's recipes and outputs are its own). `inputs`: the
        stats taken after loading (its recipes, the project file, its input files)."""
        from assetgen.statefiles import json_members

        skip = set(self.inputs)
        if not final:
            skip.add(stamp.PROJECT_FILE)
        recipes = {r.path for r in prep.project.recipes}
        self.inputs.update(path for path in inputs if path not in recipes and path != stamp.PROJECT_FILE)
        return "".join(json_members((path, st) for path, st in fresh.items() if path not in skip))

    def _stamp(self, prep: Prepared, inputs: dict[str, Any], fresh: dict[str, Any], index_sha: str) -> None:
        opts = self.opts
        sig = stamp.signature(opts.paths, opts.cwd, opts.provider.value if opts.provider else None)
        globs = self.cfg.config.recipes
        searched = stamp.dir_stats(self.root, stamp.glob_dirs(self.root, globs))
        if stamp.recipe_added(self.root, globs, searched, opts.started,
                              lambda: {rel for part in self.parts for rel in part.files}):
            stamp.clear(self.root)
            return
        members = [*(b.members() for b in self.built), self._members(prep, inputs, fresh, final=True)]
        stamp.write_joined(self.root, sig, members, searched, self.total, self.reached_at or time.time(),
                           index_sha)
