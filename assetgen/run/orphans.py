"""Outputs that no recipe writes any more (an asset removed, an output path changed).

The previous lock file names every file assetgen wrote. A file it named that the next lock file
no longer names is removed when its bytes are still the ones the lock recorded; a file changed
since is someone's work, and is kept (and reported). The lock may come from a pull request: a path
in it that leaves the project, also through a symlink, is never read or removed; and a path inside
is removed only when assetgen knows it made that file: it is an output of the last complete build
here (its build index), or this cache rendered those very bytes for that output. Otherwise the
entry could name any file whose bytes are known (a recipe, the project file, `.git/config`, a paid
image in the cache, a committed picture): it is left, and said. (Which lock file the entry came
from proves nothing: a build limited by `--only` writes the entries of other assets as it found
them.)
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

import msgspec
from msgspec import Struct

from assetgen import statefiles
from assetgen.cache import STATE_DIR, Store
from assetgen.lockfile import Lock, LockOutput
from assetgen.plan.files import FileHashes
from assetgen.run.prepare import Prepared


class Swept(Struct, frozen=True):
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()      # orphans changed by hand since assetgen wrote them
    left: tuple[str, ...] = ()      # orphans assetgen cannot tell it made (named by a lock from elsewhere)


NEVER = (STATE_DIR, ".git", "assetgen.yaml", "assetgen.lock")    # no output is (lint), so no orphan


def sweep(root: Path, old: Lock, new: Lock, still_written: set[str], files: FileHashes, store: Store,
          dry_run: bool = False) -> Swept:
    """Remove the orphans still as assetgen wrote them (`dry_run`: say which, remove nothing)."""
    expected = {o.path: o for a in old.assets.values() for o in a.outputs}
    named = {o.path for a in new.assets.values() for o in a.outputs} | still_written
    folded = {p.casefold(): p for p in named}
    made = _Made(root, store)
    removed: list[str] = []
    kept: list[str] = []
    left: list[str] = []
    for path in sorted(set(expected) - named):
        if not statefiles.inside(root, path):
            continue
        if _same_file(root, path, folded.get(path.casefold())):
            continue    # renamed only in case on a case-insensitive file system: it is the new output
        if _never(path) or not made.by_us(expected[path]):
            if (root / path).is_file():
                left.append(path)
            continue
        sha = files.hash(path)
        if sha is None:
            continue
        if sha != expected[path].sha256:
            kept.append(path)
            continue
        if dry_run:
            removed.append(path)
            continue
        try:
            (root / path).unlink()
        except OSError:
            kept.append(path)
            continue
        removed.append(path)
    return Swept(tuple(removed), tuple(kept), tuple(left))


def _never(path: str) -> bool:
    """A path no recipe may write (lint refuses it as an output): assetgen's state, git's, the
    project and lock files."""
    folded = path.casefold()
    return any(folded == p or folded.startswith(p + "/") for p in NEVER)


class _Made:
    """What assetgen knows it made: the outputs of the last complete build (its build index, read
    when first asked), and the renditions this cache holds the record of."""

    def __init__(self, root: Path, store: Store) -> None:
        self.root = root
        self.store = store
        self._outputs: set[str] | None = None

    def by_us(self, output: LockOutput) -> bool:
        if output.path in self.outputs():
            return True
        record = self.store.record(output.key)
        return record is not None and record.op == "render" and output.sha256 in record.results

    def outputs(self) -> set[str]:
        if self._outputs is None:
            from assetgen.run import index, stamp

            found = index.read(self.root, stamp.index_hash(self.root))
            self._outputs = {p for entry in (found or {}).values() for p in entry.outputs}
        return self._outputs


def pending(root: Path, old: Lock, used: set[str], rewritten: Collection[str], known: Collection[str] | None,
            files: FileHashes, store: Store) -> Swept:
    """What a build would remove (and keep) as orphans, before it runs: the lock entries it rewrites
    (`rewritten`) lose the outputs no recipe writes, and with `known` (a full build) the entries of
    assets that no longer exist go."""
    assets = {}
    for name, entry in old.assets.items():
        if known is not None and name not in known:
            continue
        if name in rewritten:
            entry = msgspec.structs.replace(entry, outputs=tuple(o for o in entry.outputs if o.path in used))
        assets[name] = entry
    return sweep(root, old, Lock(assets), used, files, store, dry_run=True)


def in_use(prep: Prepared) -> set[str]:
    """Paths the recipes still write or read: never removed as orphans."""
    used = {a.render.output.path for a in prep.plan.actions if a.render is not None}
    for variant in prep.project.variants():
        used.update(o.path for o in variant.outputs)
        for step in variant.steps:
            used.update(r.path for r in (step.image, step.mask, *step.images) if r is not None and r.path)
    if prep.rest is not None:
        used |= prep.rest.used
    return used


def would_remove(prep: Prepared, whole: bool) -> Swept:
    """What a build of `prep` would remove as orphans (`whole`: a full build, not `--only`)."""
    return pending(prep.project.root, prep.lock, in_use(prep), prep.selected,
                   prep.known if whole else None, prep.files, prep.store)


def _same_file(root: Path, path: str, other: str | None) -> bool:
    try:
        return other is not None and os.path.samefile(root / path, root / other)
    except OSError:
        return False
