"""`lint` of a changed recipe file with a large matrix, in part: only the variants of new values.

With each recipe file of at least MIN_VARIANTS variants that lint found clean (no diagnostic, no
reference in or out), the lint cache keeps a record: the file's definition (its data without the
matrix value lists, `recipe.reuse`) and each variant's values (`reuse.combo_key`) with its number
of outputs. After a change that leaves the definition as it was, a variant with the same values is
one the last lint found clean, with the same name and outputs (and no message, so where it is
written does not matter): only the variants of new values are built and checked, the file's own
checks are all made (`reuse.convert_part`, which also stands in for the JSON Schema pass), and the
names and outputs of the others are taken from the cache for the checks across variants and files,
where anything they find goes to the full lint. Anything else (a `pick` mapping, which names
variants; a new variant with an error; values that cannot be told apart) loads the file whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from assetgen.recipe import reuse

if TYPE_CHECKING:
    from collections.abc import Sequence

    from assetgen.recipe import yamlpos
    from assetgen.recipe.convert import FileResult, Params
    from assetgen.recipe.model import Variant

MIN_VARIANTS = reuse.MIN_VARIANTS


class Partly(Struct, frozen=True):
    """A file linted in part: the new variants, and every variant's name and outputs."""

    result: FileResult                  # the new variants, every diagnostic of the file
    names: list[str]                    # every variant's, in the file's order
    outputs: list[str]                  # every variant's, in the file's order
    kept_names: set[str]
    kept_outputs: list[str]
    assets: dict[str, list[str]]        # asset key -> every variant name, in order
    record: list[Any]


def record(definition: str | None, variants: Sequence[Variant]) -> list[Any] | None:
    """What the cache keeps of a file of that definition loaded whole into `variants` (every
    variant it made, none dropped): [definition, values of each variant, number of outputs of
    each]; None when too few variants or when the definition or the values cannot be told exactly."""
    if definition is None or len(variants) < MIN_VARIANTS or not any(v.values for v in variants):
        return None
    keys = reuse.variant_keys(variants)
    if None in keys or len(set(keys)) != len(keys):
        return None
    return [definition, keys, [len(v.outputs) for v in variants]]


def load(root: Path, doc: yamlpos.Document, params: Params, stored: Any, names: Sequence[str],
         outputs: Sequence[str], assets: dict[str, list[str]]) -> Partly | None:
    """The document in part, when `stored` (the cache's record of the file, whose variants were
    `names` of `assets`, writing `outputs`) allows it; None: load it whole."""
    if not _fits(stored, names, outputs):
        return None
    definition, keys, counts = stored
    if reuse.definition(doc.data) != definition or _maps_picks(doc.data):
        return None
    old: dict[str, tuple[str, Sequence[str]]] = {}
    at = 0
    for key, name, count in zip(keys, names, counts, strict=True):
        old[key] = (name, outputs[at:at + count])
        at += count
    part = reuse.convert_part(root, doc, params, old)
    if part is None or part.result.skipped:
        return None
    asset_of = {name: key for key, made in assets.items() for name in made}
    new = iter(part.result.variants)
    every: list[str] = []
    every_outputs: list[str] = []
    kept_outputs: list[str] = []
    kept: set[str] = set()
    counted: list[int] = []
    for key in part.order:
        if key in old:
            name, written = old[key]
            kept.add(name)
            kept_outputs += written
        else:
            variant = next(new, None)
            if variant is None:
                return None
            name, written = variant.name, [o.path for o in variant.outputs]
            asset_of[name] = variant.asset
        every.append(name)
        every_outputs += written
        counted.append(len(written))
    if next(new, None) is not None or not all(n in asset_of for n in every):
        return None
    by_asset: dict[str, list[str]] = {key: [] for key in part.result.assets}
    for name in every:
        if asset_of[name] not in by_asset:
            return None
        by_asset[asset_of[name]].append(name)
    made = [definition, list(part.order), counted]
    return Partly(part.result, every, every_outputs, kept, kept_outputs, by_asset, made)


def _fits(stored: Any, names: Sequence[str], outputs: Sequence[str]) -> bool:
    """Whether the stored record has its shape and fits the entry's variants and outputs."""
    if type(stored) is not list or len(stored) != 3:
        return False
    definition, keys, counts = stored
    return (type(definition) is str and type(keys) is list and type(counts) is list
            and len(keys) == len(counts) == len(names) and all(type(k) is str for k in keys)
            and all(type(c) is int and c >= 0 for c in counts) and sum(counts) == len(outputs))


def _maps_picks(data: Any) -> bool:
    """Whether an asset or a step has a `pick` mapping: its names are checked against the variants
    the file makes, which a load in part does not build."""
    for asset in data["assets"].values():
        if isinstance(asset, dict):
            steps = asset.get("steps")
            for where in (asset, *(steps if isinstance(steps, list) else ())):
                if isinstance(where, dict) and isinstance(where.get("pick"), dict):
                    return True
    return False
