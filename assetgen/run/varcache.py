"""The variant cache: per recipe file with a matrix, what each variant contributed to the last
complete build, by its matrix values, kept in `.assetgen/variant-cache.json`.

Written with the build stamp (`run.stamp`) and tied to it: the cache holds the hash of the build
index written with the stamp, and is used only with that stamp. Per file: its definition (the
data without the matrix value lists, `recipe.reuse`) and, in the file's order, each variant's
values (`reuse.combo_key`) with its index record (`run.index.VariantRecord`). A build after a
change to such a file (`run.partial`) keeps the variants whose values it had, when the definition
is unchanged, and renders and plans only the others.

The records are kept a column at a time beside the file's entry in the build index, which already
holds most of them: the names, the assets and the outputs in the file's order are the entry's,
so the cache keeps each variant's values, how many of the entry's outputs it writes, its actions
(their ids only when some are shared: else they are the entry's, in order), its inputs and
references, and which variants have no matrix values. A record is a slice of these columns;
taking a few variants out of a file and putting others in (`FileVariants.rebuilt`) is slicing and
joining lists, not a pass over every variant: the cache of a 10,000-value matrix is read, checked
and written again in a few milliseconds after a change to one value.

Like every state file it is untrusted: its first line is the sha256 of the rest, so damage anywhere
makes it ignored; what passes is checked for shape, and a file's records must add up to that file's
entry in the build index (the output counts to its outputs, the actions to its actions in the
order they are first named, the inputs and references to its sets, the variants with values to
its matrix assets). Anything wrong costs time (the file is loaded whole), never a wrong build.
"""

from __future__ import annotations

import functools
import hashlib
import json
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, chain, groupby, repeat
from pathlib import Path
from typing import Any

from msgspec import Struct

from assetgen import statefiles
from assetgen.run.index import FileEntry, VariantRecord

CACHE_FILE = "variant-cache.json"
VERSION = 2

# the columns of a file's variants: each variant's count, and the flat list it counts in
_LISTS = (("actions", "action_ids"), ("inputs", "input_paths"), ("refs", "ref_names"))

# A part of a file's variants in a new order: a range of the cached positions kept as they were,
# or the values (`combo_key`) of a variant made now
Part = range | str


class FileVariants(Struct, frozen=True, dict=True):
    """One recipe file's variants as the last build made them, beside its index entry."""

    definition: str
    entry: FileEntry                    # the file's entry in the build index: names, assets, outputs
    keys: Sequence[str]                 # each variant's values (`reuse.combo_key`), in the file's order
    outputs: Sequence[int]              # how many of the entry's outputs each writes, in order
    actions: Sequence[int]              # how many action ids each names
    action_ids: Sequence[str] | None    # those ids, in order (None: the entry's actions, none shared)
    inputs: Sequence[int]
    input_paths: Sequence[str]
    refs: Sequence[int]
    ref_names: Sequence[str]
    bare: Sequence[int]                 # the positions of the variants without matrix values
    basis: Any = None                   # the file's text as last read (`recipe.splice`), as JSON

    def to_json(self) -> dict[str, Any]:
        return {"definition": self.definition, "keys": self.keys, "outputs": self.outputs,
                "actions": self.actions, "action_ids": self.action_ids, "inputs": self.inputs,
                "input_paths": self.input_paths, "refs": self.refs, "ref_names": self.ref_names,
                "bare": self.bare, "basis": self.basis}

    @functools.cached_property
    def _ids(self) -> Sequence[str]:
        return self.action_ids if self.action_ids is not None else self.entry.actions

    @functools.cached_property
    def _starts(self) -> dict[str, list[int]]:
        """Where each variant's part of each flat column starts (one more: the end)."""
        return {name: [0, *accumulate(getattr(self, name))] for name in ("outputs", *(c for c, _ in _LISTS))}

    @functools.cached_property
    def assets(self) -> list[str]:
        """Each variant's asset, in order."""
        return list(chain.from_iterable(repeat(a, len(names)) for a, names in self.entry.assets.items()))

    def record(self, at: int) -> VariantRecord:
        """The record of the variant at position `at`."""
        def part(name: str, flat: Sequence[str]) -> tuple[str, ...]:
            starts = self._starts[name]
            return tuple(flat[starts[at]:starts[at + 1]])

        bare = self.bare
        i = bisect_left(bare, at)
        return VariantRecord(self.entry.variants[at], self.assets[at], not (i < len(bare) and bare[i] == at),
                             part("outputs", self.entry.outputs), part("inputs", self.input_paths),
                             part("refs", self.ref_names), part("actions", self._ids))

    def rebuilt(self, parts: Iterable[Part], made: Mapping[str, VariantRecord]) -> FileVariants:
        """The variants in a new order: each part a range of these kept as they are, or the values
        of a variant whose record `made` holds (KeyError when it does not)."""
        starts = self._starts
        entry = self.entry
        keys: list[str] = []
        names: list[str] = []
        assets: list[str] = []
        bare: list[int] = []
        counts: dict[str, list[int]] = {"outputs": [], "actions": [], "inputs": [], "refs": []}
        flats: dict[str, list[str]] = {"outputs": [], "actions": [], "inputs": [], "refs": []}
        sources = {"outputs": entry.outputs, "actions": self._ids, "inputs": self.input_paths,
                   "refs": self.ref_names}
        for part in parts:
            if type(part) is range:
                lo, hi = part.start, part.stop
                if lo >= hi:
                    continue
                first = bisect_left(self.bare, lo)
                bare += [len(keys) + at - lo for at in self.bare[first:bisect_left(self.bare, hi, first)]]
                keys += self.keys[lo:hi]
                names += entry.variants[lo:hi]
                assets += self.assets[lo:hi]
                for name, column in counts.items():
                    column += getattr(self, name)[lo:hi]
                    flats[name] += sources[name][starts[name][lo]:starts[name][hi]]
                continue
            assert isinstance(part, str)
            record = made[part]
            if not record.matrix:
                bare.append(len(keys))
            keys.append(part)
            names.append(record.name)
            assets.append(record.asset)
            for name, found in (("outputs", record.outputs), ("actions", record.actions),
                                ("inputs", record.inputs), ("refs", record.refs)):
                counts[name].append(len(found))
                flats[name] += found
        by_asset: dict[str, list[str]] = {}
        at = 0
        for asset, run in _runs(assets):
            by_asset.setdefault(asset, []).extend(names[at:at + run])
            at += run
        matrix = _with_values(assets, bare)
        actions = tuple(dict.fromkeys(flats["actions"]))
        new_entry = FileEntry(tuple(names), by_asset, tuple(sorted(matrix)), tuple(flats["outputs"]),
                              tuple(sorted(set(flats["inputs"]))), tuple(sorted(set(flats["refs"]))), actions)
        ids = None if len(actions) == len(flats["actions"]) else flats["actions"]
        return FileVariants(self.definition, new_entry, keys, counts["outputs"], counts["actions"], ids,
                            counts["inputs"], flats["inputs"], counts["refs"], flats["refs"], bare)


