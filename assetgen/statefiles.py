"""State files are untrusted input: the checks every reader of one applies.

The lock file may come from a pull request; the cache, the stat cache and the build stamp may be
damaged by a crash, a disk or a hand. Whatever they hold, a hash becomes a path only when it is 64
lowercase hex digits, and a path is used only when it stays inside the project (or the cache root).
A file that fails to parse or has the wrong shape is reported (the lock) or ignored and rebuilt
(the caches, the stamp): it may cost time, never money.
"""

from __future__ import annotations

import errno
import functools
import gc
import json
import math
import os
import re
from collections.abc import Collection, Iterable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

_SHA = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")
MAX_DEPTH = 32          # far deeper than any state file assetgen writes
MAX_INT = 2**63 - 1     # a stat field, a count or a quality never comes near


class Damaged(ValueError):
    """A state file that cannot be read or has the wrong shape; the text says where and why."""


def is_sha(value: object) -> bool:
    """64 lowercase hex digits: a sha256 as assetgen writes it, safe to use as a file name."""
    return isinstance(value, str) and _SHA.fullmatch(value) is not None


def is_relative(value: object) -> bool:
    """A relative POSIX path that names something below its root: no `..`, no absolute or drive
    path, no backslash, no NUL. A lexical check; `inside` also follows symlinks."""
    if not isinstance(value, str) or not value or "\x00" in value or "\\" in value:
        return False
    if value.startswith("/") or _DRIVE.match(value):
        return False
    if ".." not in value:       # then a part of dots only is "."; one of anything else is a name
        return value.strip("/.") != ""
    parts = [p for p in value.split("/") if p and p != "."]     # as PurePosixPath(value).parts
    return bool(parts) and ".." not in parts


def all_relative(values: Collection[object]) -> bool:
    """Whether every value `is_relative`, checked a whole collection at a time (a state file of a
    large project names tens of thousands of paths): a few searches of them all joined, and the
    full check only for the values with `..` or `:` in them."""
    if not values:
        return True
    if not set(map(type, values)) <= {str}:
        return False
    names: Collection[str] = values     # type: ignore[assignment]
    joined = "\x00".join(names)
    if joined.count("\x00") != len(names) - 1 or "\\" in joined:      # a NUL or a backslash in one
        return False
    if joined.startswith("/") or "\x00/" in joined:
        return False
    if ".." in joined or ":" in joined:
        return all(map(is_relative, names))
    return all(map(str.strip, names, repeat("/.")))     # not empty, nor only dots and slashes


def inside(root: Path, rel: object) -> bool:
    """Whether `rel` is a relative path that stays inside `root`, symlinks followed."""
    if not is_relative(rel):
        return False
    assert isinstance(rel, str)
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(os.path.join(real_root, rel))
    except (OSError, ValueError):
        return False
    return real.startswith(real_root.rstrip(os.sep) + os.sep)


def read_json(path: Path, max_bytes: int | None = None) -> Any:
    """The parsed JSON of a state file. FileNotFoundError when it is absent; Damaged when it cannot
    be read or parsed (not UTF-8, bad JSON, nested too deeply, a number too large)."""
    return parse_json(read_state(path, max_bytes))


def with_checksum(body: Any) -> bytes:
    """`body` as compact JSON after a first line holding the sha256 of that JSON."""
    import hashlib

    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload


def read_checksummed(path: Path) -> tuple[str, Any] | None:
    """(checksum, parsed JSON) of a file `with_checksum` wrote; None when it is absent, unreadable
    or not what its first line says."""
    import hashlib

    try:
        head, newline, payload = read_state(path).partition(b"\n")
        checksum = hashlib.sha256(payload).hexdigest()
        if not newline or head != checksum.encode("ascii"):
            return None
        return checksum, load_json(payload)
    except (OSError, ValueError, RecursionError):
        return None


def with_crc(body: Any) -> bytes:
    """`body` as compact JSON after a first line holding the CRC-32 of that JSON (8 hex digits): a
    check against damage for a small file the no-op build reads (zlib imports in a tenth of the
    time hashlib takes)."""
    import zlib

    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b"%08x\n" % zlib.crc32(payload) + payload


