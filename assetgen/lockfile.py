"""`assetgen.lock`: for each asset, its resolved requests, their keys and results, and the hash of
every output file. Committed, so a fresh clone builds with zero calls and a pull request diff shows
which prompts changed. The text is stable: JSON, sorted keys, two-space indent, one entry per asset.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msgspec import Struct

from assetgen import statefiles
from assetgen.atomic import Chunk, Known, Pending, byte_chunks, text_chunks, write_atomic
from assetgen.errors import UserError

LOCK_FILE = "assetgen.lock"
LOCK_VERSION = 1
# in the state folder: what `os.stat` said of the lock file assetgen last wrote (size, mtime, ctime,
# inode, device, taken through the file's descriptor after it was put in place), so that a later
# read knows the file's text to be entries as `_block` writes them, sorted (a small build reads only
# the entries it needs, and a write reuses the text of every entry that did not change), without
# hashing the file: a file written since, by git or a hand, has another ctime and inode
TEXT_RECORD = "lock-text.json"
_HEAD = '{\n  "assets": {\n'
_TAIL = f'\n  }},\n  "version": {LOCK_VERSION}\n}}\n'
_HEAD_BYTES = _HEAD.encode("ascii")
_TAIL_BYTES = _TAIL.encode("ascii")
_HEAD_CRLF = _HEAD.replace("\n", "\r\n").encode("ascii")
_SEP = b',\n    "'        # between two entries: the comma, and the next one's indent and quote


class LockInput(Struct, frozen=True):
    role: str                 # image | mask | images
    sha256: str
    file: str | None = None
    asset: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "sha256": self.sha256}
        if self.file is not None:
            out["file"] = self.file
        if self.asset is not None:
            out["asset"] = self.asset
        return out


class LockStep(Struct, frozen=True):
    op: str
    provider: str
    model: str
    prompt: str
    params: tuple[tuple[str, Any], ...]
    inputs: tuple[LockInput, ...]
    key: str
    results: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "provider": self.provider, "model": self.model, "prompt": self.prompt,
                "params": dict(self.params), "inputs": [i.to_json() for i in self.inputs],
                "key": self.key, "results": list(self.results)}


class LockOutput(Struct, frozen=True):
    path: str
    format: str
    quality: int | None
    resize: str | None
    fit: str | None
    source: str            # sha256 of the image it renders
    key: str
    sha256: str
    adopted: bool = False  # the file's bytes were adopted as they are (`build --adopt`), not rendered

    def to_json(self) -> dict[str, Any]:
        out = {"format": self.format, "quality": self.quality, "resize": self.resize, "fit": self.fit,
               "source": self.source, "key": self.key, "sha256": self.sha256}
        if self.adopted:
            out["adopted"] = True
        return out


class LockAsset(Struct, frozen=True):
    name: str
    recipe: str
    steps: tuple[LockStep, ...]
    outputs: tuple[LockOutput, ...]

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "steps": [s.to_json() for s in self.steps],
                "outputs": {o.path: o.to_json() for o in self.outputs}}


@dataclass(frozen=True)
class Lock:
    assets: dict[str, LockAsset]
    # name -> (the entry as read, its text in the file as assetgen wrote it): `text` reuses the
    # text of an entry that did not change (a hint: only used for an entry equal to the one read)
    blocks: dict[str, tuple[LockAsset, str]] = field(default_factory=dict, compare=False, repr=False)
    # name -> text of the entries a partial reading (`read_some`) left unread: written as they are
    others: Mapping[str, str] = field(default_factory=dict, repr=False)
    # the lock file this lock was read from, when it is one assetgen wrote, so that a write of the
    # same text need not read the file again to tell
    file: Known | None = field(default=None, compare=False, repr=False)
    # the lock file this lock was read from whole, when it is laid out as assetgen writes it (`claim`)
    laid_out: Known | None = field(default=None, compare=False, repr=False)

    def others_text(self) -> str:
        """The text of the entries left unread, together (to search)."""
        others = self.others
        return others.text() if isinstance(others, Unread) else "".join(others.values())

    def others_hold(self, needles: Iterable[str]) -> bool:
        """Whether the text of an entry left unread holds one of `needles` (searched where it
        lies: the unread entries are not joined nor decoded)."""
        others = self.others
        if isinstance(others, Unread):
            return others.holds(needles)
        return any(n in text for n in needles for text in others.values())

    def step_results(self) -> dict[str, tuple[str, ...]]:
        return {s.key: s.results for a in self.assets.values() for s in a.steps}

    def written(self) -> dict[str, LockOutput]:
        """Output path -> what the lock says assetgen last left there."""
        return {o.path: o for a in self.assets.values() for o in a.outputs}

    def output_shas(self) -> dict[tuple[str, str], str]:
        """(output path, render key) -> sha256 of the file the lock expects."""
        return {(o.path, o.key): o.sha256 for a in self.assets.values() for o in a.outputs}

    def as_read(self) -> bool | None:
        """Whether the text is the text of the lock file this lock was read from (told without
        encoding: every entry read is there again, unchanged, and no other); None when there is no
        telling (not read from a file assetgen wrote, or not all of it split into entries)."""
        others, blocks = self.others, self.blocks
        if self.file is None:
            return None
        if isinstance(others, Unread):      # a name not read may be among the entries left unread
            if self.assets.keys() != others.spans.keys():
                return None
        elif others or not blocks:
            return None
        elif self.assets.keys() != blocks.keys():       # the blocks are every entry of the file
            return False
        return all(name in blocks and _same(blocks[name][0], asset) for name, asset in self.assets.items())

    def text(self) -> str:
        """JSON with sorted keys and a two-space indent; the text of an entry equal to the one read
        from the file is taken from the file rather than encoded again."""
        return b"".join(self.chunks()).decode("utf-8")

    def chunks(self) -> Iterator[Chunk]:
        """The UTF-8 of `text()` in parts (a lock of many entries is never whole in memory but
        as it was read): after a partial reading, the unread entries are their bytes as read, in
        runs, and only the others are encoded."""
        if not (self.assets or self.others):
            body = {"version": LOCK_VERSION, "assets": {}}
            yield (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
            return
        others = self.others
        layout = others.layout(sorted(self.assets)) if isinstance(others, Unread) else None
        if layout:
            yield from byte_chunks(self._laid_out(layout))
        else:
            yield from text_chunks(self._pieces())

    def _laid_out(self, layout: list[memoryview | str]) -> Iterator[Chunk]:
        yield _HEAD_BYTES
        for i, part in enumerate(layout):
            if i:
                yield b",\n"
            yield part if isinstance(part, memoryview) else self._entry_text(part).encode("utf-8")
        yield _TAIL_BYTES

    def _pieces(self) -> Iterator[str]:
        """The text, one entry at a time."""
        yield _HEAD
        for i, name in enumerate(sorted(self.assets.keys() | self.others.keys())):
            if i:
                yield ",\n"
            if name not in self.assets:
                yield self.others[name]
                continue
            yield self._entry_text(name)
        yield _TAIL

    def _entry_text(self, name: str) -> str:
        asset = self.assets[name]
        known = self.blocks.get(name)
        return known[1] if known is not None and _same(known[0], asset) else _block(asset)


def _block(asset: LockAsset) -> str:
    """One entry's text as `json.dumps(..., indent=2, sort_keys=True)` writes it inside the file."""
    body = json.dumps(asset.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
    return "    " + json.dumps(asset.name, ensure_ascii=False) + ": " + body.replace("\n", "\n    ")


def _same(a: LockAsset, b: LockAsset) -> bool:
    """Equal, and with parameters of the same types (1, 1.0 and true are equal, but not the same text)."""
    if a is b:
        return True
    return a == b and [repr(s.params) for s in a.steps] == [repr(s.params) for s in b.steps]


EMPTY = Lock({})


def read(root: Path) -> Lock:
    """The lock file; EMPTY when there is none. A lock file that cannot be read or has the wrong
    shape (truncated, empty, not UTF-8, bad JSON, a bad hash or path) is a UserError naming it and
    how to recover: it may come from a pull request, and nothing it says is used unchecked."""
    path = root / LOCK_FILE
    try:
        data, st = statefiles.read_state_stat(path)
        data = _lf(data)
        texts = _laid_out_entries(data)
        lock = _lock_of(texts) if texts is not None else None
        if lock is None:
            texts, lock = None, _lock(statefiles.parse_json(data))
    except FileNotFoundError:
        return EMPTY
    except statefiles.Damaged as exc:
        raise UserError(unreadable(path, str(exc))) from None
    if texts is None:
        return lock
    if _written_by_us(root, st, data):
        blocks = {name: (lock.assets[name], text) for name, text in texts.items()}
        return Lock(lock.assets, blocks, file=Known.of(st))
    return Lock(lock.assets, laid_out=Known.of(st))


def _lf(data: bytes) -> bytes:
    """The bytes of a lock file checked out with CRLF line endings (git's `core.autocrlf` on
    Windows) as assetgen wrote them, with LF: the same JSON (a line break inside a JSON string is
    always escaped), so it is read an entry at a time as assetgen's text, and written again, when
    its entries change, with LF throughout. Any other file is left as it is."""
    return data.replace(b"\r\n", b"\n") if data.startswith(_HEAD_CRLF) else data


def _laid_out_entries(data: bytes) -> dict[str, str] | None:
    """Name -> text of each entry, when the file is laid out as assetgen writes it (the head and
    tail of `_HEAD` and `_TAIL`, one entry per four-space-indented key, sorted by name, each a
    whole JSON member); None otherwise: the file is then read whole, which words any error. A
    lock of many entries is read an entry at a time, never as one tree of JSON values beside
    its entries (a 47 MB file of 50,000 assets took 220 MB more read whole)."""
    span = _entries_span(data)
    if span is None:
        return None
    try:
        texts = _entries(data, *span)
    except ValueError:
        return None
    names = list(texts)     # (a name twice: the last one, as a whole reading takes it)
    return texts if names == sorted(names) else None


def _lock_of(texts: dict[str, str]) -> Lock | None:
    """The lock of entries laid out as assetgen writes them, each read alone (Damaged as `_lock`
    words it, for an entry whose value has the wrong shape); None when an entry is not one whole
    JSON member (only in a file laid out otherwise: the whole reading then decides)."""
    shape = _Shape("assets")
    assets = {}
    for name, text in texts.items():
        raw = _member(name, text)
        if raw is None:
            return None
        try:
            assets[name] = _quick_asset(name, raw[name])
        except _Slow:   # something is wrong: the careful reading says what and where
            assets[name] = _asset(name, raw[name], shape.at(name))
    return Lock(assets)


def _entries_span(data: bytes) -> tuple[int, int] | None:
    """Where the entries of a lock file's bytes are (data[lo:hi]), when it has `_HEAD` and `_TAIL`
    around at least one entry, as assetgen writes it."""
    lo, hi = len(_HEAD_BYTES), len(data) - len(_TAIL_BYTES)
    ok = hi > lo and data.startswith(_HEAD_BYTES) and data.endswith(_TAIL_BYTES)
    return (lo, hi) if ok else None


def _member(name: str, text: str) -> dict[str, Any] | None:
    """The entry `text` read alone, as the object of its one member, `name`'s; None when it is not
    one whole JSON member of that name."""
    try:
        raw = statefiles.parse_json_text("{" + text + "}")
    except statefiles.Damaged:
        return None
    return raw if isinstance(raw, dict) and len(raw) == 1 and name in raw else None


def read_some(root: Path, names: Iterable[str]) -> Lock | None:
    """The lock file with only the entries of `names` read; the others are kept as the file's bytes
    (`others`), written back as they are. Only for a lock file assetgen wrote (its hash is
    recorded: its text is entries as `_block` writes them, sorted by name), and None when anything
    is amiss: the caller then reads the whole file. Each wanted entry is found by a binary search
    over the entries' keys and decoded alone; the others are split apart only when asked for one
    by one (a full rewrite; a small build writes them in runs, a plan never)."""
    try:
        data, st = statefiles.read_state_stat(root / LOCK_FILE)
    except (OSError, statefiles.Damaged):
        return None
    data = _lf(data)
    span = _entries_span(data)
    if span is None or not _written_by_us(root, st, data):
        return None
    lo, hi = span
    assets: dict[str, LockAsset] = {}
    blocks: dict[str, tuple[LockAsset, str]] = {}
    spans: dict[str, tuple[int, int]] = {}
    at = lo
    for name in sorted(set(names)):
        try:
            start, found = _seek(data, lo, hi, at, name)
            if not found:
                continue
            end = data.find(_SEP, start, hi)
            end = hi if end < 0 else end
            block = data[start:end].decode("utf-8")
            raw = _member(name, block)
            if raw is None:
                return None
            asset = _quick_asset(name, raw[name])
        except (ValueError, statefiles.Damaged, _Slow, KeyError, TypeError):
            return None
        assets[name] = asset
        blocks[name] = (asset, block)
        spans[name] = (start, end)
        at = end + 2
    return Lock(assets, blocks, Unread(data, lo, hi, spans), Known.of(st))


class Unread(Mapping[str, str]):
    """Name -> text of the entries `read_some` left unread: the file's bytes, split into entries
    (and decoded) when first asked for one by one."""

    def __init__(self, data: bytes, lo: int, hi: int, spans: dict[str, tuple[int, int]]) -> None:
        self._data = data
        self._lo, self._hi = lo, hi     # the entries are data[lo:hi], joined by ",\n"
        self._spans = spans             # the read entries: name -> where it is in data
        self._entries: dict[str, str] | None = None

    @property
    def spans(self) -> Mapping[str, tuple[int, int]]:
        """The entries read: name -> where it is in the file."""
        return self._spans

    def text(self) -> str:
        """The unread entries' text, together (to search)."""
        view = memoryview(self._data)
        return b"".join(view[a:b] for a, b in self._runs()).decode("utf-8")

    def holds(self, needles: Iterable[str]) -> bool:
        """Whether the text of an unread entry holds one of `needles`."""
        data, runs = self._data, self._runs()
        return any(data.find(n.encode("utf-8"), a, b) >= 0 for n in needles for a, b in runs)

    def _runs(self) -> list[tuple[int, int]]:
        """Where the unread entries are in the bytes: between the read ones."""
        cuts = [self._lo, *(at for span in self._spans.values() for at in span), self._hi]
        return list(zip(cuts[::2], cuts[1::2], strict=True))

    def layout(self, names: list[str]) -> list[memoryview | str] | None:
        """The file's entries in order with the read ones replaced by the entries `names` (sorted):
        a run of unread entries (the file's bytes, a view of them: not copied) or a name of
        `names`, found by a binary search for each name that is new. None when the text was split
        already, or a name of `names` is also an unread entry's."""
        if self._entries is not None:
            return None
        data, lo, hi = self._data, self._lo, self._hi
        view = memoryview(data)
        found: list[memoryview | str] = []
        at = lo             # where the next entry not yet placed starts (hi + 2: none)
        wanted = set(names)
        try:
            for name in sorted(wanted | self._spans.keys()):
                span = self._spans.get(name)
                if span is None:
                    start, taken = _seek(data, lo, hi, at, name)
                    if taken:
                        return None
                    end = start - 2     # the new entry goes before the one at `start`
                else:
                    start, end = span
                if start > at:
                    found.append(view[at:start - 2])
                if name in wanted:
                    found.append(name)
                at = end + 2
        except ValueError:
            return None
        if at < hi:
            found.append(view[at:hi])
        return found

    def _split(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = _entries(self._data, self._lo, self._hi, frozenset(self._spans))
        return self._entries

    def __getitem__(self, name: str) -> str:
        return self._split()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._split()

    def keys(self) -> KeysView[str]:
        return self._split().keys()

    def items(self) -> ItemsView[str, str]:
        return self._split().items()

    def values(self) -> ValuesView[str]:
        return self._split().values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._split())

    def __len__(self) -> int:
        return len(self._split())


def _seek(data: bytes, lo: int, hi: int, at: int, name: str) -> tuple[int, bool]:
    """In the entries data[lo:hi] (joined by ",\n", sorted by name), where the first entry at or
    after `at` whose name does not sort before `name` starts (hi + 2: none), and whether its name
    is `name`: a binary search over the bytes. ValueError: a key that is not JSON."""
    first = top = hi + 2
    while at < top:
        mid = (at + top) // 2
        start = _entry_from(data, lo, hi, mid)
        if start >= top:        # no entry starts in [mid, top)
            top = mid
            continue
        found = _key_at(data, start)
        if found == name:
            return start, True
        if found > name:
            first = top = start
        else:
            at = start + 1
    return first, False


def _entry_from(data: bytes, lo: int, hi: int, at: int) -> int:
    """The start of the first entry of data[lo:hi] at or after `at` (hi + 2: none)."""
    if at <= lo:
        return lo
    sep = data.find(_SEP, at - 2, hi)
    return sep + 2 if sep >= 0 else hi + 2


def _key_at(data: bytes, at: int) -> str:
    """The key of the entry whose line starts at `at` (ValueError: not JSON)."""
    end = data.find(b'": {', at + 5)
    name = data[at + 5:end]
    if end < 0 or b"\\" in name or b'"' in name:     # an escape in the name: JSON decodes it
        line = data[at + 4:data.find(b"\n", at + 4)].decode("utf-8")
        decoded: str = json.JSONDecoder().raw_decode(line)[0]
        return decoded
    return name.decode("utf-8")


def _entries(data: bytes, lo: int, hi: int, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Name -> text of each entry of the entries data[lo:hi] of a lock file's bytes that assetgen
    wrote (entries are the lines indented by four spaces that start a key), but those in `skip`;
    each decoded alone (the entries are not copied whole first). ValueError: a key that is not
    JSON, or bytes that are not UTF-8."""
    found: dict[str, str] = {}
    start = lo
    while start < hi:
        end = data.find(_SEP, start, hi)
        end = hi if end < 0 else end
        name = _key_at(data, start)
        if name not in skip:
            found[name] = data[start:end].decode("utf-8")
        start = end + 2
    return found


def _written_by_us(root: Path, st: os.stat_result, data: bytes) -> bool:
    """Whether the lock file, read as `data` with the stat `st` (taken once it was read), is the
    one assetgen last wrote: the stat recorded then (or, in a record of an earlier version, the
    sha256 of its bytes)."""
    try:
        record = statefiles.read_json(root / ".assetgen" / TEXT_RECORD, max_bytes=4096)
    except (OSError, statefiles.Damaged):
        return False
    if not isinstance(record, dict):
        return False
    if "stat" in record:
        return record["stat"] == list(Known.of(st).stat)
    sha = record.get("sha256")
    return isinstance(sha, str) and hashlib.sha256(data).hexdigest() == sha


def unreadable(path: Path, why: str) -> str:
    name = _shown(path)
    return (f"{name}: error: cannot read the lock file: {why}. Nothing was run. Restore it "
            f"(`git checkout -- {name}`), or delete it and build again: the build then takes what the "
            "cache holds and calls the API for the rest")


def _shown(path: Path) -> str:
    """The path as the user would type it: relative to the current folder when below it."""
    try:
        shown = os.path.relpath(path)
    except ValueError:      # another drive
        return str(path)
    return str(path) if shown.startswith("..") else shown


def write(root: Path, lock: Lock) -> bool:
    """Write the lock file when its text changed (durably: synced to disk); True when it was
    written."""
    writing = Writing(root, lock)
    try:
        writing.sync()
    except BaseException:
        writing.abort()
        raise
    written = writing.place()
    writing.record()
    return written


class Writing:
    """`write` in steps: the text written to a temp file beside the lock file (a lock read from the
    file assetgen wrote, which is still there, tells whether its text is the file's without reading
    the file again); synced to disk (`sync`) and put in place (`place`, True when the file was
    written), which another thread may do while this one goes on, or left (`abort`); then recorded
    (`record`)."""

    def __init__(self, root: Path, lock: Lock) -> None:
        self.root = root
        path = root / LOCK_FILE
        same = lock.as_read()
        self.pending: Pending | None = None
        self.known = lock.file      # the file in place, when it holds the text already
        if same is not None and lock.file is not None and lock.file.holds(path):
            if not same:
                self.pending = Pending.write(path, lock.chunks(), differs=True)
        else:
            self.pending = Pending.write(path, lock.chunks())

    def sync(self) -> None:
        if self.pending is not None:
            self.pending.sync()

    def place(self) -> bool:
        if self.pending is None:
            return False
        pending, self.pending = self.pending, None
        self.known, written = pending.finish()
        return written

    def abort(self) -> None:
        if self.pending is not None:
            self.pending.abort()
            self.pending = None

    def record(self) -> None:
        if self.known is not None:
            _record(self.root, self.known)


def entry_texts(lock: Lock) -> Iterator[tuple[str, str]]:
    """Each entry of a lock read whole or made here as (name, its text in the file), by name."""
    for name in sorted(lock.assets):
        yield name, lock._entry_text(name)


def write_merged(root: Path, runs: Iterable[Iterable[tuple[str, str]]]) -> None:
    """The lock file of the entries of `runs` (each a run of (name, text) sorted by name; no name in
    two), written whole a part at a time and put in place, and recorded as assetgen's: a build in
    parts (`run.parts`) keeps the entries of the parts it built as their text."""
    import heapq

    def pieces() -> Iterator[str]:
        first = True
        for _, text in heapq.merge(*runs, key=lambda entry: entry[0]):
            yield _HEAD if first else ",\n"
            yield text
            first = False
        if first:       # no entry
            yield json.dumps({"version": LOCK_VERSION, "assets": {}}, indent=2, sort_keys=True) + "\n"
        else:
            yield _TAIL

    pending = Pending.write(root / LOCK_FILE, text_chunks(pieces()))
    try:
        pending.sync()
    except BaseException:
        pending.abort()
        raise
    known, _ = pending.finish()
    if known is not None:
        _record(root, known)


def claim(root: Path, lock: Lock) -> bool:
    """Record the lock file as one assetgen wrote when `lock` was read from it whole and it is laid
    out as assetgen writes it (every entry found where `read_some` looks for it, and read and
    checked alone) and is still there: a lock file another checkout's assetgen wrote, brought by a
    pull or a clone, that a build leaves as it is. The next build after a small change then reads
    only the entries it needs instead of taking the full path again; the other entries' text is
    written back as it is. True when recorded."""
    known = lock.laid_out
    if lock.file is not None or known is None or not known.holds(root / LOCK_FILE):
        return False
    _record(root, known)
    return True


def _record(root: Path, known: Known) -> None:
    """Remember what the lock file assetgen just wrote is (best effort: without it, the next build
    reads the whole file and encodes every entry). Not synced to disk: a record lost or left old
    by a crash names another file, and is ignored."""
    state = root / ".assetgen"
    body = json.dumps({"stat": list(known.stat)}).encode("utf-8")
    try:
        if state.is_symlink() or (state / TEXT_RECORD).is_symlink():
            return
        if (state / TEXT_RECORD).read_bytes() == body:
            return
    except OSError:
        pass
    try:
        write_atomic(state / TEXT_RECORD, body, durable=False)
    except OSError:
        return


class _Shape:
    """Reads one JSON value into lock types, with the key path of the first thing that is wrong."""

    def __init__(self, where: str) -> None:
        self.where = where

    def at(self, key: str | int) -> _Shape:
        return _Shape(f"{self.where}[{key!r}]" if isinstance(key, str) else f"{self.where}[{key}]")

    def fail(self, what: str) -> statefiles.Damaged:
        return statefiles.Damaged(f"{self.where} {what}")

    def obj(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail("is not an object")
        return value

    def field(self, value: dict[str, Any], key: str) -> Any:
        if key not in value:
            raise self.fail(f"has no {key!r}")
        return value[key]

    def array(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail("is not a list")
        return value

    def text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail("is not a string")
        return value

    def opt_str(self, value: Any) -> str | None:
        return None if value is None else self.text(value)

    def flag(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail("is not true or false")
        return value

    def sha(self, value: Any) -> str:
        if not statefiles.is_sha(value):
            raise self.fail("is not a sha256 (64 lowercase hex digits)")
        return str(value)

    def path(self, value: Any) -> str:
        if not statefiles.is_relative(value):
            raise self.fail("is not a path inside the project")
        return str(value)

    def quality(self, value: Any) -> int | None:
        if value is not None and not (statefiles.is_count(value) and value <= 100):
            raise self.fail("is not a quality from 0 to 100")
        return value

    def param(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self.text(k): self.at(k).param(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.at(i).param(v) for i, v in enumerate(value)]
        if value is None or isinstance(value, str | bool) or statefiles.is_number(value):
            return value
        raise self.fail("is not a request parameter")


def _lock(data: Any) -> Lock:
    top = _Shape("the file")
    body = top.obj(data)
    version = body.get("version")
    if version != LOCK_VERSION:
        raise statefiles.Damaged(f"unsupported lock version {version!r} (this assetgen reads {LOCK_VERSION})")
    shape = _Shape("assets")
    raw = shape.obj(top.field(body, "assets"))
    assets = {}
    for name, value in raw.items():
        try:
            assets[name] = _quick_asset(name, value)
        except _Slow:   # something is wrong: the careful reading says what and where
            assets[name] = _asset(name, value, shape.at(name))
    return Lock(assets)


class _Slow(Exception):
    """The quick reading met something it does not take; the careful one decides."""


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Slow
    return value


def _opt(value: Any) -> str | None:
    return None if value is None else _str(value)


def _sha(value: Any) -> str:
    if not statefiles.is_sha(value):
        raise _Slow
    return str(value)


def _param_ok(value: Any) -> bool:
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and _param_ok(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_param_ok(v) for v in value)
    return statefiles.is_number(value)


def _quick_asset(name: str, raw: Any) -> LockAsset:
    """What `_asset` reads, for an entry that has the right shape (without its messages)."""
    try:
        steps = tuple(_quick_step(s) for s in raw["steps"]) if isinstance(raw["steps"], list) else None
        outs = raw["outputs"]
        recipe = raw["recipe"]
    except (KeyError, TypeError):
        raise _Slow from None
    if steps is None or not isinstance(outs, dict):
        raise _Slow
    outputs = tuple(_quick_output(p, o) for p, o in sorted(outs.items()))
    return LockAsset(name, _str(recipe), steps, outputs)


def _quick_step(s: Any) -> LockStep:
    try:
        params, inputs, results = s["params"], s["inputs"], s["results"]
        op, provider, model, prompt, key = s["op"], s["provider"], s["model"], s["prompt"], s["key"]
    except (KeyError, TypeError):
        raise _Slow from None
    if not (isinstance(params, dict) and isinstance(inputs, list) and isinstance(results, list)
            and _param_ok(params)):
        raise _Slow
    return LockStep(op=_str(op), provider=_str(provider), model=_str(model), prompt=_str(prompt),
                    params=tuple(sorted(params.items())), inputs=tuple(_quick_input(i) for i in inputs),
                    key=_sha(key), results=tuple(_sha(r) for r in results))


def _quick_input(i: Any) -> LockInput:
    if not isinstance(i, dict):
        raise _Slow
    try:
        role, sha = i["role"], i["sha256"]
    except KeyError:
        raise _Slow from None
    file = i.get("file")
    if file is not None and not statefiles.is_relative(file):
        raise _Slow
    return LockInput(_str(role), _sha(sha), file, _opt(i.get("asset")))


def _quick_output(path: str, o: Any) -> LockOutput:
    if not isinstance(o, dict) or not statefiles.is_relative(path):
        raise _Slow
    quality = o.get("quality")
    adopted = o.get("adopted", False)
    if (quality is not None and not (statefiles.is_count(quality) and quality <= 100)) \
            or not isinstance(adopted, bool):
        raise _Slow
    try:
        fmt, source, key, sha = o["format"], o["source"], o["key"], o["sha256"]
    except KeyError:
        raise _Slow from None
    return LockOutput(path=path, format=_str(fmt), quality=quality, resize=_opt(o.get("resize")),
                      fit=_opt(o.get("fit")), source=_sha(source), key=_sha(key), sha256=_sha(sha),
                      adopted=adopted)


def _asset(name: str, raw: Any, shape: _Shape) -> LockAsset:
    body = shape.obj(raw)
    steps = tuple(_step(s, shape.at("steps").at(i))
                  for i, s in enumerate(shape.at("steps").array(shape.field(body, "steps"))))
    outs = shape.at("outputs").obj(shape.field(body, "outputs"))
    outputs = tuple(_output(p, o, shape.at("outputs").at(p)) for p, o in sorted(outs.items()))
    return LockAsset(name, shape.at("recipe").text(shape.field(body, "recipe")), steps, outputs)


def _step(raw: Any, shape: _Shape) -> LockStep:
    s = shape.obj(raw)
    params = shape.at("params").obj(shape.field(s, "params"))
    inputs = shape.at("inputs").array(shape.field(s, "inputs"))
    results = shape.at("results").array(shape.field(s, "results"))
    return LockStep(op=shape.at("op").text(shape.field(s, "op")),
                    provider=shape.at("provider").text(shape.field(s, "provider")),
                    model=shape.at("model").text(shape.field(s, "model")),
                    prompt=shape.at("prompt").text(shape.field(s, "prompt")),
                    params=tuple(sorted((k, shape.at("params").at(k).param(v)) for k, v in params.items())),
                    inputs=tuple(_input(i, shape.at("inputs").at(n)) for n, i in enumerate(inputs)),
                    key=shape.at("key").sha(shape.field(s, "key")),
                    results=tuple(shape.at("results").at(n).sha(r) for n, r in enumerate(results)))


def _input(raw: Any, shape: _Shape) -> LockInput:
    i = shape.obj(raw)
    file = i.get("file")
    return LockInput(shape.at("role").text(shape.field(i, "role")),
                     shape.at("sha256").sha(shape.field(i, "sha256")),
                     None if file is None else shape.at("file").path(file),
                     shape.at("asset").opt_str(i.get("asset")))


def _output(path: str, raw: Any, shape: _Shape) -> LockOutput:
    o = shape.obj(raw)
    shape.path(path)
    return LockOutput(path=path, format=shape.at("format").text(shape.field(o, "format")),
                      quality=shape.at("quality").quality(o.get("quality")),
                      resize=shape.at("resize").opt_str(o.get("resize")),
                      fit=shape.at("fit").opt_str(o.get("fit")),
                      source=shape.at("source").sha(shape.field(o, "source")),
                      key=shape.at("key").sha(shape.field(o, "key")),
                      sha256=shape.at("sha256").sha(shape.field(o, "sha256")),
                      adopted=shape.at("adopted").flag(o.get("adopted", False)))
