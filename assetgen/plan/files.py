"""Content hashes of project files, with a persisted stat cache.

A file is re-read only when its (size, mtime_ns, inode, ctime_ns) differ from what the cache last
saw, so a no-op build hashes nothing. The ctime catches a file rewritten in place with its size and
mtime kept (`touch -r`, an editor or a sync tool restoring the mtime): no tool can set it back. The
stat only decides whether to re-hash; it never enters a key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from assetgen.atomic import write_atomic

STAT_CACHE = "stat-cache.json"


class FileHashes:
    """sha256 of project files by relative POSIX path; None for a missing file."""

    def __init__(self, root: Path, state_dir: Path) -> None:
        self.root = root
        self._file = state_dir / STAT_CACHE
        self._entries: dict[str, list[int | str]] = _read(self._file)
        self._dirty = False

    def hash(self, rel: str) -> str | None:
        full = self.root / rel
        try:
            st = os.stat(full)
        except OSError:
            return None
        stamp = _stamp(st)
        entry = self._entries.get(rel)
        if entry is not None and entry[:-1] == stamp:
            return str(entry[-1])
        try:
            sha = hashlib.sha256(full.read_bytes()).hexdigest()
        except OSError:
            return None
        self._entries[rel] = [*stamp, sha]
        self._dirty = True
        return sha

    def remember(self, rel: str, sha: str) -> None:
        """Record a file this process just wrote with known content."""
        try:
            st = os.stat(self.root / rel)
        except OSError:
            return
        self._entries[rel] = [*_stamp(st), sha]
        self._dirty = True

    def save(self) -> None:
        if self._dirty:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self._file, json.dumps(self._entries, separators=(",", ":")).encode("utf-8"))
            self._dirty = False


def _stamp(st: os.stat_result) -> list[int | str]:
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _read(file: Path) -> dict[str, list[int | str]]:
    try:
        data = json.loads(file.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
