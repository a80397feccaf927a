"""Matrix expansion: cartesian product in written order, minus `exclude`, plus `include`."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

Combination = tuple[tuple[str, Any], ...]


def combinations(
    matrix: Mapping[str, Sequence[Any]],
    exclude: Sequence[Mapping[str, Any]] = (),
    include: Sequence[Mapping[str, Any]] = (),
) -> list[tuple[Combination, int | None]]:
    """Every combination with the index of the `include` entry it came from (None: the product).

    An `exclude` entry drops a combination when all of its given keys match. `include` entries
    are added after the product, in order, as written. Without a matrix, the `include` entries are
    the combinations (the product of no keys, one empty combination, is not added to them).
    """
    keys = list(matrix)
    out: list[tuple[Combination, int | None]] = []
    drops = [tuple(e.items()) for e in exclude]
    product = itertools.product(*(matrix[k] for k in keys)) if matrix or not include else ()
    for values in product:
        combo = tuple(zip(keys, values, strict=True))
        if not any(_matches(combo, d) for d in drops):
            out.append((combo, None))
    for i, extra in enumerate(include):
        out.append((tuple(extra.items()), i))
    return out


def matches_any(matrix: Mapping[str, Sequence[Any]], entry: Mapping[str, Any]) -> bool:
    """Whether an `exclude` entry drops at least one combination of the product."""
    keys = list(matrix)
    rule = tuple(entry.items())
    return any(_matches(tuple(zip(keys, values, strict=True)), rule)
               for values in itertools.product(*(matrix[k] for k in keys)))


def _matches(combo: Combination, rule: Combination) -> bool:
    values = dict(combo)
    return all(k in values and _same(values[k], v) for k, v in rule)


def _same(a: Any, b: Any) -> bool:
    """YAML `1` and `"1"` are different values, and so are `true` and `1`."""
    return type(a) is type(b) and a == b


def default_name(asset: str, combo: Combination) -> str:
    """Key and values joined by '-': `potion-health-red`; the key alone without a matrix."""
    return "-".join([asset, *(_text(v) for _, v in combo)])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
