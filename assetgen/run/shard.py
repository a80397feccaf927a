"""`build --shard I/N`: the I-th of N disjoint parts of a plan's calls, for N machines that share a
remote cache (SPEC section 11).

Calls joined by an edge (an edit of an earlier step's image, an `{asset: ...}` reference) form one
chain, and a chain stays in one part: a part never waits for another. Chains are dealt out largest
first to the part with the fewest calls so far (ties to the lower index), in an order that depends
only on the recipes, so every machine computes the same parts without talking to the others.
"""

from __future__ import annotations

import re

from msgspec import Struct

from assetgen.plan.graph import Action, Plan

SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class Shard(Struct, frozen=True):
    index: int      # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N` with 1 <= I <= N; ValueError with the reason otherwise."""
        m = SHARD.fullmatch(text)
        if not m:
            raise ValueError(f"expected I/N (the I-th of N parts, e.g. 2/4), got '{text}'")
        index, count = int(m.group(1)), int(m.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"expected I/N with 1 <= I <= N, got '{text}'")
        return cls(index, count)

    @property
    def share(self) -> float:
        """The fraction of each quota this part may use."""
        return 1.0 / self.count

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def chains(plan: Plan) -> list[list[str]]:
    """The plan's calls grouped into chains (connected by edges between calls), each in plan order."""
    calls = [a for a in plan.actions if a.is_call]
    parent = {a.id: a.id for a in calls}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for action in calls:
        for dep in action.deps:
            if dep in parent:
                parent[find(dep)] = find(action.id)
    groups: dict[str, list[str]] = {}
    for action in calls:
        groups.setdefault(find(action.id), []).append(action.id)
    return list(groups.values())


def part(plan: Plan, shard: Shard) -> frozenset[str]:
    """The call ids of `shard`'s part."""
    loads = [0] * shard.count
    mine: set[str] = set()
    for group in sorted(chains(plan), key=lambda g: (-len(g), min(g))):
        i = min(range(shard.count), key=lambda k: (loads[k], k))
        loads[i] += len(group)
        if i == shard.index - 1:
            mine.update(group)
    return frozenset(mine)


def restrict(plan: Plan, ids: frozenset[str]) -> Plan:
    keep: tuple[Action, ...] = tuple(a for a in plan.actions if a.id in ids)
    return Plan(plan.provider, keep, ())
