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
from collections.abc import Iterable
from typing import Any

from assetgen.recipe.expand import Combination


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
    parts = [f"{len(asset)}:{asset}"]
    for key, value in combo:
        kind = type(value)
        if kind is str:
            text = "s" + value
        elif kind is bool:
            text = "b1" if value else "b0"
        elif kind is int:
            try:
                text = f"i{value}"
            except ValueError:      # more digits than Python prints
                return None
        elif kind is float and math.isfinite(value):
            text = "f" + repr(value)
        else:
            return None
        parts.append(f"{len(key)}:{key}{len(text)}:{text}")
    return "".join(parts)


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
