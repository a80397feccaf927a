"""What each recipe file's bytes produced, kept in `.assetgen/recipe-cache.json` between runs.

Loading a recipe (YAML with positions, JSON Schema, templates, matrix expansion) is most of what
`lint`, `plan` and a build that misses the stamp cost. The result of one file depends only on its
bytes, the project file, and assetgen and the libraries that read it; so each file's variants,
diagnostics and names are stored under its content hash, with the fingerprint of everything else
(`environment`). A later run reuses a file whose bytes are unchanged (told by its stat, like the
stat cache, or by re-hashing it) and loads only the files that changed.

The cache is safe to lose and safe when damaged: its first line is the sha256 of the rest, so a
damaged byte anywhere (a changed digit of a pick or a size would otherwise be a wrong, paid call)
makes the whole file ignored; what passes is validated too, and anything wrong (another format,
another fingerprint, an entry that does not decode) is ignored and loaded afresh.
It holds plain JSON, never code. Paths are checked again against the file system on every reuse
(a folder may have become a symlink out of the project since), and a file whose values JSON cannot
hold exactly (a YAML mapping with number keys, a date) is simply not cached.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from assetgen import statefiles
from assetgen.errors import Diagnostic, Location, Severity
from assetgen.recipe.model import Fit, ImageRef, Op, Output, Step, Variant

CACHE_FILE = "recipe-cache.json"
FORMAT = 3
_HERE = Path(__file__).resolve().parent
# the code whose behaviour a cached result records: a changed file here (a development install
# keeps its version number) is another fingerprint
_CODE = (*sorted(_HERE.glob("*.py")), _HERE.parent / "catalog.py", _HERE.parent / "project.py",
         *sorted((_HERE.parent / "data").glob("**/*.json")))
CODE = _CODE    # (the variant cache, `run.partial`, is read with the same code's fingerprint)
_LIBRARIES = ("PyYAML", "Jinja2", "jsonschema")


class _Unsupported(Exception):
    """A value JSON cannot hold exactly."""


def environment(project_file: bytes | None) -> str:
    """The fingerprint of everything besides a recipe's bytes that can change what it loads to."""
    from importlib import metadata

    from assetgen import __version__

    parts: list[Any] = [FORMAT, __version__]
    for path in _CODE:
        try:
            st = os.stat(path)
        except OSError:
            continue
        parts.append([path.name, st.st_size, st.st_mtime_ns])
    for name in _LIBRARIES:
        try:
            parts.append(metadata.version(name))
        except metadata.PackageNotFoundError:
            parts.append(None)
    parts.append(hashlib.sha256(project_file).hexdigest() if project_file is not None else None)
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


