"""A changed recipe file with a large matrix, loaded in part: only the variants whose matrix values
the last build did not have are rendered and planned.

When the file's definition (its data without the matrix value lists, `recipe.reuse`) is the one
the variant cache (`run.varcache`) holds for the last complete build, a variant with the same
values is the variant that build made: its outputs and lock entry stand, and only its index record
is carried over. The new values are checked as the schema would (each list non-empty, every value
a string, number or boolean) and every check of the file and its assets is still made; so the
full path's JSON Schema pass is skipped, not the file's checks. The variants are kept only when
nothing can make one depend on another or on the number of renders: no file refers to this file's
variants, none of its variants refers to another, and every template of its assets renders
without spending the file's step budget (plain `{{ name }}` substitutions). Otherwise, and for
anything the cache cannot answer, the file is loaded whole (and its definition kept for the next
build).

The usual change is one value of a flow list, and the file is then not parsed at all: the cache
also keeps the text the file was last read from, with where its matrix lists lie and their values
(`recipe.splice`; kept whenever this module reads the file, not by a full build, which does not
keep the text it loaded: the first change after one reads the file whole). A new text that differs
from it only inside one list, value for value, is read on that basis, and only the combinations of
the changed values get new keys (`reuse.combo_keys`): the others keep the cache's, at the
positions the cache has them (each changed position's old key is checked against the cache's).
Its asset must be a plain product (no `exclude` anywhere in the file, no `include` in it), its new
values all new; anything else is read and parsed whole, as before. The variant cache itself is
kept a column at a time (`run.varcache`): the kept variants are ranges of it, never decoded one by
one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct, structs

from assetgen.recipe import reuse, splice
from assetgen.recipe.convert import FileResult, Params
from assetgen.recipe.model import Recipe
from assetgen.run import varcache
from assetgen.run.index import FileEntry, VariantRecord, combine, records
from assetgen.run.varcache import FileVariants, Part

if TYPE_CHECKING:
    from assetgen.run.prepare import Prepared

PROJECT_FILE = "assetgen.yaml"
VERSION = 1             # of what the variant cache holds and how it is keyed
MIN_VARIANTS = 32       # a full build records the definition of files with at least this many variants


class Kept(Struct, frozen=True, dict=True):
    """A recipe file as a build after a small change loaded it: its definition, every variant's
    values in the file's order, and which of them are the variants the last build made, kept as
    they were (none when it was loaded whole)."""

    definition: str
    order: Sequence[str]
    cached: FileVariants | None = None      # the variants of the last build (None: none kept)
    parts: tuple[Part, ...] = ()            # `order` as ranges of `cached` kept and variants made now
    basis: splice.Basis | None = None       # the text the file was read from (`recipe.splice`)
    spliced: bool = False                   # read on the basis of the last text, its lists not parsed

    @functools.cached_property
    def some(self) -> bool:
        """Whether a variant is kept."""
        return any(type(p) is range and p for p in self.parts)

    @functools.cached_property
    def entry(self) -> FileEntry:
        """The kept variants' part of the file's index entry."""
        if self.cached is None:
            return combine(())
        return self.cached.rebuilt([p for p in self.parts if type(p) is range], {}).entry

    def rows(self) -> Iterator[tuple[str, VariantRecord | None]]:
        """Each variant's values, in the file's order, with its record when it is kept."""
        for part in self.parts:
            if type(part) is range:
                assert self.cached is not None
                for at in part:
                    yield self.cached.keys[at], self.cached.record(at)
            else:
                assert isinstance(part, str)
                yield part, None

    def merged(self, recipe: Recipe, plan_assets: Mapping[str, Any]) -> FileVariants | None:
        """The file's variants after this build: kept ones and the ones `recipe` holds now."""
        made = {}
        for variant, record in zip(recipe.variants, records(recipe, plan_assets), strict=True):
            key = reuse.combo_key(variant.asset, variant.values)
            if key is None:
                return None
            made[key] = record
        basis = self.basis.to_json() if self.basis is not None else None
        if self.cached is None:
            if not made.keys() >= set(self.order):
                return None
            found = [made[k] for k in self.order]
            whole = varcache.from_records(self.definition, self.order, found, combine(found))
            return structs.replace(whole, basis=basis)
        try:
            return structs.replace(self.cached.rebuilt(self.parts, made), basis=basis)
        except KeyError:
            return None


