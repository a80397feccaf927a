"""A recipe text read on the basis of its last reading (`recipe.splice`) is what a full parse of it
gives: the same data, every value outside the matrix lists at the same line and column. What it
cannot read that way (a value that is not plain letters, digits and `_.+-`, other spacing, another
number of values, a change outside the lists) is None, and only that."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assetgen.recipe import reuse, splice, yamlpos

TEXT = """\
version: 1
assets:
  a:
    matrix: {{i: [{i}], j: [{j}]}}
    prompt: "Asset {{{{ i }}}}"   # a comment
    output: "out/{{{{ name }}}}.png"
  b:
    matrix:
      k: [{k}]
    prompt: B {{{{ k }}}}
"""
PLAIN = ["0", "1", "7", "12", "010", "a", "b7", "x_y", "1.0", "1e3", "0x1f", "0o7", "true", "False", "-5",
         "+3", ".5", ".inf", ".nan", "1_000", "a.b", "a-b", "Null", "NULL1", "yes", "on", "1:2"]
OTHER = ["null", "~", "'a'", '"b"', "a b", "[1]", "{a: 1}", "a,b", "#", "a #c", "&x 1", "*x", "!!str 1",
         "", " 1", "1 ", "-", "- 1", "a:b", "?", "a\n", "é", "---", "..."]


def reads(token: str) -> bool:
    """Whether `token` is a value the basis reads: those characters, a string, number or boolean."""
    return bool(splice._VALUE.fullmatch(token)) and reuse.scalars([yamlpos.plain_scalar(token)])


values = st.lists(st.sampled_from([p for p in PLAIN if reads(p)]), min_size=1, max_size=6)


def typed(value: Any) -> Any:
    """`1`, `1.0`, `True` and `"1"` told apart."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return type(value).__name__, value


def text_of(lists: dict[str, list[str]]) -> str:
    return TEXT.format(**{k: ", ".join(v) for k, v in lists.items()})


def in_lists(path: tuple[Any, ...]) -> bool:
    return len(path) == 5 and path[2] == "matrix"


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"i": values, "j": values, "k": values}), st.data())
def test_a_text_read_on_the_basis_is_the_full_reading(lists: dict[str, list[str]],
                                                      data: st.DataObject) -> None:
    old_text = text_of(lists)
    old = yamlpos.load(old_text, "r.yaml")
    assume(not old.diagnostics)
    basis = splice.basis(old_text, old)
    assert basis is not None
    new_lists = {k: list(v) for k, v in lists.items()}
    edits = data.draw(st.lists(st.tuples(st.sampled_from("ijk"), st.integers(0, 5),
                                         st.sampled_from(PLAIN + OTHER)), min_size=1, max_size=2))
    for key, at, token in edits:
        new_lists[key][at % len(new_lists[key])] = token
    new_text = text_of(new_lists)
    edit = splice.read(basis, new_text, "r.yaml")
    full = yamlpos.load(new_text, "r.yaml")
    changed = {k for k in "ijk" if new_lists[k] != lists[k]}
    readable = len(changed) <= 1 and all(reads(t) for k in changed for t in new_lists[k])
    if edit is None:
        assert not readable
        return
    assert readable and not full.diagnostics
    assert typed(edit.doc.data) == typed(full.data)
    assert edit.doc.positions.keys == full.positions.keys
    assert edit.doc.positions.values == {p: v for p, v in full.positions.values.items() if not in_lists(p)}
    owner = {"i": "a", "j": "a", "k": "b"}
    assert edit.changed == {(owner[k], k): [n for n, (a, b) in enumerate(zip(lists[k], new_lists[k],
                                                                             strict=True)) if a != b]
                            for k in changed}
    assert edit.basis == splice.basis(new_text, full)


def test_a_text_without_flow_lists_has_no_basis() -> None:
    text = "version: 1\nassets:\n  a:\n    matrix:\n      i:\n        - 1\n        - 2\n    prompt: x\n"
    assert splice.basis(text, yamlpos.load(text, "r.yaml")) is None
    text = "version: 1\nassets:\n  a:\n    matrix: {i: [1, 'b']}\n    prompt: x\n"
    assert splice.basis(text, yamlpos.load(text, "r.yaml")) is None
