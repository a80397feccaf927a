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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

from assetgen import statefiles
from assetgen.plan.graph import Plan
from assetgen.recipe.model import Recipe
from assetgen.recipe.refs import refs_of

INDEX_VERSION = 1
ID_CHARS = 20           # an action id is counted by its first 80 bits


@dataclass(frozen=True)
class FileEntry:
    variants: Sequence[str]
    assets: dict[str, list[str]]
    matrix: Sequence[str]
    outputs: Sequence[str]
    inputs: Sequence[str]
    refs: Sequence[str]
    actions: Sequence[str]
    raw: list[Any] | None = field(default=None, compare=False, repr=False)   # as read from the file

    def to_json(self) -> list[Any]:
        if self.raw is not None:
            return self.raw
        return [list(self.variants), self.assets, list(self.matrix), list(self.outputs), list(self.inputs),
                list(self.refs), list(self.actions)]


def entries(recipes: Iterable[Recipe], plan: Plan) -> dict[str, FileEntry]:
    """The entry of each recipe file, from its variants and the plan's actions for them."""
    actions: dict[str, set[str]] = {}
    for asset in plan.assets:
        ids = actions.setdefault(asset.recipe, set())
        ids.update(aid[:ID_CHARS] for aid in (*asset.steps, *asset.outputs))
    found = {}
    for recipe in recipes:
        assets: dict[str, list[str]] = {}
        matrix: set[str] = set()
        inputs: set[str] = set()
        refs: set[str] = set()
        for v in recipe.variants:
            assets.setdefault(v.asset, []).append(v.name)
            if v.values:
                matrix.add(v.asset)
            for step in v.steps:
                refs_in = (step.image, step.mask, *step.images)
                inputs.update(r.path for r in refs_in if r is not None and r.path)
            refs.update(r.asset for r in refs_of(v) if r.asset)
        found[recipe.path] = FileEntry(
            tuple(v.name for v in recipe.variants), assets, tuple(sorted(matrix)),
            tuple(o.path for v in recipe.variants for o in v.outputs), tuple(sorted(inputs)),
            tuple(sorted(refs)), tuple(sorted(actions.get(recipe.path, ()))))
    return found


def encode(files: dict[str, FileEntry]) -> bytes:
    body = {"version": INDEX_VERSION, "files": {rel: e.to_json() for rel, e in files.items()}}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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
        body = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not (isinstance(body, dict) and body.get("version") == INDEX_VERSION
            and isinstance(body.get("files"), dict)):
        return None
    found = {}
    for rel, raw in body["files"].items():
        entry = _entry(raw)
        if entry is None or not statefiles.is_relative(rel):
            return None
        found[rel] = entry
    return found


def _strings(value: Any) -> bool:
    return type(value) is list and all(map(isinstance, value, repeat(str)))


def _entry(raw: Any) -> FileEntry | None:
    """The entry, when every field has its shape (lists of strings; assets: a mapping to them)."""
    if type(raw) is not list or len(raw) != 7:
        return None
    variants, assets, matrix, outputs, inputs, refs, actions = raw
    lists = (variants, matrix, outputs, inputs, refs, actions)
    if type(assets) is not dict or not all(map(_strings, lists)) or not all(map(_strings, assets.values())):
        return None
    return FileEntry(variants, assets, matrix, outputs, inputs, refs, actions, raw)
