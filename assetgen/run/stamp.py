"""The no-op fast path: a build stamp under `.assetgen/` that proves nothing changed.

After a complete, successful build the stamp records the stat (size, mtime_ns, inode, ctime_ns)
of every file the build read or wrote: recipe files, the project file, input images and masks,
the lock file and every output, plus the mtime of the folders the recipe globs search (a new
recipe file changes its folder's mtime) and the command's signature (paths, provider, cache
folder, remote cache and its mode from the environment, the assetgen and Pillow versions). When
every stat still matches, the build is a no-op, decided without YAML, templates, Pillow or hashing.
Anything else falls through to the full build. This module imports nothing heavy on purpose.

The stamp is a base (`build-stamp.json`, written whole, with a random id) and the changes since it
(`build-stamp-changes.json`, with a CRC-32, naming the base's id): a build after a small change
writes only the stats that differ from the base's (and the paths gone since), with the rest of the
stamp; past `REWRITE_AFTER` of them the base is written whole again. A reader merges the two; a
changes file that is damaged, lost or of another base is ignored: the base alone is the stamp of an
earlier build, whose stats no longer match what changed since (the full path decides).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from assetgen import statefiles

STAMP_FILE = "build-stamp.json"
CHANGES_FILE = "build-stamp-changes.json"
STAMP_VERSION = 3
REWRITE_AFTER = 512         # paths changed since the base: beyond this (or a quarter of them) it is rewritten
INDEX_FILE = "build-index.json"                 # the build index (`run.index`): its base
INDEX_CHANGES_FILE = "build-index-changes.json"     # and its changes
PROJECT_FILE = "assetgen.yaml"
# folders whose recipe files a build does not watch for (git's and assetgen's own); every other
# folder a recipe glob searches is watched, hidden ones too (`recipes/.drafts/`: the glob finds them)
UNSEARCHED = frozenset({".git", ".assetgen"})
REMOTE_ENV = ("ASSETGEN_REMOTE_CACHE", "ASSETGEN_REMOTE_CACHE_MODE")


def find_root(paths: Iterable[str], cwd: Path) -> Path:
    """The project root as `assetgen.project.root_for` finds it, without importing the loader."""
    first = next(iter(paths), None)
    start = (cwd / first) if first is not None else cwd
    start = start.resolve()
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return start if start.is_dir() else cwd.resolve()


def signature(paths: Iterable[str], cwd: Path, provider: str | None) -> dict[str, Any]:
    from assetgen import __version__

    return {"paths": sorted(str((cwd / p).resolve()) for p in paths), "provider": provider,
            "cache": os.environ.get("ASSETGEN_CACHE_DIR"), "assetgen": __version__,
            "pillow": pillow_version(),
            # the remote cache set in the environment (the project file's is stamped with the file):
            # turning writing on must upload what read mode made
            "remote": [os.environ.get(name) for name in REMOTE_ENV]}


def pillow_version() -> str | None:
    """The installed Pillow's version file, read without importing Pillow: render keys hold the
    Pillow version, so another Pillow must take the full path (and encode the outputs again)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("PIL")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        try:
            return (Path(folder) / "_version.py").read_text(encoding="utf-8")
        except OSError:
            continue
    return None


def _stat(path: str | Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]  # ctime: a rewrite that kept the mtime