def _runs(values: Sequence[str]) -> list[tuple[str, int]]:
    """(value, how many times in a row) of a list."""
    return [(value, len(list(run))) for value, run in groupby(values)]


def from_records(definition: str, keys: Sequence[str], records: Sequence[VariantRecord],
                 entry: FileEntry) -> FileVariants:
    """The variants of a file built whole: `records` in order, which `entry` combines."""
    ids = list(chain.from_iterable(r.actions for r in records))
    return FileVariants(
        definition, entry, list(keys), [len(r.outputs) for r in records], [len(r.actions) for r in records],
        ids if len(ids) != len(entry.actions) else None,
        [len(r.inputs) for r in records], list(chain.from_iterable(r.inputs for r in records)),
        [len(r.refs) for r in records], list(chain.from_iterable(r.refs for r in records)),
        [i for i, r in enumerate(records) if not r.matrix])


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
    in the build index they were written with. Checked a column at a time: a large matrix is read
    on every build after a change to it."""
    if type(raw) is not dict or type(raw.get("definition")) is not str:
        return None
    n = len(entry.variants)
    keys: Any = raw.get("keys")
    outputs: Any = raw.get("outputs")
    bare: Any = raw.get("bare")
    if not (type(keys) is list and len(keys) == n and set(map(type, keys)) <= {str} and len(set(keys)) == n):
        return None
    if not (_counts(outputs, n) and sum(outputs) == len(entry.outputs)):
        return None
    flats: dict[str, list[str]] = {}
    for count, flat in _LISTS:
        counts: Any = raw.get(count)
        values: Any = raw.get(flat)
        if count == "actions" and values is None:     # the entry's actions, each named once
            if not (_counts(counts, n) and sum(counts) == len(entry.actions)
                    and len(set(entry.actions)) == len(entry.actions)):
                return None
            continue
        if not (_counts(counts, n) and type(values) is list and set(map(type, values)) <= {str}
                and sum(counts) == len(values)):
            return None
        flats[count] = values
    if ("actions" in flats and list(dict.fromkeys(flats["actions"])) != list(entry.actions)) or \
            sorted(set(flats["inputs"])) != list(entry.inputs) or \
            sorted(set(flats["refs"])) != list(entry.refs):
        return None
    if not (type(bare) is list and set(map(type, bare)) <= {int} and bare == sorted(set(bare))
            and (not bare or (bare[0] >= 0 and bare[-1] < n))):
        return None
    assets = entry.assets
    if list(chain.from_iterable(assets.values())) != list(entry.variants):
        return None     # an asset's variants not in a row: not a file's
    found = FileVariants(raw["definition"], entry, keys, outputs, raw["actions"], raw.get("action_ids"),
                         raw["inputs"], raw["input_paths"], raw["refs"], raw["ref_names"], bare,
                         raw.get("basis"))
    if sorted(_with_values(found.assets, bare)) != list(entry.matrix):
        return None
    return found


def _with_values(assets: Sequence[str], bare: Sequence[int]) -> set[str]:
    """The assets with a variant that has matrix values (`bare`: the positions of those without)."""
    if not bare:
        return set(assets)
    without = set(bare)
    return {a for i, a in enumerate(assets) if i not in without}


def _counts(value: Any, n: int) -> bool:
    """A list of `n` counts."""
    return type(value) is list and len(value) == n and set(map(type, value)) <= {int} \
        and (not value or min(value) >= 0)


def write(root: Path, index_sha: str, env: str, files: Mapping[str, FileVariants | dict[str, Any]]) -> None:
    """Best effort: without it a later build loads a changed file whole. Encoded a file at a time
    and written a part at a time: the same text as `json.dumps` of the whole body."""
    from assetgen.atomic import text_chunks, write_atomic_from

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    texts = [(dumps(rel), dumps(f if isinstance(f, dict) else f.to_json())) for rel, f in files.items()]
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
