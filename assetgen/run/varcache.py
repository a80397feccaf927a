"""The variant cache: per recipe file with a matrix, what each variant contributed to the last
complete build, by its matrix values, kept in `.assetgen/variant-cache.json`.

Written with the build stamp (`run.stamp`) and tied to it: the cache holds the hash of the build
index written with the stamp, and is used only with that stamp. Per file: its definition (the
data without the matrix value lists, `recipe.reuse`) and, in the file's order, each variant's
values (`reuse.combo_key`) with its index record (`run.index.VariantRecord`). A build after a
change to such a file (`run.partial`) keeps the variants whose values it had, when the definition
is unchanged, and renders and plans only the others.

Like every state file it is untrusted: its first line is the sha256 of the rest, so damage anywhere
makes it ignored; what passes is checked for shape, and a file's records must add up to that file's
entry in the build index. Anything wrong costs time (the file is loaded whole), never a wrong build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from assetgen import statefiles
from assetgen.run.index import FileEntry, VariantRecord

CACHE_FILE = "variant-cache.json"
VERSION = 1


@dataclass(frozen=True)
class FileVariants:
    """One recipe file's variants as the last build made them."""

    definition: str
    keys: tuple[str, ...]                   # each variant's values, in the file's order
    records: tuple[VariantRecord, ...]      # and its record
    items: Sequence[list[Any] | None] = ()  # the JSON of some of them, as read (not encoded again)

    def to_json(self) -> list[Any]:
        items = self.items or [None] * len(self.keys)
        made = zip(self.keys, self.records, items, strict=True)
        return [self.definition, [i or [k, *r] for k, r, i in made]]


def read(root: Path, index_sha: str | None, env: str) -> dict[str, Any]:
    """The raw entry of each file, when the cache was written with the index `index_sha` and the
    environment `env` (`recipe.filecache.environment`); else nothing."""
    if index_sha is None:
        return {}
    try:
        head, newline, payload = statefiles.read_bytes(root / ".assetgen" / CACHE_FILE).partition(b"\n")
        if not newline or head != _checksum(payload):
            return {}
        body = statefiles.load_json(payload)
    except (OSError, ValueError, RecursionError):
        return {}
    if not (isinstance(body, dict) and body.get("version") == VERSION and body.get("index") == index_sha
            and body.get("environment") == env and isinstance(body.get("files"), dict)):
        return {}
    return body["files"]


def decode(raw: Any, entry: FileEntry) -> FileVariants | None:
    """A file's cached variants, when they have their shape and add up to `entry`, the file's entry
    in the build index they were written with (which also proves each field's type: a name, an
    output or an action that is not its string would not add up). Checked a field at a time over
    all variants: a large matrix is read on every build after a change to it."""
    if type(raw) is not list or len(raw) != 2 or type(raw[0]) is not str or type(raw[1]) is not list:
        return None
    items = raw[1]
    if not (set(map(type, items)) <= {list} and set(map(len, items)) <= {8}):
        return None
    keys, names, assets, matrix, outputs, inputs, refs, actions = \
        zip(*items, strict=True) if items else [()] * 8
    if not set(map(type, keys)) <= {str} or len(set(keys)) != len(keys) \
            or not all(set(map(type, field)) <= {list} for field in (outputs, inputs, refs, actions)) \
            or not all(set(map(type, chain.from_iterable(field))) <= {str} for field in (inputs, refs)):
        return None
    try:        # what is not a string fails here or does not add up
        by_asset: dict[Any, list[Any]] = {}
        for asset, name in zip(assets, names, strict=True):
            by_asset.setdefault(asset, []).append(name)
        made = [list(names), by_asset, sorted({a for a, m in zip(assets, matrix, strict=True) if m}),
                list(chain.from_iterable(outputs)), sorted(set(chain.from_iterable(inputs))),
                sorted(set(chain.from_iterable(refs))), list(dict.fromkeys(chain.from_iterable(actions)))]
    except TypeError:
        return None
    if made != entry.to_json() or not set(map(type, matrix)) <= {bool}:
        return None
    found = tuple(map(VariantRecord._make, zip(names, assets, matrix, outputs, inputs, refs, actions,
                                               strict=True)))
    return FileVariants(raw[0], keys, found, items)


def write(root: Path, index_sha: str, env: str, files: Mapping[str, FileVariants | list[Any]]) -> None:
    """Best effort: without it a later build loads a changed file whole. Encoded a file at a time
    and written a part at a time: the same text as `json.dumps` of the whole body."""
    from assetgen.atomic import text_chunks, write_atomic_from

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    texts = [(dumps(rel), dumps(f if isinstance(f, list) else f.to_json())) for rel, f in files.items()]
    head = dumps({"version": VERSION, "index": index_sha, "environment": env, "files": {}})[:-2]

    def pieces() -> Iterator[str]:
        yield head      # without the closing "}}"
        for i, (rel, text) in enumerate(texts):
            yield f"{',' if i else ''}{rel}:"
            yield text
        yield "}}"

    digest = hashlib.sha256()
    for chunk in text_chunks(pieces()):
        digest.update(chunk)
    try:
        write_atomic_from(root / ".assetgen" / CACHE_FILE,
                          chain([digest.hexdigest().encode("ascii") + b"\n"], text_chunks(pieces())),
                          durable=False)
    except OSError:
        pass


def remove(root: Path) -> None:
    try:
        (root / ".assetgen" / CACHE_FILE).unlink(missing_ok=True)
    except OSError:
        pass


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(payload).hexdigest().encode("ascii")