class Loaded(Struct, frozen=True):
    result: FileResult          # the variants rendered now (all of the file's without `kept`)
    kept: Kept | None           # None: the file's definition is not known (not kept in the cache)


def load(root: Path, rel: str, params: Params, cached: FileVariants | None) -> Loaded:
    """The file, in part when `cached` (its variants as the last build made them, or None) allows."""
    from assetgen.recipe import limits
    from assetgen.recipe.load import convert_doc, read_doc

    try:
        data: bytes | None = (root / rel).read_bytes()
    except OSError:
        data = None
    if data is not None and len(data) > limits.MAX_FILE_BYTES:
        data = None     # read again, to say so
    if cached is not None and cached.basis is not None and data is not None:
        spliced = _spliced(root, rel, params, cached, data)
        if spliced is not None:
            return spliced
    doc = read_doc(root, rel, data)
    if isinstance(doc, FileResult):
        return Loaded(doc, None)
    definition = reuse.definition(doc.data)
    if definition is None:
        return Loaded(convert_doc(root, doc, params), None)
    assert data is not None
    basis = splice.basis(data.decode("utf-8"), doc)
    if cached is not None and cached.definition == definition:
        old = {key: at for at, key in enumerate(cached.keys)}
        part = reuse.convert_part(root, doc, params, old)
        if part is not None:
            return Loaded(part.result, Kept(definition, part.order, cached, _parts(part.order, old), basis))
    result = convert_doc(root, doc, params)
    order = reuse.variant_keys(result.variants)
    keys = [k for k in order if k is not None]
    if len(set(keys)) != len(order):
        return Loaded(result, None)
    return Loaded(result, Kept(definition, keys, basis=basis))


def _spliced(root: Path, rel: str, params: Params, cached: FileVariants, data: bytes) -> Loaded | None:
    """The file read on the basis the cache keeps of its last text (`recipe.splice`), with only the
    variants of the values that changed rendered; None when that cannot say."""
    from assetgen.recipe.expand import Product
    from assetgen.recipe.load import convert_doc

    old = splice.Basis.from_json(cached.basis)
    try:
        edit = splice.read(old, data.decode("utf-8"), rel) if old is not None else None
    except UnicodeDecodeError:
        edit = None
    if edit is None or old is None:
        return None
    data_ = edit.doc.data
    if reuse.definition(data_) != cached.definition or not reuse.costs_nothing(data_) \
            or any(isinstance(a, dict) and "exclude" in a for a in data_["assets"].values()):
        return None     # (exclude rules are checked against every value of the lists)
    starts: dict[str, tuple[int, int]] = {}
    at = 0
    for asset, names in cached.entry.assets.items():
        starts[asset] = (at, len(names))
        at += len(names)
    order = list(cached.keys)
    fresh: list[int] = []
    wanted: dict[str, list[int]] = {}
    for (asset, key), positions in edit.changed.items():
        spec = data_["assets"][asset]
        if spec.get("exclude") or spec.get("include") or asset not in starts:
            return None
        before = dict(spec["matrix"])
        before[key] = old.column(asset, key)
        now, then = Product(spec["matrix"]), Product(before)
        start, count = starts[asset]
        if len(now) != count:
            return None
        picked = now.having(key, positions)
        new_keys = reuse.combo_keys(asset, [now[i] for i in picked])
        old_keys = reuse.combo_keys(asset, [then[i] for i in picked])
        for i, new_key, old_key in zip(picked, new_keys, old_keys, strict=True):
            if new_key is None or order[start + i] != old_key:
                return None     # not the variant the cache has there
            order[start + i] = new_key
            fresh.append(start + i)
        wanted[asset] = picked
    if len(set(order)) != len(order):
        return None     # the same values twice: the full path says where
    result = convert_doc(root, edit.doc, params, lambda asset, _: wanted.get(asset, ()), checked=True)
    if any(map(reuse.refers, result.variants)):
        return None
    parts: list[Part] = []
    lo = 0
    for at in sorted(fresh):
        parts += [range(lo, at), order[at]]
        lo = at + 1
    parts.append(range(lo, len(order)))
    return Loaded(result, Kept(cached.definition, order, cached, tuple(parts), edit.basis, spliced=True))


