"""Content hashes of project files, with a persisted stat cache.

A file is re-read only when its (size, mtime_ns, inode, ctime_ns) differ from what the cache last
saw, so a no-op build hashes nothing. The ctime catches a file rewritten in place with its size and
mtime kept (`touch -r`, an editor or a sync tool restoring the mtime): no tool can set it back. The
stat only decides whether to re-hash; it never enters a key.

The stat cache is a hint, not evidence: a damaged entry could name the wrong hash for a file whose
stat still matches. So a hash taken from it is `confirm`ed from the file's bytes before anything is
paid for or replaced because that file "changed" (`run.prepare`). Entries of the wrong shape are
dropped when it is read; a file that cannot be parsed is ignored and rebuilt.

For a build of a few changed recipe files the stat cache is read only when it pays: the first
files asked for, when small, are hashed from their bytes (as quick as a lookup), so such a build
neither reads nor writes the whole project's entries. Their hashes, and those of files written,
are kept in memory and join the cache when it is read; a build that never reads it leaves it as
it was (those files are hashed again when next asked for).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from assetgen import statefiles
from assetgen.atomic import write_atomic_chunks

STAT_CACHE = "stat-cache.json"
DIRECT_FILES = 32      # files hashed from their bytes before the stat cache is read
SMALL_FILE = 1 << 18   # bytes: a file this small hashes about as quickly as it is looked up


class FileHashes:
    """sha256 of project files by relative POSIX path; None for a missing file."""

    def __init__(self, root: Path, state_dir: Path, direct: int = 0) -> None:
        """`direct`: how many small files to hash from their bytes before reading the stat cache."""
        self.root = root
        self._until = direct
        self._file = state_dir / STAT_CACHE
        self._entries: dict[str, list[int | str]] | None = None    # the stat cache, once read
        self._new: dict[str, list[int | str]] = {}                  # made by this process
        self._direct = 0                    # files hashed from their bytes before the cache was read
        self._read_now: set[str] = set()    # hashed from their bytes (or written) by this process

    def hash(self, rel: str) -> str | None:
        full = self.root / rel
        try:
            st = os.stat(full)
        except OSError:
            return None
        stamp = _stamp(st)
        entry = self._new.get(rel) if self._entries is None else self._entries.get(rel)
        if entry is not None and entry[:-1] == stamp:
            return str(entry[-1])
        if self._entries is None:
            if st.st_size <= SMALL_FILE and self._direct < self._until:
                self._direct += 1
                return self._hash_bytes(rel, stamp)
            entry = self._read().get(rel)
            if entry is not None and entry[:-1] == stamp:
                return str(entry[-1])
        return self._hash_bytes(rel, stamp)

    def _read(self) -> dict[str, list[int | str]]:
        if self._entries is None:
            self._entries = _read(self._file)
            self._entries.update(self._new)
        return self._entries

    def _put(self, rel: str, entry: list[int | str]) -> None:
        self._new[rel] = entry
        if self._entries is not None:
            self._entries[rel] = entry
        self._read_now.add(rel)

    def _hash_bytes(self, rel: str, stamp: list[int | str]) -> str | None:
        try:
            sha = hashlib.sha256((self.root / rel).read_bytes()).hexdigest()
        except OSError:
            return None
        self._put(rel, [*stamp, sha])
        return sha

    def confirm(self, rels: Iterable[str]) -> list[str]:
        """Hash again from their bytes the files whose hash came from the stat cache; the ones whose
        hash was wrong (their entries are corrected)."""
        wrong = []
        for rel in rels:
            if rel in self._read_now or self._entries is None or rel not in self._entries:
                continue
            before = self._entries[rel][-1]
            try:
                stamp = _stamp(os.stat(self.root / rel))
            except OSError:
                continue
            if self._hash_bytes(rel, stamp) != before:
                wrong.append(rel)
        return wrong

    def remember(self, rel: str, sha: str) -> None:
        """Record a file this process just wrote with known content."""
        try:
            st = os.stat(self.root / rel)
        except OSError:
            return
        self._put(rel, [*_stamp(st), sha])

    def seen(self, rel: str) -> list[int | str] | None:
        """The stat (size, mtime_ns, inode, ctime_ns) at which the content of `rel` was last known:
        hashed or written by this process, or as the stat cache holds it; None when unknown."""
        entry = self._new.get(rel)
        if entry is None and self._entries is not None:
            entry = self._entries.get(rel)
        return entry[:-1] if entry is not None else None

    def remember_stat(self, rel: str, stat: tuple[int, int, int, int], sha: str) -> None:
        """Record a file written with known content and stat (size, mtime_ns, inode, ctime_ns)."""
        self._put(rel, [*stat, sha])

    def save(self) -> None:
        """Write the cache with this process's entries, when it was read (see above)."""
        if self._entries is not None and self._new:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic_chunks(self._file, _encoded(self._entries))
            self._new = {}


def _encoded(entries: dict[str, list[int | str]], size: int = 1 << 16) -> Iterator[bytes]:
    """`json.dumps(entries, separators=(",", ":"))` in pieces of about `size` characters (a stat
    cache of many files is never whole in memory), encoded a few hundred entries at a time."""
    yield b"{"
    for part in statefiles.json_members(entries.items(), per=max(1, size // 128)):    # ~128 chars each
        yield part.encode("utf-8")
    yield b"}"


def _stamp(st: os.stat_result) -> list[int | str]:
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _read(file: Path) -> dict[str, list[int | str]]:
    """The entries of the right shape: (size, mtime_ns, inode, ctime_ns, sha256) by relative path."""
    try:
        data = statefiles.read_json(file)
    except (OSError, statefiles.Damaged):
        return {}
    if not isinstance(data, dict):
        return {}
    return {rel: entry for rel, entry in data.items() if _valid(rel, entry)}


def _valid(rel: str, entry: object) -> bool:
    if type(entry) is not list or len(entry) != 5:
        return False
    size, mtime, inode, ctime, sha = entry
    # four counts (`statefiles.is_count`: JSON gives int or bool, and a bool is not a count)
    return (type(size) is int and type(mtime) is int and type(inode) is int and type(ctime) is int
            and 0 <= min(size, mtime, inode, ctime) and max(size, mtime, inode, ctime) <= statefiles.MAX_INT
            and statefiles.is_sha(sha) and statefiles.is_relative(rel))
