"""The build index: what each recipe file contributed to the last complete build.

Written beside the build stamp (`run.stamp`), which holds its hash. Per recipe file: its variant
names, its assets (key -> variant names) and which of them have a matrix, the output paths it
writes, the input files it reads, the variants of other files it refers to, and the (shortened)
ids of its actions. With it, a build after a change to a few recipe files (`run.delta`) loads and
plans only those files (and the files that refer to them), and checks the rest of the project by
index: duplicate names and output paths, outputs that would overwrite a recipe or an input.

Like every state file it is untrusted: read with its shape checked, anything wrong ignored (the
build then takes the full path, costing time only). Its paths are only compared, never opened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, compress
from pathlib import Path
from typing import Any, NamedTuple

from assetgen import statefiles
from assetgen.atomic import text_chunks
from assetgen.plan.graph import AssetPlan, Plan
from assetgen.recipe.model import Recipe
from assetgen.recipe.refs import refs_of

INDEX_VERSION = 1
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
    """The index as `json.dumps` writes it whole (an entry, a tuple, is a JSON array), in UTF-8
    chunks of about `size` characters (512 files' entries at a time: the index of a large project
    is not held as one text)."""
    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    head = dumps({"version": INDEX_VERSION, "files": {}})[:-2]     # without the closing "}}"
    return text_chunks(chain([head], statefiles.json_members(files.items(), ascii_only=False), ["}}"]), size)


def read(root: Path, sha: str | None) -> dict[str, FileEntry] | None:
    """The index written with the stamp whose index hash is `sha`; None when absent or not that one."""
    import hashlib

    if sha is None:
        return None
    try:
        data = statefiles.read_bytes(root / ".assetgen" / "build-index.json")
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha:
        return None
    try:
        body = statefiles.load_json(data)
    except (ValueError, RecursionError):
        return None
    if not (isinstance(body, dict) and body.get("version") == INDEX_VERSION
            and isinstance(body.get("files"), dict)):
        return None
    files: dict[str, Any] = body["files"]
    if not (_shaped(list(files.values())) and statefiles.all_relative(files)):
        return None
    make = FileEntry._make
    return {rel: make(raw) for rel, raw in files.items()}


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
