"""Atomic file writes: a temp file in the same folder, fsync, then rename over the target.

Readers (and a concurrent build on the same cache) see either the old file or the new one,
never a torn one; a crash leaves at most a stray temp file, which nothing reads. A temp file's
name carries the writer's process id and a tag of its machine's name. Stray temp files are
removed beside the outputs by the next build and in the cache by `gc` once their writer is gone:
a writer of this machine whose process no longer runs; any writer once the file is an hour old
(another machine's process ids say nothing here: a folder may be shared). A build marks that it
writes outputs (`Writes`) until it is done, so that a build after a small change looks for stray
temp files beside its outputs only when a writer that is gone may have left some.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from msgspec import Struct

TEMP_PREFIX = ".tmp-"
STALE_SECONDS = 3600.0
HOST_TAG = hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_temp(path: Path) -> tuple[Path, int]:
    """A new temp file beside `path` (its folder made when the file cannot be created without it)."""
    tmp = path.parent / f"{TEMP_PREFIX}{path.name}.{os.getpid()}-{HOST_TAG}.{os.urandom(4).hex()}"
    try:
        return tmp, os.open(tmp, _FLAGS, 0o666)
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tmp, os.open(tmp, _FLAGS, 0o666)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """`durable=False` skips the fsync (still all or nothing), for a copy kept elsewhere too."""
    write_atomic_from(path, (data,), durable)


def write_atomic_from(path: Path, chunks: Iterable[bytes], durable: bool = True) -> None:
    """`write_atomic` of the bytes `chunks` yield, without holding them all at once."""
    tmp, fd = _open_temp(path)
    try:
        try:
            for data in chunks:
                _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


Chunk = bytes | memoryview


class Known(Struct, frozen=True):
    """What `os.stat` said of a file assetgen read or wrote: while the file's stat says the same
    (size, mtime, ctime, inode, device: a write, a rename over it or a `touch` changes one of them),
    it holds the same bytes."""
    stat: tuple[int, int, int, int, int]

    @classmethod
    def of(cls, st: os.stat_result) -> Known:
        return cls(_stat_key(st))

    def holds(self, path: Path) -> bool:
        """Whether the file at `path` is still the one this was said of."""
        try:
            return _stat_key(os.stat(path, follow_symlinks=False)) == self.stat
        except OSError:
            return False


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


def write_atomic_chunks(path: Path, chunks: Iterable[Chunk],
                        differs: bool = False) -> tuple[Known | None, bool]:
    """`write_atomic` of the bytes `chunks` yield, without holding them all at once; the file is
    replaced only when its bytes differ (compared a part at a time when the sizes agree; `differs`:
    the caller knows they do). (What the file that holds these bytes at `path` is, taken through
    its descriptor after the rename, so that a file another writer put there since is not taken for
    it; None when there is no telling. Whether the file was replaced.)"""
    pending = Pending.write(path, chunks, differs)
    try:
        pending.sync()
    except BaseException:
        pending.abort()
        raise
    return pending.finish()


class Pending:
    """`write_atomic_chunks` in three steps: the bytes written to a temp file beside `path`
    (`write`); synced to disk (`sync`, which another thread may do while this one goes on); put in
    place (`finish`), or left (`abort`)."""

    __slots__ = ("path", "tmp", "fd", "held")

    def __init__(self, path: Path, tmp: Path, fd: int, held: Known | None) -> None:
        self.path, self.tmp, self.fd = path, tmp, fd
        self.held = held        # the file at `path`, when it holds these bytes already

    @classmethod
    def write(cls, path: Path, chunks: Iterable[Chunk], differs: bool = False) -> Pending:
        size = 0
        tmp, fd = _open_temp(path)
        try:
            for data in chunks:
                size += len(data)
                _write_all(fd, data)
            held = None if differs else _holding(path, tmp, size)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return cls(path, tmp, fd, held)

    def sync(self) -> None:
        if self.held is None:
            os.fsync(self.fd)

    def finish(self) -> tuple[Known | None, bool]:
        """(What the file in place is, whether it was replaced), as `write_atomic_chunks` says."""
        try:
            if self.held is None:
                os.replace(self.tmp, self.path)
                return Known.of(os.fstat(self.fd)), True
            self.tmp.unlink()
            return self.held, False
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        finally:
            os.close(self.fd)

    def abort(self) -> None:
        os.close(self.fd)
        self.tmp.unlink(missing_ok=True)


def _holding(path: Path, tmp: Path, size: int) -> Known | None:
    """What the file at `path` is, when it holds the `size` bytes of `tmp`; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb", closefd=False) as old, open(tmp, "rb") as new:
            before = os.fstat(fd)
            if before.st_size != size:
                return None
            while True:
                part = old.read(1 << 20)
                if part != new.read(1 << 20):
                    return None
                if not part:
                    break
            after = os.fstat(fd)
        return Known.of(after) if _stat_key(after) == _stat_key(before) else None
    except OSError:
        return None
    finally:
        os.close(fd)