def read_crc(path: Path) -> Any:
    """The parsed JSON of a file `with_crc` wrote; None when it is absent, unreadable or not what
    its first line says."""
    try:
        head, newline, payload = read_state(path).partition(b"\n")
    except (OSError, Damaged):      # absent, unreadable or a symbolic link
        return None
    import zlib

    if not newline or head != b"%08x" % zlib.crc32(payload):
        return None
    try:
        return load_json(payload)
    except (ValueError, RecursionError):
        return None


def load_json(data: bytes | str, **options: Any) -> Any:
    """`json.loads`, for a state file read once and kept for the whole command: parsed with the
    cyclic collector paused, then its objects frozen (`gc.freeze`) so that no later collection
    scans them again (a large project's stamp, index and caches are a million containers; scanning
    them took a fifth of a `plan`). `cli.main` thaws them when the command ends."""
    gc.disable()
    try:
        return json.loads(data, **options)
    finally:
        gc.freeze()
        gc.enable()


def json_members(items: Iterable[tuple[str, Any]], per: int = 512, ascii_only: bool = True) -> Iterator[str]:
    """The members of a JSON object (`"key":value` joined by commas, no braces) as compact
    `json.dumps` writes them, `per` members at a time: a state file of many entries is written a
    part at a time, each part encoded by one call (one call per entry costs 4x the time)."""
    dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=ascii_only)
    batch: dict[str, Any] = {}
    first = True
    for key, value in items:
        batch[key] = value
        if len(batch) >= per:
            yield ("" if first else ",") + dumps(batch)[1:-1]
            batch, first = {}, False
    if batch:
        yield ("" if first else ",") + dumps(batch)[1:-1]


def read_state(path: Path, max_bytes: int | None = None) -> bytes:
    """A state file's bytes. FileNotFoundError when it is absent; Damaged when it cannot be read
    (a symbolic link, or larger than `max_bytes`)."""
    return read_state_stat(path, max_bytes)[0]


def read_state_stat(path: Path, max_bytes: int | None = None) -> tuple[bytes, os.stat_result]:
    """`read_state`, with what `os.fstat` said of the file once it was read."""
    try:
        data, st = read_bytes_stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Damaged("it is a symbolic link (assetgen never writes one there)") from None
        raise Damaged(f"cannot read it: {exc.strerror or exc}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise Damaged(f"it is larger than {max_bytes} bytes")
    return data, st


def read_bytes(path: Path) -> bytes:
    """A file's bytes; a symlink is refused (OSError): state files are never links."""
    return read_bytes_stat(path)[0]


def read_bytes_stat(path: Path) -> tuple[bytes, os.stat_result]:
    """`read_bytes`, with what `os.fstat` said of the file once it was read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        data = fh.read()
        return data, os.fstat(fh.fileno())


def parse_json(data: bytes) -> Any:
    if not data.strip():
        raise Damaged("it is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Damaged(f"it is not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})") from None
    return parse_json_text(text)


def parse_json_text(text: str) -> Any:
    """`parse_json` of text already decoded."""
    try:
        value = load_json(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise Damaged(f"it is cut short at {where} (truncated?)") from None
        raise Damaged(f"it is not valid JSON at {where}: {exc.msg}") from None
    except RecursionError:
        raise Damaged("it is nested too deeply") from None
    except ValueError as exc:       # an integer with thousands of digits, NaN or Infinity
        raise Damaged(f"it holds a value out of range: {exc}") from None
    check_depth(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Damaged when `value` nests containers deeper than `limit` (checked without recursion)."""
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth >= limit:
            raise Damaged("it is nested too deeply")
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def is_count(value: object) -> bool:
    """A non-negative int (not a bool) of sane size."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT


def is_number(value: object) -> bool:
    """A finite int or float (not a bool) of sane size."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) <= MAX_INT if isinstance(value, int) else math.isfinite(value)