class RecipeCache:
    """Per recipe file: its stat, content hash and the encoded load result."""

    def __init__(self, state_dir: Path, env: str, held: dict[str, str] | None = None) -> None:
        """`held`: the entries of some files (`texts` of another cache: a build in parts,
        `run.parts`), not read from the file; such a cache is for reading, never saved."""
        self._file = state_dir / CACHE_FILE
        self._env = env
        # never read or written through a symbolic link (it would lead out of the project)
        self._enabled = not (state_dir.is_symlink() or self._file.is_symlink())
        # per file the JSON text of [stat, sha256, result], as read or as this run stored it: decoded
        # only while it is looked up (the results of a large project are never held as nested lists,
        # which take twelve times the text), and written as they are
        self._entries: dict[str, str] = held if held is not None else \
            _read(self._file, env) if self._enabled else {}
        self._dirty = False
        self._partial = held is not None
        self._used: set[str] = set()
        self._stamps: dict[str, list[int]] = {}    # taken before the bytes were read

    def lookup(self, root: Path, rel: str, max_bytes: int) -> tuple[dict[str, Any] | None, bytes | None]:
        """(the stored result, None) for an unchanged file; else (None, the file's bytes, or None
        when it cannot be read or is larger than `max_bytes`: the loader reports that)."""
        self._used.add(rel)
        entry = self._entry(rel)
        try:
            st = os.stat(root / rel)
        except OSError:
            return None, None
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        if entry is not None and entry[0] == stamp:
            return entry[2], None
        if st.st_size > max_bytes:
            return None, None
        try:
            data = (root / rel).read_bytes()
        except OSError:
            return None, None
        self._stamps[rel] = stamp
        if entry is not None and entry[1] == hashlib.sha256(data).hexdigest():
            self._entries[rel] = _dumps([stamp, entry[1], entry[2]])     # touched, not changed
            self._dirty = True
            return entry[2], None
        return None, data

    def _entry(self, rel: str) -> list[Any] | None:
        """The entry of `rel` decoded, when there is one of its shape (a damaged one is dropped)."""
        text = self._entries.get(rel)
        if text is None:
            return None
        try:
            entry = statefiles.load_json(text)
        except (ValueError, RecursionError):
            entry = None
        if (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], list)
                and isinstance(entry[1], str) and isinstance(entry[2], dict)):
            return entry
        self.forget(rel)
        return None

    def store(self, rel: str, data: bytes, result: dict[str, Any] | None) -> None:
        """Remember what `data` (the bytes `lookup` read) produced; None: not cacheable. The stat
        is the one taken before reading, so a file changed meanwhile is re-hashed next time."""
        stamp = self._stamps.get(rel)
        if result is None or stamp is None:
            self._entries.pop(rel, None)
        else:
            self._entries[rel] = _dumps([stamp, hashlib.sha256(data).hexdigest(), result])
        self._dirty = True

    def texts(self, files: Iterable[str]) -> dict[str, str]:
        """The entries of `files` as this cache holds them (for a cache made with `held`)."""
        return {rel: self._entries[rel] for rel in files if rel in self._entries}

    def forget(self, rel: str) -> None:
        """A stored result that no longer holds (it failed a check on reuse)."""
        if self._entries.pop(rel, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the cache when it changed, dropping files no longer loaded. Best effort: a
        read-only project still loads, only not incrementally."""
        if not self._enabled or self._partial:
            return
        gone = set(self._entries) - self._used
        for rel in gone:
            del self._entries[rel]
        if not (self._dirty or gone):
            return
        from assetgen.atomic import text_chunks, write_atomic_from

        digest = hashlib.sha256()
        for chunk in text_chunks(self._pieces()):
            digest.update(chunk)
        try:     # the text of the whole body as one `json.dumps` writes it, a part at a time
            write_atomic_from(self._file, itertools.chain([digest.hexdigest().encode("ascii") + b"\n"],
                                                          text_chunks(self._pieces())))
        except OSError:
            return
        self._dirty = False

    def _pieces(self) -> Iterator[str]:
        head = _dumps({"format": FORMAT, "environment": self._env, "files": {}})
        yield head[:-2]     # without the closing "}}"
        for i, (rel, text) in enumerate(self._entries.items()):
            yield f"{',' if i else ''}{_dumps(rel)}:"
            yield text
        yield "}}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _checksum(payload: bytes | memoryview) -> bytes:
    return hashlib.sha256(payload).hexdigest().encode("ascii")


class _Body(msgspec.Struct):
    """The cache file's body, each file's entry left as its JSON text (`msgspec.Raw`: checked to
    be JSON, not decoded)."""
    format: Any = None
    environment: Any = None
    files: dict[str, msgspec.Raw] = {}


def _read(file: Path, env: str) -> dict[str, str]:
    try:
        data = file.read_bytes()
        cut = data.find(b"\n")
        payload = memoryview(data)[cut + 1:]   # not copied: the file of a large project is tens of MB
        if cut < 0 or data[:cut] != _checksum(payload):
            return {}
        body = msgspec.json.decode(payload, type=_Body)
    except (OSError, msgspec.MsgspecError):
        return {}
    if body.format != FORMAT or body.environment != env:
        return {}
    try:
        return {rel: bytes(raw).decode("utf-8") for rel, raw in body.files.items()}
    except UnicodeDecodeError:
        return {}


# -- encoding ------------------------------------------------------------------------------

def encode(variants: list[Variant], diagnostics: list[Diagnostic], assets: dict[str, list[str]],
           matrix_assets: set[str], skipped: set[str],
           definition: str | None = None) -> dict[str, Any] | None:
    """A file's load result as plain JSON data; None when a value cannot be held exactly."""
    files: dict[str, int] = {}
    try:
        return {
            "variants": [_variant(v, files) for v in variants],
            "diagnostics": [[_loc(d.location, files), d.severity.value, d.message] for d in diagnostics],
            "assets": {k: list(names) for k, names in assets.items()},
            "matrix_assets": sorted(matrix_assets),
            "skipped": sorted(skipped),
            "files": sorted(files, key=files.__getitem__),
            "definition": definition,
        }
    except _Unsupported:
        return None


def _loc(loc: Location, files: dict[str, int]) -> list[int]:
    return [files.setdefault(loc.file, len(files)), loc.line, loc.col]


def _plain(value: Any) -> Any:
    """`value` when JSON gives it back exactly as it is (YAML's own values: no tuples, dates,
    number keys or NaN)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unsupported
        return value
    if isinstance(value, list):
        for item in value:
            _plain(item)
        return value
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _Unsupported
            _plain(v)
        return value
    raise _Unsupported


def _ref(ref: ImageRef | None, files: dict[str, int]) -> list[Any] | None:
    return None if ref is None else [_loc(ref.location, files), ref.path, ref.asset]


def _step(step: Step, files: dict[str, int]) -> list[Any]:
    return [step.op.value, step.prompt, [[k, _plain(v)] for k, v in step.params], _loc(step.location, files),
            _ref(step.image, files), _ref(step.mask, files), [_ref(r, files) for r in step.images],
            step.pick, step.shorthand, [[k, _loc(loc, files)] for k, loc in step.param_locations],
            step.pick_missing]


def _output(out: Output, files: dict[str, int]) -> list[Any]:
    return [out.path, out.format, _loc(out.location, files), out.index, _plain(out.quality),
            list(out.resize) if out.resize else None, out.fit.value]


def _variant(v: Variant, files: dict[str, int]) -> list[Any]:
    return [v.name, v.asset, [[k, _plain(x)] for k, x in v.values], [_step(s, files) for s in v.steps],
            [_output(o, files) for o in v.outputs], _loc(v.location, files)]


class Decoded:
    """A stored load result, rebuilt."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._locs: dict[tuple[int, int, int], Location] = {}
        self._files = list(data["files"])
        self.variants = [self._variant(v) for v in data["variants"]]
        self.diagnostics = [Diagnostic(self._loc(loc), Severity(sev), str(msg))
                            for loc, sev, msg in data["diagnostics"]]
        self.assets = {str(k): [str(n) for n in names] for k, names in data["assets"].items()}
        self.matrix_assets = {str(k) for k in data["matrix_assets"]}
        self.skipped = {str(k) for k in data["skipped"]}
        definition = data.get("definition")
        self.definition = definition if type(definition) is str else None

    def _loc(self, raw: list[int]) -> Location:
        key = (raw[0], raw[1], raw[2])
        loc = self._locs.get(key)
        if loc is None:
            loc = self._locs[key] = Location(self._files[raw[0]], int(raw[1]), int(raw[2]))
        return loc

    def _ref(self, raw: list[Any] | None) -> ImageRef | None:
        return None if raw is None else ImageRef(self._loc(raw[0]), path=raw[1], asset=raw[2])

    def _step(self, raw: list[Any]) -> Step:
        op, prompt, params, loc, image, mask, images, pick, shorthand, param_locs, pick_missing = raw
        return Step(op=Op(op), prompt=str(prompt), params=tuple((str(k), v) for k, v in params),
                    location=self._loc(loc), image=self._ref(image), mask=self._ref(mask),
                    images=tuple(r for r in map(self._ref, images) if r is not None), pick=pick,
                    pick_missing=bool(pick_missing), shorthand=bool(shorthand),
                    param_locations=tuple((str(k), self._loc(x)) for k, x in param_locs))

    def _output(self, raw: list[Any]) -> Output:
        path, fmt, loc, index, quality, resize, fit = raw
        return Output(path=str(path), format=str(fmt), location=self._loc(loc), index=int(index),
                      quality=quality, resize=(int(resize[0]), int(resize[1])) if resize else None,
                      fit=Fit(fit))

    def _variant(self, raw: list[Any]) -> Variant:
        name, asset, values, steps, outputs, loc = raw
        return Variant(name=str(name), asset=str(asset), values=tuple((str(k), x) for k, x in values),
                       steps=tuple(map(self._step, steps)), outputs=tuple(map(self._output, outputs)),
                       location=self._loc(loc))


def decode(data: dict[str, Any]) -> Decoded | None:
    """The stored result, or None when it does not decode (a damaged or foreign entry)."""
    try:
        return Decoded(data)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