def byte_chunks(pieces: Iterable[Chunk], size: int = 1 << 16) -> Iterator[Chunk]:
    """The pieces, small ones joined into parts of about `size` bytes (fewer writes); a piece of
    `size` bytes or more is passed on as it is, not copied."""
    batch: list[Chunk] = []
    held = 0
    for piece in pieces:
        if len(piece) >= size:
            if batch:
                yield b"".join(batch)
                batch, held = [], 0
            yield piece
            continue
        batch.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(batch)
            batch, held = [], 0
    if batch:
        yield b"".join(batch)


def text_chunks(pieces: Iterable[str], size: int = 1 << 16) -> Iterator[bytes]:
    """UTF-8 bytes of the pieces, about `size` characters at a time (a state file written a part at
    a time: never whole in memory)."""
    batch: list[str] = []
    held = 0
    for piece in pieces:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(batch).encode("utf-8")
            batch, held = [], 0
    if batch:
        yield "".join(batch).encode("utf-8")


def temp_target(name: str) -> str | None:
    """The file name a temp file named `name` was to become (None for other files)."""
    if not name.startswith(TEMP_PREFIX):
        return None
    parts = name[len(TEMP_PREFIX):].rsplit(".", 2)
    return parts[0] if len(parts) == 3 else None


def _writer_gone(name: str) -> bool:
    """True when the process that named this temp file ran on this machine and no longer runs (a
    name without a machine tag, as assetgen wrote them before, is taken as this machine's)."""
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return False
    parts = name.rsplit(".", 2)
    if len(parts) != 3:
        return False
    pid_text, _, host = parts[1].partition("-")
    if not (pid_text.isascii() and pid_text.isdigit()) or (host and host != HOST_TAG):
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError, OverflowError):
        return False
    return False


def is_stale(path: Path, now: float | None = None) -> bool:
    if _writer_gone(path.name):
        return True
    try:
        return path.stat().st_mtime < (now if now is not None else time.time()) - STALE_SECONDS
    except OSError:
        return False


class Writes:
    """A build's mark, while it writes outputs, that it may leave temp files beside them: a file
    `writers/build.PID-HOST.RANDOM` in the state folder, removed once the build is done. A build that
    finds no stale mark of another writer (one that is gone, or an hour old) knows that no writer
    left temp files since the last sweep, so it need not list the folders of its outputs to look.
    (A plain class: a dataclass costs its module ~0.6 ms to import.)"""

    __slots__ = ("folder", "mark", "tracked")

    def __init__(self, folder: Path, mark: Path | None, tracked: bool) -> None:
        self.folder = folder
        self.mark = mark            # None: it could not be made (every sweep then looks)
        self.tracked = tracked      # the folder of marks was there before: the writers before this one marked

    @classmethod
    def begin(cls, state: Path) -> Writes:
        folder = state / "writers"
        mark = folder / f"build.{os.getpid()}-{HOST_TAG}.{os.urandom(4).hex()}"
        try:
            if state.is_symlink() or folder.is_symlink():
                return cls(folder, None, False)
            tracked = folder.is_dir()
            folder.mkdir(parents=True, exist_ok=True)
            os.close(os.open(mark, _FLAGS, 0o666))
        except OSError:
            return cls(folder, None, False)
        return cls(folder, mark, tracked)

    def gone(self, now: float | None = None) -> list[Path] | None:
        """The marks of other writers that are gone (or an hour old): they may have left temp files.
        None when there is no telling (no record of the writers before this one)."""
        mark = self.mark
        if mark is None or not self.tracked:
            return None
        try:
            names = os.listdir(self.folder)
        except OSError:
            return None
        now = time.time() if now is None else now
        return [path for path in (self.folder / n for n in names if n != mark.name) if is_stale(path, now)]

    @staticmethod
    def forget(marks: Iterable[Path]) -> None:
        """Remove marks of writers whose temp files were swept."""
        for path in marks:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass

    def end(self) -> None:
        """The build is done and left no temp file."""
        if self.mark is not None:
            self.forget([self.mark])


def drop_stale_temps(root: Path, paths: Iterable[str]) -> list[str]:
    """Remove stale temp files of these output paths (relative to root); the ones removed."""
    by_folder: dict[Path, set[str]] = {}
    for p in paths:
        path = root / p
        by_folder.setdefault(path.parent, set()).add(path.name)
    now = time.time()
    removed: list[str] = []
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if temp_target(entry.name) in names and is_stale(Path(entry.path), now):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(entry.path)
    return removed
