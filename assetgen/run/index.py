"""The build index: what each recipe file contributed to the last complete build.

Written beside the build stamp (`run.stamp`), which holds its hash. Per recipe file: its variant
names, its assets (key -> variant names) and which of them have a matrix, the output paths it
writes, the input files it reads, the variants of other files it refers to, and the (shortened)
ids of its actions. With it, a build after a change to a few recipe files (`run.delta`) loads and
plans only those files (and the files that refer to them), and checks the rest of the project by
index: duplicate names and output paths, outputs that would overwrite a recipe or an input.

Like every state file it is untrusted: read with its shape checked, anything wrong ignored (the
build then takes the full path, costing time only). Its paths are only compared, never opened.

It is a base (`build-index.json`) and the changes since it (`build-index-changes.json`, naming
the base's sha256; the stamp holds the sha256 of the changes file, or of the base when there is
none): a build after a small change writes only the entries that differ from the base's (a large
entry, a matrix file's, as the runs of each column that differ), and the files gone; past an
eighth of the base's size the base is written whole again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, compress, repeat
from pathlib import Path
from typing import Any, NamedTuple

from assetgen import statefiles
from assetgen.atomic import Known, text_chunks
from assetgen.plan.graph import AssetPlan, Plan
from assetgen.recipe.model import Recipe
from assetgen.recipe.refs import refs_of
from assetgen.run import stamp

INDEX_VERSION = 2
ID_CHARS = 20           # an action id is counted by its first 80 bits


class FileEntry(NamedTuple):
    variants: Sequence[str]
    assets: dict[str, list[str]]
    matrix: Sequence[str]
    outputs: Sequence[str]
    inputs: Sequence[str]
    refs: Sequence[str]
    actions: Sequence[str]

    def to_json(self) -> list[Any]:
        return [v if type(v) is list or type(v) is dict else list(v) for v in self]


class VariantRecord(NamedTuple):
    """What one variant adds to its file's entry (the variant cache, `run.varcache`, keeps these
    per variant of a large matrix)."""

    name: str
    asset: str
    matrix: bool                # it has matrix values
    outputs: Sequence[str]
    inputs: Sequence[str]
    refs: Sequence[str]         # the variants (or asset keys) of other files it refers to
    actions: Sequence[str]      # shortened ids of its actions


def entries(recipes: Iterable[Recipe], plan: Plan, keep: Callable[[Recipe], bool] | None = None
            ) -> tuple[dict[str, FileEntry], dict[str, list[VariantRecord]]]:
    """The entry of each recipe file, from its variants and the plan's actions for them; and the
    variant records of the files `keep` picks (the rest are dropped once combined)."""
    by_name = {asset.name: asset for asset in plan.assets}
    made: dict[str, FileEntry] = {}
    kept: dict[str, list[VariantRecord]] = {}
    for recipe in recipes:
        found = records(recipe, by_name)
        made[recipe.path] = combine(found)
        if keep is not None and keep(recipe):
            kept[recipe.path] = found
    return made, kept


def records(recipe: Recipe, by_name: Mapping[str, AssetPlan]) -> list[VariantRecord]:
    """Each variant's record, in the file's order (`by_name`: the plan's assets by variant name)."""
    found = []
    for v in recipe.variants:
        inputs: set[str] = set()
        for step in v.steps:
            inputs.update(r.path for r in (step.image, step.mask, *step.images) if r is not None and r.path)
        asset = by_name.get(v.name)
        actions = {aid[:ID_CHARS] for aid in (*asset.steps, *asset.outputs)} if asset is not None else set()
        found.append(VariantRecord(
            v.name, v.asset, bool(v.values), tuple(o.path for o in v.outputs), tuple(sorted(inputs)),
            tuple(sorted({r.asset for r in refs_of(v) if r.asset})), tuple(sorted(actions))))
    return found


def combine(found: Iterable[VariantRecord]) -> FileEntry:
    """The file entry of variant records, in the file's order (actions in the order the variants
    first name them: a set, kept in an order that needs no sort, as a large matrix combines its
    records on every build after a change to it)."""
    found = list(found)
    if not found:
        return FileEntry((), {}, (), (), (), (), ())
    names, assets_of, matrix, outputs, inputs, refs, actions = zip(*found, strict=True)
    assets: dict[str, list[str]] = {}
    for asset, name in zip(assets_of, names, strict=True):
        assets.setdefault(asset, []).append(name)
    return FileEntry(
        names, assets, tuple(sorted(set(compress(assets_of, matrix)))), tuple(chain.from_iterable(outputs)),
        tuple(sorted(set(chain.from_iterable(inputs)))), tuple(sorted(set(chain.from_iterable(refs)))),
        tuple(dict.fromkeys(chain.from_iterable(actions))))


def encode(files: Mapping[str, FileEntry]) -> bytes:
    return b"".join(encoded(files))


def encoded(files: Mapping[str, FileEntry], size: int = 1 << 16) -> Iterator[bytes]:
    """The index's base as `json.dumps` writes it whole, in UTF-8 chunks of about `size` characters
    (a column at a time: the index of a large project is not held again as one text): the files'
    paths and, for each of the seven fields, the column of the files' values, or null when every
    file's is empty. Columns, not an object of entries: a reader makes half the containers (no empty
    one), in half the time."""
    columns = list(zip(*files.values(), strict=True)) if files else [()] * 7
    parts = chain([f'{{"version":{INDEX_VERSION},"paths":', _dumps(list(files)), ',"columns":['],
                  chain.from_iterable(("," if i else "", _dumps(list(c)) if any(c) else "null")
                                      for i, c in enumerate(columns)), ["]}"])
    return text_chunks(parts, size)


BASE_FILE = stamp.INDEX_FILE
CHANGES_FILE = stamp.INDEX_CHANGES_FILE
SPLICE_FROM = 64            # variants in an entry from which its changes are written as runs
REWRITE_FROM = 4096         # bytes of changes from which (or an eighth of the base's) the base is rewritten


def write(root: Path, files: Mapping[str, FileEntry]) -> str:
    """Write the index (not synced to disk, like the stamp); the sha256 the stamp holds for it.
    When the index this process read last (`read`) or wrote is the one there, only the changes
    since its base are written."""
    state = root / ".assetgen"
    known = _read.pop(root, None)
    if known is not None and known.holds(state):
        changes = known.since(files)
        payload = _dumps({"version": INDEX_VERSION, "base": known.sha, "files": changes.records,
                          "gone": sorted(changes.gone)}).encode("utf-8")
        if len(payload) < max(REWRITE_FROM, known.size // 8):
            import hashlib

            from assetgen.atomic import write_atomic

            write_atomic(state / CHANGES_FILE, payload, durable=False)
            return hashlib.sha256(payload).hexdigest()
    return _write_base(root, files)


def run_texts(files: Mapping[str, FileEntry]) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """A run of files as `write_joined` takes it: the JSON of their paths, then of each of the seven
    columns, each inside its brackets; and for each column whether a file's value in it is not empty."""
    columns = list(zip(*files.values(), strict=True)) or [()] * 7
    return (_dumps(list(files))[1:-1], *(_dumps(list(c))[1:-1] for c in columns)), tuple(map(any, columns))


def write_joined(root: Path, runs: Sequence[Callable[[int], str]], filled: Sequence[bool]) -> str:
    """`write` of a build in parts (`run.parts`): the index's base made of runs of files, as
    `encoded` writes all of them at once; its sha256. `run(0)`: a run's text of its paths, `run(i)`
    of column i (`run_texts`); `filled[i - 1]`: whether any file's value in column i is not empty
    (else it is null)."""
    import hashlib

    from assetgen.atomic import write_atomic_from

    def joined(i: int) -> Iterator[str]:
        for k, run in enumerate(runs):
            if k:
                yield ","
            yield run(i)

    def parts() -> Iterator[str]:
        yield f'{{"version":{INDEX_VERSION},"paths":['
        yield from joined(0)
        yield '],"columns":['
        for i in range(1, 8):
            yield "," if i > 1 else ""
            if filled[i - 1]:
                yield "["
                yield from joined(i)
                yield "]"
            else:
                yield "null"
        yield "]}"

    digest = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in text_chunks(parts()):
            digest.update(chunk)
            yield chunk

    _read.pop(root, None)
    state = root / ".assetgen"
    write_atomic_from(state / BASE_FILE, hashed(), durable=False)
    (state / CHANGES_FILE).unlink(missing_ok=True)
    return digest.hexdigest()


def _write_base(root: Path, files: Mapping[str, FileEntry]) -> str:
    """The index written whole, a part at a time (a changes file of the old base is removed)."""
    import hashlib

    from assetgen.atomic import write_atomic_from

    digest = hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk in encoded(files):
            digest.update(chunk)
            yield chunk

    state = root / ".assetgen"
    write_atomic_from(state / BASE_FILE, hashed(), durable=False)
    (state / CHANGES_FILE).unlink(missing_ok=True)
    return digest.hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


Entry = Sequence[Any]       # a FileEntry, or an entry as read: a list of its seven fields


class _Read:
    """The index as this process last read or wrote it: the base's sha256, stat and size, its
    entries, the merged entries, and the changes file's record of each entry it holds."""

    __slots__ = ("sha", "known", "size", "base", "merged", "records", "gone")

    def __init__(self, sha: str, known: Known, size: int, base: Mapping[str, Entry],
                 merged: Mapping[str, Entry], records: dict[str, Any],
                 gone: frozenset[str] = frozenset()) -> None:
        self.sha, self.known, self.size = sha, known, size
        self.base, self.merged, self.records, self.gone = base, merged, records, gone

    def holds(self, state: Path) -> bool:
        """Whether the base file there is still the one this was read from (or written as)."""
        return self.known.holds(state / BASE_FILE)

    def since(self, files: Mapping[str, FileEntry]) -> _Read:
        """The changes from the same base to `files`."""
        records: dict[str, Any] = {}
        merged, base = self.merged, self.base
        for rel, entry in files.items():
            if entry is merged.get(rel):        # as read (or last written): its record holds
                if rel in self.records:
                    records[rel] = self.records[rel]
                continue
            was = base.get(rel)
            if was is not None and _same(was, entry):
                continue
            records[rel] = _record(was, entry)
        gone = frozenset(base.keys() - files.keys())
        return _Read(self.sha, self.known, self.size, base, files, records, gone)


def _same(a: Entry, b: Entry) -> bool:
    return all(x is y or (x == y if i == 1 else list(x) == list(y))
               for i, (x, y) in enumerate(zip(a, b, strict=True)))


def _record(was: Entry | None, entry: FileEntry) -> list[Any]:
    """How the changes file holds an entry: ["=", the entry] or, for a large one the base has,
    ["~", per field: null (as the base's), ["=", the field] or ["~", runs (start, stop, items) of
    the base's field to replace]; for the assets, ["k", {asset: ["=", names] or ["~", runs]},
    [the assets gone]]]."""
    if was is None or len(entry.variants) < SPLICE_FROM or len(was[0]) < SPLICE_FROM:
        return ["=", entry.to_json()]
    fields: list[Any] = []
    for i, (old, new) in enumerate(zip(was, entry, strict=True)):
        if old is new:
            fields.append(None)
        elif i == 1:
            fields.append(None if old == new else _keyed(old, entry.assets))
        else:
            runs = _runs(list(old), list(new))
            fields.append(["~", runs] if runs else None)
    return ["~", fields]


def _keyed(old: Mapping[str, Sequence[str]], new: Mapping[str, Sequence[str]]) -> list[Any]:
    """The change of the assets (asset -> variant names): each asset's names that changed."""
    keys: dict[str, list[Any]] = {}
    for key, names in new.items():
        was = old.get(key)
        if was is None or len(names) < SPLICE_FROM:
            keys[key] = ["=", list(names)]
        elif was is not names and list(was) != list(names):
            keys[key] = ["~", _runs(list(was), list(names))]
    return ["k", keys, [key for key in old if key not in new]]


def _runs(a: list[str], b: list[str], block: int = 64) -> list[list[Any]]:
    """Runs [start, stop, items] that make `b` of `a` when each a[start:stop] is replaced by its
    items: the blocks that differ when the two are as long, else the span between the common
    head and tail."""
    n, m = len(a), len(b)
    p = 0
    while p + block <= min(n, m) and a[p:p + block] == b[p:p + block]:
        p += block
    while p < min(n, m) and a[p] == b[p]:
        p += 1
    q, most = 0, min(n, m) - p
    while q + block <= most and a[n - q - block:n - q] == b[m - q - block:m - q]:
        q += block
    while q < most and a[n - q - 1] == b[m - q - 1]:
        q += 1
    if n != m:
        return [[p, n - q, b[p:m - q]]]
    runs: list[list[Any]] = []
    for start in range(p, n - q, block):
        stop = min(start + block, n - q)
        if a[start:stop] != b[start:stop]:
            if runs and runs[-1][1] == start:
                runs[-1][1] = stop
                runs[-1][2] += b[start:stop]
            else:
                runs.append([start, stop, b[start:stop]])
    return runs


# by project root: the index this process read last, so that the build after a small change writes
# only what changed (used once, while the base file is still the one read)
_read: dict[Path, _Read] = {}


def read(root: Path, sha: str | None) -> dict[str, FileEntry] | None:
    """The index written with the stamp whose index hash is `sha`; None when absent or not that one
    (the base, or the changes file and the base it names)."""
    import hashlib

    if sha is None:
        return None
    state = root / ".assetgen"
    try:
        changes: Any = statefiles.read_bytes(state / CHANGES_FILE)
    except OSError:
        changes = None
    if changes is not None and hashlib.sha256(changes).hexdigest() == sha:
        try:
            changes = statefiles.load_json(changes)
        except (ValueError, RecursionError):
            return None
        if not (isinstance(changes, dict) and changes.get("version") == INDEX_VERSION
                and statefiles.is_sha(changes.get("base")) and isinstance(changes.get("files"), dict)
                and isinstance(changes.get("gone"), list) and statefiles.all_relative(changes["gone"])):
            return None
        sha = changes["base"]
    else:
        changes = None
    try:
        data, st = statefiles.read_bytes_stat(state / BASE_FILE)
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha:
        return None
    try:
        base = _base(statefiles.load_json(data))
    except (ValueError, RecursionError):
        return None
    if base is None:
        return None
    merged = base
    records: dict[str, Any] = {}
    gone: frozenset[str] = frozenset()
    if changes is not None:
        merged = dict(base)
        records, gone = changes["files"], frozenset(changes["gone"])
        for rel, record in records.items():
            entry = _applied(base.get(rel), record)
            if entry is None or (record[0] == "=" and not _shaped([entry])):
                return None
            merged[rel] = FileEntry._make(entry)
        for rel in gone:
            merged.pop(rel, None)
        if not statefiles.all_relative(records):
            return None
    _read[root] = _Read(sha, Known.of(st), len(data), base, merged, records, gone)
    return merged


def _base(body: Any) -> dict[str, FileEntry] | None:
    """The entries of the index's base, when it has its shape: the paths, relative and apart, and
    seven columns as long, each null (every value empty) or of lists of strings, but the second,
    of mappings to them."""
    if not (isinstance(body, dict) and body.get("version") == INDEX_VERSION):
        return None
    paths, columns = body.get("paths"), body.get("columns")
    if not (type(paths) is list and type(columns) is list and len(columns) == 7
            and statefiles.all_relative(paths) and len(set(paths)) == len(paths)):
        return None
    n = len(paths)
    if not all(c is None or (type(c) is list and len(c) == n) for c in columns):
        return None
    assets = columns[1]
    lists = [c for i, c in enumerate(columns) if i != 1 and c is not None]
    if assets is not None:
        if not set(map(type, assets)) <= {dict}:
            return None
        lists.append(list(chain.from_iterable(map(dict.values, assets))))
    if not all(set(map(type, c)) <= {list} and set(map(type, chain.from_iterable(c))) <= {str}
               for c in lists):
        return None
    fields = [repeat(()) if c is None else c for c in columns]     # (as long as the paths)
    return dict(zip(paths, map(tuple.__new__, repeat(FileEntry), zip(*fields, strict=False)), strict=False))


def _applied(was: Any, record: Any) -> list[Any] | None:
    """An entry of the changes file made into an entry; None when the record is not one `_record`
    writes, or does not fit the base's entry. A whole entry's shape is the caller's to check; of a
    changed one, only what the record brings is checked (the rest is the base's, checked)."""
    if not (type(record) is list and len(record) == 2):
        return None
    how, value = record
    if how == "=":
        return value if type(value) is list else None
    if how != "~" or not isinstance(was, list | tuple) or len(was) != 7 or type(value) is not list \
            or len(value) != 7:
        return None
    entry: list[Any] = []
    for i, (old, change) in enumerate(zip(was, value, strict=True)):
        if change is None:
            entry.append(({} if i == 1 else []) if old == () else old)     # () in an empty column
        elif type(change) is not list or len(change) not in (2, 3):
            return None
        elif change[0] == "=" and (_strs(change[1]) if i != 1 else _named(change[1])):
            entry.append(change[1])
        elif change[0] == "k" and i == 1 and (type(old) is dict or old == ()) and len(change) == 3:
            assets = _rekeyed(dict(old), change[1], change[2])
            if assets is None:
                return None
            entry.append(assets)
        elif change[0] == "~" and i != 1 and isinstance(old, list | tuple) and type(change[1]) is list:
            field = _spliced(old, change[1])
            if field is None:
                return None
            entry.append(field)
        else:
            return None
    return entry


def _rekeyed(old: dict[str, Any], keys: Any, gone: Any) -> dict[str, Any] | None:
    """The assets with the names of `keys` changed and the assets `gone` removed."""
    if type(keys) is not dict or type(gone) is not list:
        return None
    assets = dict(old)
    for key, change in keys.items():
        if not (type(change) is list and len(change) == 2 and type(change[1]) is list):
            return None
        if change[0] == "=" and _strs(change[1]):
            assets[key] = change[1]
        elif change[0] == "~" and type(old.get(key)) is list:
            names = _spliced(old[key], change[1])
            if names is None:
                return None
            assets[key] = names
        else:
            return None
    for key in gone:
        if type(key) is not str:
            return None
        assets.pop(key, None)
    return assets


def _spliced(old: Sequence[Any], runs: list[Any]) -> list[Any] | None:
    """`old` with each run's span replaced by its items (runs in order, apart); None when a run is
    not [start, stop, items] within `old`."""
    field = list(old)
    at = len(old)
    for run in reversed(runs):
        if not (type(run) is list and len(run) == 3 and type(run[0]) is int and type(run[1]) is int
                and _strs(run[2]) and 0 <= run[0] <= run[1] <= at):
            return None
        field[run[0]:run[1]] = run[2]
        at = run[0]
    return field


def _strs(value: Any) -> bool:
    """A list of strings."""
    return type(value) is list and set(map(type, value)) <= {str}


def _named(value: Any) -> bool:
    """A mapping to lists of strings."""
    return type(value) is dict and all(map(_strs, value.values()))


def _shaped(raws: list[Any]) -> bool:
    """Whether every entry has its shape: seven fields, lists of strings but the second, a mapping
    to them (checked a column at a time: the index of a large project is read on every small build)."""
    if not (set(map(type, raws)) <= {list} and set(map(len, raws)) <= {7}):
        return False
    columns = list(zip(*raws, strict=True)) or [()] * 7
    assets = columns.pop(1)
    if not set(map(type, assets)) <= {dict}:
        return False
    columns.append(tuple(chain.from_iterable(map(dict.values, assets))))
    return all(set(map(type, column)) <= {list} and set(map(type, chain.from_iterable(column))) <= {str}
               for column in columns)
