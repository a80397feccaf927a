"""Everything `plan`, `build` and `gc` share: load the project, build the plan, resolve it."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import Struct, field

from assetgen import lockfile
from assetgen.cache import CACHE_ENV, STATE_DIR, Store, cache_dir, linked_state
from assetgen.errors import UserError
from assetgen.lockfile import Lock
from assetgen.plan.explain import Why
from assetgen.plan.files import DIRECT_FILES, FileHashes
from assetgen.plan.graph import AssetPlan, Plan, build_plan
from assetgen.plan.status import Resolution, Resolver, Status
from assetgen.recipe.model import Project, ProviderKind

if TYPE_CHECKING:
    from assetgen.recipe.load import Loaded
    from assetgen.remote_cache.remote import RemoteCache
    from assetgen.run.index import FileEntry
    from assetgen.run.partial import Kept


class Rest(Struct, frozen=True):
    """The recipe files a build after a small change left alone (`run.delta`), as the build index
    and the stamp have them: built, locked and unchanged."""

    files: Mapping[str, FileEntry]
    stamped: Mapping[str, Any]      # the stats the stamp holds for them, their inputs and outputs
    actions: int                    # the whole project's action count
    renditions: int                 # and its outputs
    used: frozenset[str]            # paths they write or read
    # the loaded files whose definition is known (`run.partial`), some of whose variants may have
    # been kept as the last build made them (their records are in no plan)
    kept: Mapping[str, Kept] = field(default_factory=dict)
    carried: Mapping[str, Any] = field(default_factory=dict)    # variant cache entries of the rest
    env: str = ""                   # the environment the variant cache was read for


class Prepared(Struct, frozen=True):
    project: Project
    provider: ProviderKind
    plan: Plan                   # restricted to `--only` (and what it needs)
    selected: frozenset[str]     # variant names selected by `--only` (all when none)
    store: Store
    lock: Lock
    files: FileHashes
    resolver: Resolver
    resolution: Resolution
    remote: RemoteCache | None = None    # the remote cache, when one is configured and not off
    # variants left as they are because the lock holds a paid provider's images for them and this
    # plan is for the local provider: placeholders never replace paid work
    paid: frozenset[str] = frozenset()
    known: frozenset[str] = frozenset()   # every variant of the project (for pruning the lock)
    rest: Rest | None = None              # the recipe files not loaded (a build after a small change)

    def actions_total(self) -> int:
        return self.rest.actions if self.rest is not None else len(self.plan.actions)

    def renditions(self) -> int:
        if self.rest is not None:
            return self.rest.renditions
        return sum(1 for a in self.plan.actions if a.render is not None)

    def paid_outputs(self) -> int:
        """How many outputs this plan leaves as paid images."""
        return sum(len(self.lock.assets[name].outputs) for name in self.paid if name in self.lock.assets)


def matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _picked(asset: AssetPlan, patterns: Sequence[str]) -> bool:
    """A pattern names a variant, or an asset key (all its variants)."""
    return matches(asset.name, patterns) or matches(asset.key, patterns)


def _check_patterns(plan: Plan, flag: str, patterns: Sequence[str]) -> None:
    """A pattern that names nothing is a typo, not a request to build nothing."""
    for pattern in patterns:
        if not any(_picked(a, [pattern]) for a in plan.assets):
            raise UserError(f"{flag} '{pattern}' matches no asset or variant")


def restrict(plan: Plan, names: frozenset[str]) -> Plan:
    """The actions the named assets need (their own and everything upstream), in plan order."""
    by_id = plan.by_id()
    keep: set[str] = set()
    stack = [aid for a in plan.assets if a.name in names for aid in (*a.steps, *a.outputs)]
    while stack:
        aid = stack.pop()
        if aid not in keep:
            keep.add(aid)
            stack.extend(by_id[aid].deps)
    return Plan(plan.provider, tuple(a for a in plan.actions if a.id in keep),
                tuple(a for a in plan.assets if a.name in names))


def prepare(paths: Sequence[str], cwd: Path, provider: ProviderKind | None = None,
            only: Sequence[str] = (), force: Sequence[str] = (), remote: str | None = None,
            remember: bool = True, loaded: Loaded | None = None) -> Prepared:
    """`remote`: "stream" leaves the remote cache to the executor, which fetches what each action
    needs while the build runs (build); "fetch" downloads what the plan needs before anything runs
    (a build that must know first: --batch, --max-cost); "look" only asks what it holds (plan,
    --frozen); None leaves it alone. `remember`: keep the recipe cache up to date
    (not under `--frozen`, which writes nothing). `loaded`: recipe files loaded already."""
    return prepare_project(load(paths, cwd, remember, provider, loaded), provider, only, force, remote)


def load(paths: Sequence[str], cwd: Path, remember: bool = True,
         provider: ProviderKind | None = None, loaded: Loaded | None = None) -> Project:
    """The project, or UserError when it has errors or its globs find nothing to build. `provider`:
    the one the command uses instead of the project file's (`--provider`), whose own rules (formats,
    parameters, input limits) are checked too: what it would refuse is an error here, not a paid
    call that fails."""
    from assetgen.lint import load_checked

    project = load_checked(list(paths), cwd, remember=remember, loaded=loaded)
    if provider is not None and provider is not project.config.provider:
        check_for(project, provider, cwd)
    if not project.recipes:     # a typo in the globs must not build nothing and empty the lock file
        globs = ", ".join(project.config.recipes)
        raise UserError(f"no recipe files match {globs} in {project.root}")
    for pattern in project.unmatched_globs:     # the others' assets would go
        raise UserError(f"recipe glob '{pattern}' in assetgen.yaml matches no file in {project.root}; "
                        "fix or remove it (building without it would drop the assets it was meant to find)")
    linked = linked_state(project.root)
    if linked is not None:
        raise UserError(f"{linked}: error: a symbolic link where assetgen keeps its state; remove it "
                        f"(nothing is written through it; set ${CACHE_ENV} to keep the cache elsewhere)")
    return project


def check_for(project: Project, provider: ProviderKind, cwd: Path) -> None:
    """The checks that depend on the provider, made for `provider`; UserError listing the errors."""
    from assetgen.errors import Severity
    from assetgen.lint import where
    from assetgen.lint.files import check_files
    from assetgen.lint.models import check_models
    from assetgen.recipe.load import dedupe

    config = msgspec.structs.replace(project.config, provider=provider)
    other = msgspec.structs.replace(project, config=config)
    errors = [d for d in dedupe([*check_models(other), *check_files(other)]) if d.severity is Severity.ERROR]
    if errors:
        raise UserError(where.rebased(errors, project.root, cwd.resolve()))


def prepare_project(project: Project, provider: ProviderKind | None = None,
                    only: Sequence[str] = (), force: Sequence[str] = (),
                    remote: str | None = None, lock: Lock | None = None, few: bool = False) -> Prepared:
    """The plan of a loaded project for one provider, resolved against the cache and lock file.

    A file hash taken from the stat cache is only a hint: when an action is to run (a call to pay
    for, an output to replace) because a file seems to have changed, the files it depends on are
    hashed again from their bytes, and when the stat cache was wrong the plan is made again.
    `lock`: the lock file as already read (a build after a small change reads only some entries).
    `few`: the plan of a few changed recipe files, whose files are hashed from their bytes until
    the stat cache pays for its reading."""
    kind = provider or project.config.provider
    files = FileHashes(project.root, project.root / STATE_DIR, direct=DIRECT_FILES if few else 0)
    store = Store(cache_dir(project.root))
    shared = open_remote(project, store, fetch=remote in ("fetch", "stream")) if remote else None
    while True:
        full = build_plan(project, kind.value, files.hash)
        _check_patterns(full, "--only", only)
        _check_patterns(full, "--force", force)
        selected = frozenset(a.name for a in full.assets if not only or _picked(a, only))
        if lock is None:
            lock = lockfile.read(project.root)
        paid = frozenset(a.name for a in full.assets if a.name in selected and _paid(lock, a.name)) \
            if kind is ProviderKind.LOCAL else frozenset()
        if paid:
            selected -= paid
        plan = restrict(full, selected) if only or paid else full
        forcing = {a.name for a in full.assets if force and _picked(a, force)}
        forced = {a.id for a in plan.actions if a.is_call and forcing.intersection(a.assets)}
        resolver = Resolver(plan, store, lock, files.hash, project.root, shared, stream=remote == "stream")
        resolution = resolver.resolve(forced)
        if not files.confirm(_suspects(plan, resolution, resolver)):
            known = selected if not (only or paid) else frozenset(a.name for a in full.assets)
            return Prepared(project, kind, plan, selected, store, lock, files, resolver, resolution,
                            shared, paid, known)


def _suspects(plan: Plan, resolution: Resolution, resolver: Resolver) -> list[str]:
    """The files whose hash decides that something must run: the input files of every call not
    cached, the output of every rendition that replaces a file, and the outputs that could have
    served an image the cache lost."""
    found: list[str] = []
    for action in plan.actions:
        state = resolution.states[action.id]
        if state.status is Status.CACHED:
            continue
        if action.call is not None:
            found += [s.file for s in action.call.sources if s.file is not None]
        elif action.render is not None:
            found.append(action.render.output.path)
        for reason in state.reasons:
            if reason.why is Why.LOCKED_MISSING:
                found += [r.path for r in resolver.recovery.candidates.get(str(reason.old), ())]
    return found


def _paid(lock: Lock, name: str) -> bool:
    """Whether the lock holds a paid provider's image for the variant `name`."""
    entry = lock.assets.get(name)
    return entry is not None and any(s.provider != ProviderKind.LOCAL.value for s in entry.steps)


def open_remote(project: Project, store: Store, fetch: bool) -> RemoteCache | None:
    """The project's remote cache (cache.remote or $ASSETGEN_REMOTE_CACHE), or None."""
    from assetgen.remote_cache.config import remote_spec

    spec = remote_spec(project.config.cache)
    if spec is None:
        return None
    from assetgen.remote_cache.remote import RemoteCache
    from assetgen.remote_cache.store import open_store

    remote = RemoteCache(spec, open_store(spec), store, fetch=fetch)
    remote.probe()
    return remote