def _dir_mtime(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def glob_dirs(root: Path, patterns: Iterable[str]) -> list[str]:
    """Every folder a recipe glob may search: the fixed prefix of each pattern and all below it."""
    found: set[str] = {"."}
    for pattern in patterns:
        parts = Path(pattern).parts
        fixed = []
        for part in parts[:-1]:
            if any(c in part for c in "*?["):
                break
            fixed.append(part)
        base = root.joinpath(*fixed)
        if not base.is_dir():
            found.add(Path(*fixed).as_posix() if fixed else ".")
            continue
        for folder, dirs, _ in os.walk(base):
            dirs[:] = [d for d in dirs if d not in UNSEARCHED]
            found.add(Path(folder).relative_to(root).as_posix())
    return sorted(found)


def stats(root: Path, files: Iterable[str]) -> dict[str, list[int] | None]:
    base = str(root)
    return {f: _stat(os.path.join(base, f)) for f in files}


@dataclass(frozen=True)
class Folder:
    """What a searched folder holds now: its recipe files (by the recipe globs), those of them
    that are symbolic links, and its subfolders that are searched too."""

    recipes: frozenset[str]
    links: frozenset[str]
    folders: frozenset[str]


def recipe_added(root: Path, globs: Iterable[str], searched: Mapping[str, int | None], started: int | None,
                 known: Callable[[], Collection[str]]) -> bool:
    """Whether a searched folder changed since the command started (the build's own writes, the lock
    file's rename, change the project folder) holds a recipe file not in `known()` (asked only
    then): one added while the build ran, after the recipe globs were searched (its folder's mtime,
    stamped, would hide it from the next build)."""
    if started is None:
        return False
    recipes: Collection[str] | None = None
    for folder, mtime in searched.items():
        if mtime is None or mtime < started:
            continue
        now = scan_folder(root, folder, globs)
        if now is None:
            return True
        recipes = known() if recipes is None else recipes
        if not now.recipes.issubset(recipes):
            return True
    return False


def scan_folder(root: Path, folder: str, globs: Iterable[str]) -> Folder | None:
    """`folder` (project-relative) as it is now; None when it cannot be read."""
    from assetgen.lint.outputs import glob_match, glob_parts

    patterns = [glob_parts(g) for g in globs]
    recipes: set[str] = set()
    links: set[str] = set()
    folders: set[str] = set()
    try:
        with os.scandir(root / folder) as entries:
            for entry in entries:
                rel = entry.name if folder == "." else f"{folder}/{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in UNSEARCHED:
                        folders.add(rel)
                elif entry.name != PROJECT_FILE and any(glob_match(p, rel.split("/")) for p in patterns):
                    recipes.add(rel)
                    if entry.is_symlink():
                        links.add(rel)
    except OSError:
        return None
    return Folder(frozenset(recipes), frozenset(links), frozenset(folders))


def dir_stats(root: Path, dirs: Iterable[str]) -> dict[str, int | None]:
    return {d: _dir_mtime(root / d) for d in dirs}


def write(root: Path, sig: dict[str, Any], files: Mapping[str, list[int] | None],
          dirs: dict[str, int | None], total: int, reached_at: float | None = None,
          index_sha: str | None = None, fresh: Collection[str] | None = None) -> None:
    """Record the stats, taken by the caller: inputs before they were read, outputs after writing.
    `reached_at`: the time the build set as the mtime of every cache record it reached.
    `index_sha`: the hash of the build index written beside it (`run.index.write`); None: there is
    none (one left from before is removed). When the stamp this process read last (`compare`) is still
    the one there, only the changes since its base are written; else the base, a part at a time
    (the stats of a large project are not held again as one text). `fresh`: the paths whose stats
    the caller took (the others' are the stamp's, as `compare` read them); None: any may differ."""
    state = root / ".assetgen"
    rest = _head(state, sig, dirs, total, reached_at, index_sha)
    held = _read.pop(root, None)
    known = held() if held is not None else None
    changes = known.since(files, fresh) if known is not None and known.base == _base_id(state) else None
    most = min(REWRITE_AFTER, max(8, len(files) // 4))
    # not synced to disk: a stamp or index lost or left old by a crash is one that does not match
    # (the full path decides), never one that claims what was not written
    if changes is not None and len(changes.changed) + len(changes.gone) <= most:
        from assetgen.atomic import write_atomic

        body = {**rest, "base": changes.base, "files": {rel: files[rel] for rel in changes.changed},
                "gone": sorted(changes.gone)}
        write_atomic(state / CHANGES_FILE, statefiles.with_crc(body), durable=False)
        return
    _write_base(state, rest, files)


def write_joined(root: Path, sig: dict[str, Any], members: Iterable[str], dirs: dict[str, int | None],
                 total: int, reached_at: float, index_sha: str | None) -> None:
    """`write` of a build in parts (`run.parts`): the stamp written whole, its files given as runs
    of JSON members (`"path":stat` joined by commas, as `statefiles.json_members` writes them; no
    path in two runs)."""
    from assetgen.atomic import text_chunks, write_atomic_from

    state = root / ".assetgen"
    rest = _head(state, sig, dirs, total, reached_at, index_sha)
    _read.pop(root, None)
    encode = json.JSONEncoder(separators=(",", ":")).encode
    head = encode({"id": os.urandom(16).hex(), **rest})
    runs = (piece for run in members if run for piece in (",", run))
    next(runs, None)    # no comma before the first
    write_atomic_from(state / STAMP_FILE, text_chunks(chain([head[:-1], ',"files":{'], runs, ["}}"])),
                      durable=False)
    (state / CHANGES_FILE).unlink(missing_ok=True)


def _head(state: Path, sig: dict[str, Any], dirs: dict[str, int | None], total: int,
          reached_at: float | None, index_sha: str | None) -> dict[str, Any]:
    """The stamp's fields besides its id and files (and no index file when there is none)."""
    if index_sha is None:
        (state / INDEX_FILE).unlink(missing_ok=True)
        (state / INDEX_CHANGES_FILE).unlink(missing_ok=True)
    rest = {"version": STAMP_VERSION, "signature": sig, "actions_total": total, "dirs": dirs}
    if reached_at is not None:
        rest["reached_at"] = reached_at
    if index_sha is not None:
        rest["index"] = index_sha
    return rest


def _write_base(state: Path, rest: dict[str, Any], files: Mapping[str, list[int] | None]) -> str:
    """The stamp written whole, with a new id (a changes file of the old base is removed); the id."""
    from assetgen.atomic import write_atomic_from

    base = os.urandom(16).hex()
    write_atomic_from(state / STAMP_FILE, _stamp_text(base, rest, files), durable=False)
    (state / CHANGES_FILE).unlink(missing_ok=True)
    return base


def _stamp_text(base: str, rest: dict[str, Any], files: Mapping[str, list[int] | None],
                size: int = 1 << 16) -> Iterator[bytes]:
    """The stamp's JSON, compact, as `json.dumps` would write the whole body with its id first
    (files in any order: only compared), in UTF-8 chunks of about `size` characters."""
    from assetgen.atomic import text_chunks

    encode = json.JSONEncoder(separators=(",", ":")).encode
    head = encode({"id": base, **rest})
    return text_chunks(chain([head[:-1], ',"files":{'], statefiles.json_members(files.items()), ["}}"]), size)


_ID_AT = len('{"id":"')
_ID_LEN = 32


def _base_id(state: Path) -> str | None:
    """The id of the stamp's base, read from its first bytes (None: none there)."""
    try:
        fd = os.open(state / STAMP_FILE, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        head = os.read(fd, _ID_AT + _ID_LEN + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    found = head[_ID_AT:_ID_AT + _ID_LEN].decode("ascii", "replace")
    return found if head[:_ID_AT] == b'{"id":"' and head[-1:] == b'"' and _is_id(found) else None


def _is_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == _ID_LEN and all(c in "0123456789abcdef" for c in value)


class _Read:
    """The stamp as this process last read or wrote it: its base's id, its stats (merged), the
    paths whose stats the changes file holds, those of them the base lacks, and the base's paths
    that are gone. (A plain class: the no-op imports this module.)"""

    __slots__ = ("base", "files", "changed", "lacks", "gone", "__weakref__")

    def __init__(self, base: str, files: Mapping[str, Any], changed: frozenset[str] = frozenset(),
                 lacks: frozenset[str] = frozenset(), gone: frozenset[str] = frozenset()) -> None:
        self.base = base
        self.files = files
        self.changed = changed
        self.lacks = lacks
        self.gone = gone

    def since(self, files: Mapping[str, Any], fresh: Collection[str] | None = None) -> _Read:
        """The changes from the same base to `files`: the paths whose stats differ from this
        stamp's (of `fresh` only, when given), with those the changes file holds already; the
        base's paths not in `files`."""
        old = self.files
        missing = object()
        taken = files.items() if fresh is None else ((rel, files[rel]) for rel in fresh)
        differ = {rel for rel, now in taken if (was := old.get(rel, missing)) is not now and was != now}
        differ.update(rel for rel in self.changed if rel in files)
        gone = (self.gone | (old.keys() - files.keys() - self.lacks)) - files.keys()
        lacks = {rel for rel in differ if rel in self.lacks or (rel not in old and rel not in self.gone)}
        return _Read(self.base, files, frozenset(differ), frozenset(lacks), frozenset(gone))


# by project root: the stamp `compare` read last, while its Compared is held (a no-op build lets it go
# before the end), so that the build after a small change writes only what changed (checked against
# the base's id on disk before it is used, and used once)
_read: dict[Path, weakref.ref[_Read]] = {}


def clear(root: Path) -> None:
    _read.pop(root, None)
    for name in (STAMP_FILE, CHANGES_FILE, INDEX_FILE, INDEX_CHANGES_FILE):
        (root / ".assetgen" / name).unlink(missing_ok=True)


@dataclass(frozen=True)
class Compared:
    """What changed since the stamp: the files whose stat differs, and whether a searched folder
    changed (a recipe file added or removed, or one replaced by a rename)."""

    root: Path
    total: int
    changed: tuple[str, ...]
    dirs_changed: tuple[str, ...]
    files: dict[str, Any]           # the stamp's stats, by path
    dirs: dict[str, Any]
    index: str | None               # the hash of the build index written with the stamp
    read: Any = field(default=None, compare=False, repr=False)     # the stamp as read (`_read`)


def compare(root: Path, sig: dict[str, Any]) -> Compared | None:
    """The changes since the stamp; None when there is no usable stamp (damaged, of the wrong
    shape, or of another command signature: the full build then decides, costing time only)."""
    body, held = _load(root)
    if not isinstance(body, dict) or body.get("version") != STAMP_VERSION or body.get("signature") != sig:
        return None
    files, dirs, total = body.get("files"), body.get("dirs"), body.get("actions_total")
    index = body.get("index")
    if not (isinstance(files, dict) and isinstance(dirs, dict) and isinstance(total, int)
            and statefiles.is_count(total) and (index is None or statefiles.is_sha(index))):
        return None
    if not (statefiles.all_relative(files) and statefiles.all_relative([d for d in dirs if d != "."])):
        return None
    changed = []
    prefix = os.path.join(str(root), "")
    stat = os.stat
    for rel, was in files.items():      # `_stat`, written out: 20,000 files at 10,000 assets
        try:
            st = stat(prefix + rel)
        except OSError:
            if was is not None:
                changed.append(rel)
            continue
        if was != [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]:
            changed.append(rel)
    dirs_changed = [rel for rel, mtime in dirs.items() if _dir_mtime(prefix + rel) != mtime]
    read = held if held is not None else _Read(body["id"], files)
    _read[root] = weakref.ref(read)
    return Compared(root, total, tuple(changed), tuple(dirs_changed), files, dirs, index, read)


def index_hash(root: Path) -> str | None:
    """The hash of the build index the stamp holds; None without a readable stamp, or an index."""
    body, _ = _load(root)
    index = body.get("index") if isinstance(body, dict) else None
    return index if statefiles.is_sha(index) else None


def _load(root: Path) -> tuple[Any, _Read | None]:
    """The stamp's body, its base and its changes merged (None when there is no readable base),
    and what the changes file holds (None: there is none). A changes file that is damaged,
    of another base or of the wrong shape is ignored: the base alone is an earlier build's stamp."""
    state = root / ".assetgen"
    if os.path.islink(state):
        return None, None
    try:
        body = statefiles.load_json(statefiles.read_bytes(state / STAMP_FILE))
    except (OSError, ValueError, RecursionError):
        return None, None
    if not (isinstance(body, dict) and _is_id(body.get("id")) and isinstance(body.get("files"), dict)):
        return None, None
    changes = statefiles.read_crc(state / CHANGES_FILE)     # (a symbolic link is not read)
    if not (isinstance(changes, dict) and changes.get("base") == body["id"]
            and changes.get("version") == body.get("version") and isinstance(changes.get("files"), dict)
            and isinstance(changes.get("gone"), list) and statefiles.all_relative(changes["gone"])):
        return body, None
    files: dict[str, Any] = body["files"]
    changed, gone = changes.pop("files"), frozenset(changes.pop("gone"))
    lacks = frozenset(rel for rel in changed if rel not in files)
    files.update(changed)
    for rel in gone:
        files.pop(rel, None)
    for key in ("signature", "actions_total", "dirs", "reached_at", "index"):
        body.pop(key, None)
    body.update({k: v for k, v in changes.items() if k != "base"})
    return body, _Read(body["id"], files, frozenset(changed) - gone, lacks - gone, gone - changed.keys())


def fast_noop(paths: Iterable[str], cwd: Path, provider: str | None, touch: bool = True) -> int | None:
    """The action count when the stamp proves a no-op; None when a full build is needed. `touch`
    sets the stamp's mtime to now: what the stamped build reached is still reached (`reached`)."""
    paths = list(paths)
    root = find_root(paths, cwd)
    found = compare(root, signature(paths, cwd, provider))
    if found is None or found.changed or found.dirs_changed:
        return None
    if touch:
        touch_stamp(root)
    return found.total


def touch_stamp(root: Path) -> None:
    """Set the stamp's mtime to now: what the stamped build reached is still reached (`reached`)."""
    try:
        os.utime(root / ".assetgen" / STAMP_FILE)
    except OSError:
        pass


def reached(root: Path) -> tuple[float, float] | None:
    """(when the stamped build touched the cache records it reached, when a build last proved them
    still reached: the stamp's mtime, or its changes file's when that is later), or None without a
    readable stamp. The lock file has not changed between the two: every no-op build checked it."""
    state = root / ".assetgen"
    body, held = _load(root)
    if body is None:
        return None
    try:
        until = os.stat(state / STAMP_FILE).st_mtime
        if held is not None:
            until = max(until, os.stat(state / CHANGES_FILE).st_mtime)
    except OSError:
        return None
    at = body.get("reached_at")
    if not statefiles.is_number(at):
        return None
    assert isinstance(at, int | float)
    return float(at), until