def _parts(order: Sequence[str], old: Mapping[str, int]) -> tuple[Part, ...]:
    """`order` as runs of the positions `old` gives its values (kept) and values it does not have."""
    parts: list[Part] = []
    lo = hi = 0
    for key in order:
        at = old.get(key)
        if at is not None and at == hi:
            hi += 1
            continue
        if hi > lo:
            parts.append(range(lo, hi))
        if at is None:
            lo = hi = 0
            parts.append(key)
        else:
            lo, hi = at, at + 1
    if hi > lo:
        parts.append(range(lo, hi))
    return tuple(parts)


def after_build(prep: Prepared, entries: dict[str, FileEntry], inputs: Mapping[str, Any],
                made: Mapping[str, Sequence[VariantRecord]] | None = None
                ) -> tuple[dict[str, FileEntry] | None, str, dict[str, Any]]:
    """(the build index entries, the environment, the variant cache) after a complete build: the
    entries of files loaded in part made whole (None when one cannot be), and the variants of every
    file whose definition this build knows (a file loaded whole by a full build: when it has at
    least MIN_VARIANTS variants, the definition the loader kept, else read again from the bytes it
    was loaded from).
    `inputs`: the stats taken right after loading. `made`: the variant records of the files
    `cacheable` picks, as the build index was made from (else they are made again)."""
    recipes = {r.path: r for r in prep.project.recipes}
    root = prep.project.root
    if prep.rest is not None:
        by_name = {a.name: a for a in prep.plan.assets}
        files: dict[str, Any] = dict(prep.rest.carried)
        env = prep.rest.env
        for rel, kept in prep.rest.kept.items():
            made_here = kept.merged(recipes[rel], by_name)
            if made_here is None:
                if kept.some:
                    return None, env, {}
                continue
            files[rel] = made_here
            entries[rel] = made_here.entry
        return entries, env, files if env else {}
    files = {}
    plan_assets: dict[str, Any] | None = None
    for recipe in prep.project.recipes:
        if not cacheable(recipe):
            continue
        definition = recipe.definition or _definition_of(root, recipe.path, inputs.get(recipe.path))
        if definition is None:
            continue
        order = reuse.variant_keys(recipe.variants)
        keys = [k for k in order if k is not None]
        if len(set(keys)) != len(order):
            continue
        found = made.get(recipe.path) if made is not None else None
        if found is None:
            if plan_assets is None:
                plan_assets = {a.name: a for a in prep.plan.assets}
            found = records(recipe, plan_assets)
        files[recipe.path] = varcache.from_records(definition, keys, found, entries[recipe.path])
    return entries, environment(root) if files else "", files


def cacheable(recipe: Recipe) -> bool:
    """Whether the variant cache may keep the variants of `recipe`: a matrix of MIN_VARIANTS or more."""
    return len(recipe.variants) >= MIN_VARIANTS and any(v.values for v in recipe.variants)


def environment(root: Path) -> str:
    """The fingerprint the variant cache is read and written with: what turns a definition and
    values into a variant (the recipe code, as `recipe.filecache` tells it, PyYAML, and the files
    of Jinja2 and of the JSON Schema library the definition passed), and the project file."""
    import hashlib
    import importlib.util
    import json
    import os

    import yaml

    from assetgen import __version__
    from assetgen.recipe.filecache import CODE

    parts: list[Any] = [VERSION, __version__, yaml.__version__]
    libraries = [importlib.util.find_spec(name) for name in ("jinja2", "jsonschema")]   # not imported
    for path in (*CODE, *(s.origin if s is not None else None for s in libraries)):
        try:
            st = os.stat(path) if path is not None else None
        except OSError:
            st = None
        parts.append([str(path), st.st_size, st.st_mtime_ns] if st is not None else None)
    try:
        parts.append(hashlib.sha256((root / PROJECT_FILE).read_bytes()).hexdigest())
    except OSError:
        parts.append(None)
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def _definition_of(root: Path, rel: str, loaded: Any) -> str | None:
    """The definition of the file as it was loaded (its stat unchanged since), or None."""
    from assetgen.recipe.load import read_doc
    from assetgen.run.stamp import stats

    if loaded is None or stats(root, [rel])[rel] != loaded:
        return None
    doc = read_doc(root, rel)
    if isinstance(doc, FileResult) or stats(root, [rel])[rel] != loaded:
        return None
    return reuse.definition(doc.data)
