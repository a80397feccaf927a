"""`assetgen gc [--dry-run] [--older-than DAYS]`: drop cache entries that no recipe or lock entry
reaches; paid results only some time after they were last reached."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from assetgen import gc
from assetgen.cache import Store, cache_dir
from assetgen.commands import counted
from assetgen.errors import ExitCode, UserError
from assetgen.recipe.model import Project, ProviderKind
from assetgen.run import stamp
from assetgen.run.prepare import load, prepare_project


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def main(args: argparse.Namespace) -> int:
    project = load(args.paths, Path.cwd())
    store = Store(cache_dir(project.root))
    removing = store.in_use(exclusive=True)
    if not args.dry_run and not removing.try_acquire():
        print("gc: a build is using this cache, so nothing was removed (it may have stored images "
              "that no record names yet); run gc again when no build is running", file=sys.stderr)
        return ExitCode.FAILED
    try:
        return _collect(args, project, store)
    finally:
        removing.release()


def _collect(args: argparse.Namespace, project: Project, store: Store) -> int:
    keys, objects = _reach(project)
    stamps = _stamps(project.root)
    shared = gc.sharing(store.root, project.root)
    for other in shared.others:
        try:
            more_keys, more_objects = _reach(load([str(other)], other))
        except UserError as exc:
            print(f"gc: {other} shares this cache and cannot be loaded, so nothing was removed:\n{exc}",
                  file=sys.stderr)
            return ExitCode.FAILED
        keys |= more_keys
        objects |= more_objects
        stamps += _stamps(other)
    if not args.dry_run:
        store.touch(keys)       # reached now: a later gc's grace runs from here
    garbage = gc.find(store, keys, objects, args.older_than, stamps)
    verb = "would remove" if args.dry_run else "removed"
    if not args.dry_run:
        gc.remove(store, garbage)
        for path in shared.gone:
            path.unlink(missing_ok=True)
    images, records = counted(len(garbage.objects), "image"), counted(len(garbage.records), "action record")
    what = f"{images} and {records}"
    if garbage.refusals:
        what = f"{images}, {records} and {counted(len(garbage.refusals), 'remembered refusal')}"
    if garbage.temps:
        temps = counted(len(garbage.temps), "temp file")
        what = f"{what.replace(' and ', ', ')} and {temps} left by interrupted builds"
    print(f"{verb} {what}, {'would free' if args.dry_run else 'freed'} {human(garbage.bytes)}")
    if args.dry_run:
        sys.stdout.writelines(f"  {line}\n" for line in _listing(store, garbage))
    if garbage.kept:
        print(_kept_line(garbage, args.older_than))
    if shared.others:
        names = ", ".join(str(p) for p in shared.others)
        print(f"kept what {len(shared.others)} other project{'s' if len(shared.others) > 1 else ''} "
              f"sharing this cache reach: {names}")
    return ExitCode.OK


def _listing(store: Store, garbage: gc.Garbage) -> list[str]:
    """One line per file `garbage` holds: its path in the cache, its size, what it is."""
    lines = []
    for key in garbage.records:
        path = store.actions / f"{key}.json"
        rec = store.record(key)
        what = f"{rec.op} {rec.provider} {rec.model}".rstrip() if rec is not None else "damaged record"
        lines.append(f"{path.relative_to(store.root).as_posix()}  {human(gc.size_of(path))}  ({what})")
    for sha in garbage.objects:
        path = store.object_path(sha)
        lines.append(f"{path.relative_to(store.root).as_posix()}  {human(gc.size_of(path))}  (image)")
    for key in garbage.refusals:
        path = store.refused / f"{key}.json"
        lines.append(f"{path.relative_to(store.root).as_posix()}  {human(gc.size_of(path))}  (refusal)")
    for path in garbage.temps:
        lines.append(f"{path.relative_to(store.root).as_posix()}  {human(gc.size_of(path))}  (temp file)")
    return lines


def _kept_line(garbage: gc.Garbage, older_than: float) -> str:
    count = len(garbage.kept)
    images = counted(sum(len(k.results) for k in garbage.kept), "image")
    days = f"{older_than:g} day{'s' if older_than != 1 else ''}"
    oldest = time.strftime("%Y-%m-%d", time.localtime(min(k.last_reached for k in garbage.kept)))
    return (f"kept {counted(count, 'paid result')} ({images}, {human(garbage.kept_bytes)}) that nothing "
            f"reaches any more, for {days} after each was last reached (the oldest on {oldest}); "
            "gc --older-than 0 removes them now")


def _stamps(root: Path) -> tuple[gc.Reached, ...]:
    found = stamp.reached(root)
    return (gc.Reached(*found),) if found is not None else ()


def _reach(project: Project) -> tuple[set[str], set[str]]:
    """What the project reaches under every provider: `build --provider X` may have filled the
    cache for a provider other than the project's own, and a failed chain's paid steps are in no
    lock entry yet."""
    keys: set[str] = set()
    objects: set[str] = set()
    for kind in ProviderKind:
        prep = prepare_project(project, kind)
        more_keys, more_objects = gc.reachable(prep.store, prep.resolution, prep.lock)
        keys |= more_keys
        objects |= more_objects
    return keys, objects
