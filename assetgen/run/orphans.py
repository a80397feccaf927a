"""Outputs that no recipe writes any more (an asset removed, an output path changed).

The previous lock file names every file assetgen wrote. A file it named that the next lock file
no longer names is removed when its bytes are still the ones the lock recorded; a file changed
since is someone's work, and is kept (and reported). The lock may come from a pull request: a path
in it that leaves the project, also through a symlink, is never read or removed.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

import msgspec
from msgspec import Struct

from assetgen import statefiles
from assetgen.lockfile import Lock
from assetgen.plan.files import FileHashes
from assetgen.run.prepare import Prepared


class Swept(Struct, frozen=True):
    removed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()      # orphans changed by hand since assetgen wrote them


def sweep(root: Path, old: Lock, new: Lock, still_written: set[str], files: FileHashes,
          dry_run: bool = False) -> Swept:
    """Remove the orphans still as assetgen wrote them (`dry_run`: say which, remove nothing)."""
    expected = {o.path: o.sha256 for a in old.assets.values() for o in a.outputs}
    named = {o.path for a in new.assets.values() for o in a.outputs} | still_written
    folded = {p.casefold(): p for p in named}
    removed: list[str] = []
    kept: list[str] = []
    for path in sorted(set(expected) - named):
        if not statefiles.inside(root, path):
            continue
        if _same_file(root, path, folded.get(path.casefold())):
            continue    # renamed only in case on a case-insensitive file system: it is the new output
        sha = files.hash(path)
        if sha is None:
            continue
        if sha != expected[path]:
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
    return Swept(tuple(removed), tuple(kept))


def pending(root: Path, old: Lock, used: set[str], rewritten: Collection[str], known: Collection[str] | None,
            files: FileHashes) -> Swept:
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
    return sweep(root, old, Lock(assets), used, files, dry_run=True)


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
                   prep.known if whole else None, prep.files)


def _same_file(root: Path, path: str, other: str | None) -> bool:
    try:
        return other is not None and os.path.samefile(root / path, root / other)
    except OSError:
        return False
