"""Project-relative paths: normalise to POSIX and refuse any that escape the project root.

A path escapes through `..`, by being absolute, or through a symlink that points outside. The
symlink check resolves the deepest existing parent folder (cached), so checking 10,000 output
paths costs a few stats, not 10,000 resolves.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path

from assetgen.recipe import limits

_DRIVE = re.compile(r"^[A-Za-z]:")


class PathEscape(Exception):
    """`str(exc)` reads after "path 'x' in output": e.g. "escapes the project root"."""


def project_path(root: Path, text: str) -> str:
    """`text` as a normalised project-relative POSIX path; PathEscape if it leaves `root`."""
    raw = text.strip()
    if not raw:
        raise PathEscape("is empty")
    if "\x00" in raw:
        raise PathEscape("contains a NUL character")
    if raw.startswith(("/", "\\")) or _DRIVE.match(raw):
        raise PathEscape("is absolute; paths are relative to the project root")
    norm = posixpath.normpath(raw.replace("\\", "/"))
    too_long = _too_long(norm)
    if too_long:
        raise PathEscape(too_long)
    if norm == ".." or norm.startswith("../"):
        raise PathEscape("escapes the project root")
    if norm == ".":
        raise PathEscape("names the project root itself")
    if not _inside(str(root), posixpath.dirname(norm)) or _links_out(str(root), norm):
        raise PathEscape("escapes the project root through a symlink")
    return norm


def escaped(root: Path, paths: Iterable[str]) -> set[str]:
    """Those of `paths` (each one `project_path` returned once) that no longer stay inside `root`:
    a folder on it, or the file itself, became a symlink out of the project since. The part of
    `project_path` that depends on the file system, with one listing per folder (which tells the
    symlinks in it) instead of a stat per path."""
    base = str(root)
    links: dict[str, set[str] | None] = {}
    out = set()
    for norm in paths:
        folder, name = posixpath.split(norm)
        if not _inside(base, folder):
            out.add(norm)
            continue
        if folder not in links:
            links[folder] = _symlinks(os.path.join(base, folder))
        found = links[folder]
        if (found is None or name in found) and _links_out(base, norm):
            out.add(norm)
    return out


def _symlinks(folder: str) -> set[str] | None:
    """The names of the symlinks in `folder` (none when it cannot be listed because it is not
    there); None when it cannot be listed otherwise (then each path is asked)."""
    try:
        with os.scandir(folder) as entries:
            return {e.name for e in entries if e.is_symlink()}
    except (FileNotFoundError, NotADirectoryError):
        return set()
    except OSError:
        return None


def _too_long(norm: str) -> str | None:
    """A name or path no file system takes (checked before the path reaches one)."""
    if len(norm.encode("utf-8", "surrogatepass")) > limits.MAX_PATH_BYTES:
        return f"is longer than {limits.count(limits.MAX_PATH_BYTES)} bytes"
    longest = max(norm.split("/"), key=lambda part: len(part.encode("utf-8", "surrogatepass")))
    size = len(longest.encode("utf-8", "surrogatepass"))
    if size > limits.MAX_NAME_BYTES:
        return f"has a name of {size} bytes ('{longest[:20]}...'); at most {limits.MAX_NAME_BYTES}"
    return None


def _links_out(root: str, norm: str) -> bool:
    full = os.path.join(root, norm)
    if not os.path.islink(full):
        return False
    target = os.path.realpath(full)
    real_root = _real(root)
    return not (target == real_root or target.startswith(real_root + os.sep))


@functools.lru_cache(maxsize=8192)
def _inside(root: str, folder: str) -> bool:
    """Whether the deepest existing part of `folder` resolves inside `root`."""
    real_root = _real(root)
    probe = folder
    while probe and not os.path.lexists(os.path.join(root, probe)):
        probe = posixpath.dirname(probe)
    target = os.path.realpath(os.path.join(root, probe)) if probe else real_root
    return target == real_root or target.startswith(real_root + os.sep)


@functools.lru_cache(maxsize=64)
def _real(root: str) -> str:
    return os.path.realpath(root)


def clear_cache() -> None:
    """Forget resolved folders (the file system changed)."""
    _inside.cache_clear()
    _real.cache_clear()
