"""The variant cache keeps a file's records a column at a time beside its index entry: a record
read back is the one written, and a file's variants rebuilt from kept ranges and new records are
what the records of the new order make (`run.index.combine`), column for column."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from assetgen.run import varcache
from assetgen.run.index import VariantRecord, combine

names = st.sampled_from(["p", "q", "r", "s"])
record_lists = st.lists(st.tuples(
    st.sampled_from(["a", "b", "c"]), st.booleans(), st.lists(names, max_size=2, unique=True),
    st.lists(names, max_size=2, unique=True), st.lists(names, max_size=2, unique=True),
    st.lists(names, max_size=3, unique=True)), max_size=12)


def records_of(raw: list[Any], start: int = 0) -> list[VariantRecord]:
    """Records in the file's order: each asset's variants in a row, each variant's output its own."""
    raw = sorted(raw, key=lambda r: r[0])
    return [VariantRecord(f"{asset}-{start + i}", asset, matrix, (f"out/{start + i}.png", *outs[1:]),
                          tuple(sorted(inputs)), tuple(sorted(refs)), tuple(sorted(actions)))
            for i, (asset, matrix, outs, inputs, refs, actions) in enumerate(raw)]


def made(records: list[VariantRecord], keys: list[str]) -> varcache.FileVariants:
    return varcache.from_records("d", keys, records, combine(records))


@settings(max_examples=200, deadline=None)
@given(record_lists, record_lists, st.data())
def test_a_rebuilt_file_is_the_file_its_records_make(old_raw: list[Any], new_raw: list[Any],
                                                      data: st.DataObject) -> None:
    old = records_of(old_raw)
    keys = [f"k{i}" for i in range(len(old))]
    cached = made(old, keys)
    assert [cached.record(i) for i in range(len(old))] == old
    new = records_of(new_raw, start=100)
    # the new order: some ranges of the old variants, kept in order, with new variants between
    cuts = sorted(data.draw(st.lists(st.integers(0, len(old)), max_size=4)))
    ranges = [range(a, b) for a, b in zip([0, *cuts], [*cuts, len(old)], strict=True)]
    ranges = [r for r in ranges if data.draw(st.booleans())]
    parts: list[varcache.Part] = []
    fresh = iter(new)
    by_key = {}
    for r in ranges:
        for record in [next(fresh, None) for _ in range(data.draw(st.integers(0, 2)))]:
            if record is not None:
                by_key[f"n{record.name}"] = record
                parts.append(f"n{record.name}")
        parts.append(r)
    order: list[str] = []
    found: list[VariantRecord] = []
    for part in parts:
        if isinstance(part, str):
            order.append(part)
            found.append(by_key[part])
        else:
            order += [keys[i] for i in part]
            found += [old[i] for i in part]
    # an asset's variants stay in a row only when the new order keeps them so
    assets = [r.asset for r in found]
    if [a for a, _ in varcache._runs(assets)] != list(dict.fromkeys(assets)):
        return
    rebuilt = cached.rebuilt(parts, by_key)
    whole = made(found, order)
    assert rebuilt.entry == whole.entry
    assert rebuilt.to_json() == whole.to_json()
    assert [rebuilt.record(i) for i in range(len(found))] == found


def test_a_cached_file_reads_back_as_written() -> None:
    old = records_of([("a", True, ["p"], [], [], ["x", "y"]), ("a", True, ["q"], ["in"], [], ["y", "z"]),
                      ("b", False, [], [], [], ["z"])])
    cached = made(old, ["k0", "k1", "k2"])
    assert cached.action_ids == ["x", "y", "y", "z", "z"]       # shared: kept
    entry = combine(old)
    decoded = varcache.decode(cached.to_json(), entry)
    assert decoded is not None and [decoded.record(i) for i in range(3)] == old
    alone = made(old[:1], ["k0"])
    assert alone.action_ids is None                              # not shared: the entry's
