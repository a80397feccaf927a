"""What a matrix variant is made of besides its own values, so unchanged variants can be kept.

A variant is rendered from its asset's templates and parameters, the file's `vars` and
`defaults`, the project's defaults and its own matrix values, nothing else. So two versions of a
recipe file whose data is equal once every asset's matrix value lists are left out (the
`definition`) make the same variant for the same values (`combo_key`), save for the source
locations, which only messages use. A build after one matrix value changed (`run.partial`) renders
only the values the last build did not have.

Only plain YAML values are encoded (no number keys, no NaN): anything else has no definition,
and the file is loaded whole.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Container, Iterable, Sequence
from itertools import groupby
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from assetgen.recipe.expand import Combination

if TYPE_CHECKING:
    from assetgen.recipe import yamlpos
    from assetgen.recipe.convert import FileResult, Params
    from assetgen.recipe.model import Variant


MIN_VARIANTS = 32       # a file with fewer variants is built as quickly as it is kept


class _Unsupported(Exception):
    """A value JSON cannot hold exactly."""


def definition(data: Any) -> str | None:
    """The sha256 of the file's data with every asset's matrix value lists left out (the matrix
    keys stay, in order); None when the data has no assets or a value JSON cannot hold exactly."""
    if not isinstance(data, dict) or not isinstance(data.get("assets"), dict):
        return None
    assets = {}
    for key, asset in data["assets"].items():
        if isinstance(asset, dict) and isinstance(asset.get("matrix"), dict):
            # a list becomes None, anything else (a schema error) is kept in a list of its own
            asset = {**asset, "matrix": {k: None if isinstance(v, list) else [v]
                                         for k, v in asset["matrix"].items()}}
        assets[key] = asset
    try:
        text = _encode({**data, "assets": assets})
    except (_Unsupported, ValueError):     # ValueError: an int with more digits than Python prints
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def matrix_lists(data: Any) -> dict[str, dict[str, list[Any]]]:
    """Each asset's matrix value lists (assets without a matrix left out)."""
    found: dict[str, dict[str, list[Any]]] = {}
    for key, asset in data["assets"].items():
        if isinstance(asset, dict) and isinstance(asset.get("matrix"), dict):
            found[key] = {k: v for k, v in asset["matrix"].items() if isinstance(v, list)}
    return found


def scalars(values: Iterable[Any]) -> bool:
    """Whether every value is one the schema takes in a matrix list (a string, a number or a
    boolean), and JSON holds exactly (a finite number)."""
    for value in values:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return False
        elif kind not in (str, int, bool):
            return False
    return True


def combo_key(asset: str, combo: Combination) -> str | None:
    """The asset and its values as text that tells `1`, `1.0`, `true` and `"1"` apart (each part
    prefixed with its length, so no two combinations share a text); None when a value is not a
    plain scalar."""
    return combo_keys(asset, [combo])[0]


def variant_keys(variants: Iterable[Variant]) -> list[str | None]:
    """`combo_key` of each variant, in order."""
    found: list[str | None] = []
    for asset, group in groupby(variants, attrgetter("asset")):
        found += combo_keys(asset, [v.values for v in group])
    return found


def combo_keys(asset: str, combos: Sequence[Combination]) -> list[str | None]:
    """`combo_key` of each combination of an asset (a large matrix's are made on every build after
    a change to it: the text of the asset and of each matrix key is made once)."""
    asset_part = f"{len(asset)}:{asset}"
    key_parts: dict[str, str] = {}
    found: list[str | None] = []
    for combo in combos:
        made = asset_part
        for key, value in combo:
            kind = type(value)
            if kind is str:
                text = "s" + value
            elif kind is int:
                try:
                    text = f"i{value}"
                except ValueError:      # more digits than Python prints
                    break
            elif kind is bool:
                text = "b1" if value else "b0"
            elif kind is float and math.isfinite(value):
                text = "f" + repr(value)
            else:
                break
            part = key_parts.get(key)
            if part is None:
                part = key_parts[key] = f"{len(key)}:{key}"
            made += f"{part}{len(text)}:{text}"
        else:
            found.append(made)
            continue
        found.append(None)
    return found


def _encode(data: Any) -> str:
    _check(data)
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _check(value: Any) -> None:
    kind = type(value)
    if value is None or kind in (str, bool, int):
        return
    if kind is float:
        if not math.isfinite(value):
            raise _Unsupported
        return
    if kind is list:
        for item in value:
            _check(item)
        return
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise _Unsupported
            _check(v)
        return
    raise _Unsupported


class Part(Struct, frozen=True):
    """A recipe file loaded in part: the variants whose values are new, every check of the file."""

    result: FileResult          # the new variants, and every diagnostic of the file and its assets
    order: tuple[str, ...]      # every variant's values (`combo_key`), in the file's order


def convert_part(root: Path, doc: yamlpos.Document, params: Params, old: Container[str]) -> Part | None:
    """The document's variants whose values are not in `old`, when the rest of the data (its
    definition) is the one that made the variants of `old`. The new values are checked as the
    schema would (each list non-empty, every value a string, number or boolean), so the document's
    JSON Schema pass is skipped, not the file's checks. None when a variant could depend on another
    or on the number of renders: a template that spends the file's step budget (more than plain
    `{{ name }}` substitutions), values JSON cannot hold or the same values twice, a variant that
    refers to another."""
    from assetgen.recipe.load import convert_doc

    if not (_plain_lists(doc.data) and costs_nothing(doc.data)):
        return None
    order: list[str] = []
    seen: set[str] = set()
    odd = False

    def wanted(asset: str, combos: Sequence[Combination]) -> list[int]:
        nonlocal odd
        keys = combo_keys(asset, combos)
        plain = [k for k in keys if k is not None]
        order.extend(plain)
        seen.update(plain)
        if odd or len(plain) != len(keys) or len(seen) != len(order):
            odd = True      # values JSON cannot hold, or the same values twice: the file is loaded whole
            return []
        return [i for i, key in enumerate(keys) if key not in old]

    result = convert_doc(root, doc, params, wanted, checked=True)
    if odd or any(map(refers, result.variants)):
        return None
    return Part(result, tuple(order))


def refers(variant: Any) -> bool:
    from assetgen.recipe.refs import refs_of

    return any(True for _ in refs_of(variant))


def _plain_lists(data: Any) -> bool:
    """Every matrix list is one the schema takes (the rest of the data is the last build's)."""
    return all(values and scalars(values)
               for matrix in matrix_lists(data).values() for values in matrix.values())


def costs_nothing(data: Any) -> bool:
    """Every string of every asset (but its matrix, exclude and include) renders without spending
    the file's step budget, so the renders of kept variants cannot change whether the file's
    budget suffices."""
    for asset in data["assets"].values():
        if not isinstance(asset, dict):
            return False
        for key, value in asset.items():
            if key not in ("matrix", "exclude", "include") and not _strings_cost_nothing(value):
                return False
    return True


def _strings_cost_nothing(value: Any) -> bool:
    from assetgen.recipe import template

    if isinstance(value, str):
        return template.costs_nothing(value)
    if isinstance(value, list):
        return all(map(_strings_cost_nothing, value))
    if isinstance(value, dict):
        return all(map(_strings_cost_nothing, value.values()))
    return True
