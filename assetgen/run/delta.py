"""A build after a change to a few recipe files: load and plan only what the change touches.

When the build stamp (`run.stamp`) shows that nothing but some recipe files changed since the
last complete build (the project file, the lock file, every output and input file and every
searched folder are as they were), the other recipe files' variants are as that build left them:
built, and in the lock. So only the changed files are loaded, with the files that refer to their
variants (transitively: their keys may change) and the files those refer to (the plan needs
their images). The project-wide checks are done by the build index (`run.index`): a new variant
name or output path that another file has, in any case; an output that would overwrite a recipe
file or another file's input; an input that another file writes. Anything else — an error, a
question the index cannot answer, more than a few files to load — goes back to the full path,
which gives the exact messages: this path only ever decides that a build may be made as the full
path would make it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import Struct

from assetgen.errors import Severity
from assetgen.recipe.model import Project, ProviderKind, Recipe
from assetgen.run import index as build_index
from assetgen.run.prepare import Prepared, Rest
from assetgen.run.stamp import Compared, scan_folder

if TYPE_CHECKING:
    from assetgen.lockfile import Lock
    from assetgen.project import ConfigResult
    from assetgen.recipe.model import ProjectConfig
    from assetgen.run.partial import Kept
    from assetgen.run.varcache import FileVariants

MAX_FILES = 200         # recipe files to load: beyond this the full path is as quick
LOCK_FILE = "assetgen.lock"


def prepare(compared: Compared, provider: ProviderKind | None) -> Prepared | None:
    """The build of the changed recipe files, or None when the full path must decide."""
    root = compared.root
    if not compared.changed:
        return None
    index = build_index.read(root, compared.index)
    if index is None or not set(compared.changed) <= index.keys() or len(compared.changed) > MAX_FILES:
        return None
    from assetgen import project as project_file
    from assetgen.cache import linked_state

    cfg = project_file.read_config(root, checked=True)     # unchanged since the stamped build
    if cfg.diagnostics or linked_state(root) is not None or _elsewhere(root, cfg.config):
        return None
    if not _same_recipe_files(compared, index, cfg.config.recipes):
        return None
    loaded = _Loader(root, cfg, index)
    loaded.cached = _cached(compared, index)
    if not loaded.run(set(compared.changed)):
        return None
    project = loaded.project()
    if project is None or not _fits(project, loaded, index):
        return None
    if provider is not None and provider is not project.config.provider and _refused_by(project, provider):
        return None     # the full path says what that provider's rules refuse
    from assetgen import lockfile
    from assetgen.run.prepare import prepare_project

    kept = {rel: k.entry for rel, k in loaded.kept.items() if k.some}
    kept_names = {n for e in kept.values() for n in e.variants}
    wanted = {v.name for v in project.variants()} | {n for rel in loaded.results for n in index[rel].variants
                                                     if n not in kept_names}
    if len(wanted) * 2 > sum(len(e.variants) for e in index.values()):
        lock: Lock | None = lockfile.read(root)     # most of it: read as the full path does
    else:
        lock = lockfile.read_some(root, wanted)
    if lock is None:
        return None
    prep = prepare_project(project, provider, lock=lock, few=True)
    if prep.paid or not _plain(prep, lock):     # paid images a local build leaves: counted project-wide
        return None
    rest = {rel: e for rel, e in index.items() if rel not in loaded.results}
    ids = {a.id[:build_index.ID_CHARS] for a in prep.plan.actions}
    renditions = sum(1 for a in prep.plan.actions if a.render is not None)
    for entry in (*rest.values(), *kept.values()):
        ids.update(entry.actions)
        renditions += len(entry.outputs)
    kept_outputs = {o for e in kept.values() for o in e.outputs}
    drop = set(loaded.results) | {o for rel in loaded.results for o in index[rel].outputs
                                  if o not in kept_outputs} | {LOCK_FILE}
    stamped = {k: v for k, v in compared.files.items() if k not in drop}
    used = frozenset(p for e in (*rest.values(), *kept.values()) for p in (*e.outputs, *e.inputs))
    known = frozenset(n for e in (*rest.values(), *kept.values()) for n in e.variants) | prep.known
    carried = {rel: raw for rel, raw in loaded.cached.raw.items() if rel in rest}
    return msgspec.structs.replace(prep, known=known, rest=Rest(
        rest, stamped, len(ids), renditions, used, loaded.kept, carried, loaded.cached.env))


class _Cached(Struct, frozen=True):
    env: str                        # the environment the variant cache was read for
    raw: dict[str, Any]             # its entries by file (decoded when a file is loaded)


def _cached(compared: Compared, index: dict[str, build_index.FileEntry]) -> _Cached:
    """The variant cache of the last build, when a recipe file has a matrix."""
    if not any(e.matrix for e in index.values()):
        return _Cached("", {})
    from assetgen.run import varcache
    from assetgen.run.partial import environment

    env = environment(compared.root)
    return _Cached(env, varcache.read(compared.root, compared.index, env))


def _same_recipe_files(compared: Compared, index: dict[str, build_index.FileEntry],
                       globs: tuple[str, ...]) -> bool:
    """Whether the searched folders that changed (an editor that saves by renaming changes its
    folder) still hold the recipe files the index has there, and no new folder."""
    changed = set(compared.dirs_changed)
    if not changed:         # (a file saved in place changes no folder: the usual edit)
        return True
    by_dir: dict[str, set[str]] = {}
    for rel in index:
        folder = rel.rpartition("/")[0] or "."
        if folder in changed:
            by_dir.setdefault(folder, set()).add(rel)
    for folder in compared.dirs_changed:
        now = scan_folder(compared.root, folder, globs)
        if now is None or now.links or not now.folders <= compared.dirs.keys():
            return False
        if now.recipes != by_dir.get(folder, set()):
            return False
    return True


def _refused_by(project: Project, provider: ProviderKind) -> bool:
    """Whether the loaded files break a rule of `provider` (`--provider`, not the project file's)."""
    from assetgen.errors import UserError
    from assetgen.run.prepare import check_for

    try:
        check_for(project, provider, project.root)
    except UserError:
        return True
    return False


def _plain(prep: Prepared, lock: Lock) -> bool:
    """Whether the plan needs nothing of the entries left unread: no call to make whose key another
    entry holds (the full path takes its result from there), nothing blocked or restored from an
    output."""
    from assetgen.plan.status import Status

    states = prep.resolution.states
    if prep.resolution.recovered or any(st.status is Status.BLOCKED for st in states.values()):
        return False
    return not lock.others_hold(str(states[a.id].key) for a in prep.plan.actions
                                if a.is_call and states[a.id].status is Status.RUN and states[a.id].key)


def _elsewhere(root: Path, config: ProjectConfig) -> bool:
    """A remote cache or calls waiting in batches: the full path handles those."""
    from assetgen.batch.records import Records
    from assetgen.remote_cache.config import remote_spec

    return remote_spec(config.cache) is not None or bool(Records(root).all())


class _Loader:
    """Loads the changed files, those that refer to them and those they refer to."""

    def __init__(self, root: Path, cfg: ConfigResult, index: dict[str, build_index.FileEntry]) -> None:
        from assetgen.recipe.convert import FileResult, params_from

        self.root = root
        self.cfg = cfg
        self.index = index
        self.params = params_from(dict(cfg.config.defaults), cfg.positions, ("defaults",))
        self.results: dict[str, FileResult] = {}
        self.kept: dict[str, Kept] = {}         # files loaded with their definition (some variants kept)
        self.cached = _Cached("", {})           # the variant cache of the last build
        self.changed: set[str] = set()
        self.owner: dict[str, str] = {}         # variant name or asset key -> its file, by the index
        for rel, entry in index.items():
            for name in entry.variants:
                self.owner.setdefault(name, rel)
            for key in entry.assets:
                self.owner.setdefault(key, rel)

    def load(self, files: set[str]) -> bool:
        from assetgen.recipe.load import load_file

        for rel in sorted(files - set(self.results)):
            if len(self.results) >= MAX_FILES:
                return False
            if rel in self.changed and self.index[rel].matrix:
                from assetgen.run import partial

                loaded = partial.load(self.root, rel, self.params, self._cached_variants(rel))
                result = loaded.result
                if loaded.kept is not None:
                    self.kept[rel] = loaded.kept
            else:
                result = load_file(self.root, rel, self.params)
            if any(d.severity is Severity.ERROR for d in result.diagnostics) or result.skipped:
                return False
            self.results[rel] = result
        return True

    def _cached_variants(self, rel: str) -> FileVariants | None:
        """The file's variants as the last build made them, when none of them can be referred to
        from elsewhere or refer to anything."""
        from assetgen.run import varcache

        entry = self.index[rel]
        raw = self.cached.raw.get(rel)
        if raw is None or entry.refs:
            return None
        names = {*entry.variants, *entry.assets}
        if any(not names.isdisjoint(e.refs) for other, e in self.index.items() if other != rel):
            return None
        return varcache.decode(raw, entry)

    def run(self, changed: set[str]) -> bool:
        self.changed = set(changed)
        todo = set(changed)
        while todo:     # the changed files, then every file that refers to a variant of a loaded one
            if not self.load(todo):
                return False
            names: set[str] = set()
            for rel in todo:
                names.update(self.index[rel].variants)
                names.update(v.name for v in self.results[rel].variants)
                names.update(self.results[rel].assets)
            todo = {rel for rel, e in self.index.items()
                    if rel not in self.results and not names.isdisjoint(e.refs)}
        todo = self._upstream(set(self.results))
        while todo:     # and every file a loaded one refers to, for the images they read
            if not self.load(todo):
                return False
            todo = self._upstream(todo)
        return True

    def _upstream(self, files: set[str]) -> set[str]:
        from assetgen.recipe.refs import refs_of

        found = set()
        for rel in files:
            for variant in self.results[rel].variants:
                for ref in refs_of(variant):
                    owner = self.owner.get(ref.asset or "")
                    if owner is not None and owner not in self.results:
                        found.add(owner)
        return found

    def project(self) -> Project | None:
        """The loaded files as a project, references resolved against the whole project's names."""
        from assetgen.recipe import refs

        rest = [e for rel, e in self.index.items() if rel not in self.results]
        variants = {n for e in rest for n in e.variants}
        variants.update(n for k in self.kept.values() for n in k.entry.variants)
        assets: dict[str, list[str]] = {}
        matrix = {k for e in rest for k in e.matrix}
        for e in rest:
            assets.update(e.assets)
        for result in self.results.values():
            if not variants.isdisjoint(v.name for v in result.variants) or not assets.keys().isdisjoint(
                    result.assets):
                return None     # a name another file has: the full path says where
            variants.update(v.name for v in result.variants)
            assets.update(result.assets)
            matrix.update(result.matrix_assets)
        names = refs.Names(frozenset(variants), assets, frozenset(matrix), frozenset())
        recipes = []
        for rel in sorted(self.results):
            resolved, diags, dropped = refs.resolve(self.results[rel].variants, names)
            if diags or dropped:
                return None
            recipes.append(Recipe(rel, tuple(resolved)))
        return Project(root=self.root, config=self.cfg.config, recipes=tuple(recipes))


def _fits(project: Project, loaded: _Loader, index: dict[str, build_index.FileEntry]) -> bool:
    """The lint checks of the loaded files, and the project-wide ones against the rest by index."""
    from assetgen.lint.outputs import clear_of
    from assetgen.lint.run import CHECKS

    for check in CHECKS:
        if any(d.severity is Severity.ERROR for d in check(project)):
            return False
    rest = [e for rel, e in index.items() if rel not in loaded.results]
    rest += [k.entry for k in loaded.kept.values() if k.some]
    return clear_of(project, {p.casefold() for e in rest for p in e.outputs},
                    {p.casefold() for e in rest for p in e.inputs}, {rel.casefold() for rel in index})
