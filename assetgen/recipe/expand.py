"""Matrix expansion: cartesian product in written order, minus `exclude`, plus `include`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

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
    drops = _rules(keys, exclude)
    product = itertools.product(*(matrix[k] for k in keys)) if matrix or not include else ()
    if not drops:
        out = [(tuple(zip(keys, values, strict=True)), None) for values in product]
    for values in product if drops else ():
        if not any(tuple(_typed(values[i]) for i in at) in rule for at, rule in drops):
            out.append((tuple(zip(keys, values, strict=True)), None))
    for i, extra in enumerate(include):
        out.append((tuple(extra.items()), i))
    return out


class Product(Sequence[Combination]):
    """The combinations of a matrix without `exclude` or `include`, in written order, each made
    when asked for: a build that keeps most variants of a large matrix makes only the others."""

    def __init__(self, matrix: Mapping[str, Sequence[Any]]) -> None:
        self.keys = list(matrix)
        self.lists = [matrix[k] for k in self.keys]
        self.strides = [math.prod(len(v) for v in self.lists[i + 1:]) for i in range(len(self.lists))]
        self.total = math.prod(len(v) for v in self.lists)

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> Combination: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Combination]: ...

    def __getitem__(self, index: int | slice) -> Combination | Sequence[Combination]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.total))]
        if not 0 <= index < self.total:
            raise IndexError(index)
        return tuple((key, values[index // stride % len(values)])
                     for key, values, stride in zip(self.keys, self.lists, self.strides, strict=True))

    def __iter__(self) -> Iterator[Combination]:
        keys = self.keys
        for values in itertools.product(*self.lists):
            yield tuple(zip(keys, values, strict=True))

    def having(self, key: str, positions: Iterable[int]) -> list[int]:
        """The positions of the combinations whose value of `key` is at one of `positions` in its list."""
        at = self.keys.index(key)
        stride, size = self.strides[at], len(self.lists[at])
        outer = self.total // (stride * size)
        return sorted(base * size * stride + p * stride + inner
                      for p in positions for base in range(outer) for inner in range(stride))


def size(matrix: Mapping[str, Sequence[Any]], include: Sequence[Any] = ()) -> int:
    """How many combinations `combinations` makes at most, without making them."""
    total = math.prod(len(v) for v in matrix.values()) if matrix or not include else 0
    return total + len(include)


def _rules(keys: list[str], exclude: Sequence[Mapping[str, Any]]) -> list[tuple[tuple[int, ...], set]]:
    """`exclude` entries grouped by the keys they name: (key positions, the value tuples dropped).

    Checking a combination costs one set lookup per group, not one comparison per entry."""
    groups: dict[tuple[int, ...], set] = {}
    for entry in exclude:
        if any(k not in keys for k in entry):
            continue   # names a key the matrix lacks: matches nothing (lint says so)
        at = tuple(sorted(keys.index(k) for k in entry))
        groups.setdefault(at, set()).add(tuple(_typed(entry[keys[i]]) for i in at))
    return list(groups.items())


def _typed(value: Any) -> tuple[type, Any]:
    """YAML `1` and `"1"` are different values, and so are `true` and `1`."""
    return type(value), value


def matches_any(matrix: Mapping[str, Sequence[Any]], entry: Mapping[str, Any]) -> bool:
    """Whether an `exclude` entry drops at least one combination of the product."""
    return all(k in matrix and any(_same(v, value) for v in matrix[k]) for k, value in entry.items())


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
