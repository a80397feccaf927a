"""Matrix expansion: product in written order, minus exclude, plus include."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assetgen.recipe import expand
from assetgen.recipe.load import load_project


def test_order_exclude_and_include() -> None:
    combos = expand.combinations({"kind": ["a", "b"], "tint": ["r", "g"]}, [{"tint": "g", "kind": "b"}],
                                 [{"kind": "z", "tint": "q"}])
    assert combos == [
        ((("kind", "a"), ("tint", "r")), None),
        ((("kind", "a"), ("tint", "g")), None),
        ((("kind", "b"), ("tint", "r")), None),
        ((("kind", "z"), ("tint", "q")), 0),
    ]


def test_exclude_entry_with_fewer_keys_drops_every_match() -> None:
    combos = expand.combinations({"kind": ["a", "b"], "tint": ["r", "g"]}, [{"tint": "g"}])
    assert [dict(c) for c, _ in combos] == [{"kind": "a", "tint": "r"}, {"kind": "b", "tint": "r"}]


def test_exclude_compares_types() -> None:
    combos = expand.combinations({"n": [1, "1", True]}, [{"n": 1}])
    assert [dict(c) for c, _ in combos] == [{"n": "1"}, {"n": True}]


def test_default_name() -> None:
    assert expand.default_name("icon", (("kind", "axe"), ("big", True), ("n", 2))) == "icon-axe-true-2"
    assert expand.default_name("banner", ()) == "banner"


_VALUES = st.lists(st.sampled_from(["a", "b", "c", 1, 2, True]), min_size=1, max_size=4, unique=True)


@settings(max_examples=60)
@given(st.dictionaries(st.sampled_from(["x", "y", "z"]), _VALUES, min_size=1, max_size=3),
       st.data())
def test_count_is_product_minus_excluded_plus_included(matrix: dict, data: st.DataObject) -> None:
    keys = list(matrix)
    rule = st.dictionaries(st.sampled_from(keys), st.sampled_from(["a", "b", 1, True]), min_size=1)
    exclude = data.draw(st.lists(rule, max_size=3))
    include = data.draw(st.lists(rule, max_size=3))
    product = list(itertools.product(*matrix.values()))
    rows = [dict(zip(keys, p, strict=True)) for p in product]
    excluded = [r for r in rows
                if any(all(type(r[k]) is type(v) and r[k] == v for k, v in e.items()) for e in exclude)]
    combos = expand.combinations(matrix, exclude, include)
    assert len(combos) == len(product) - len(excluded) + len(include)


def test_count_through_the_loader(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "assets:\n  i:\n    matrix: {a: [1, 2, 3], b: [x, y], c: [p, q]}\n"
        "    exclude: [{a: 1}, {b: y, c: q}]\n    include: [{a: 9, b: z, c: r}]\n    prompt: hi\n"
        "    output: 'o/{{ a }}{{ b }}{{ c }}.png'\n", encoding="utf-8")
    result = load_project([], tmp_path)
    assert [str(d) for d in result.diagnostics if d.severity.value == "error"] == []
    assert [v.name for v in result.project.variants()] == [
        "i-2-x-p", "i-2-x-q", "i-2-y-p", "i-3-x-p", "i-3-x-q", "i-3-y-p", "i-9-z-r"]


def test_a_matrix_key_templates_could_not_reach_is_an_error(tmp_path: Path) -> None:
    # {{ name }} is the variant's name: a key called `name` was silently never used
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(
        "version: 1\nassets:\n  f:\n    matrix: {size: [small], name: [a], index: [1], asset: [x]}\n"
        "    prompt: 'x {{ size }}'\n    output: 'f/{{ name }}.png'\n", encoding="utf-8")
    result = load_project([], tmp_path)
    assert [str(d) for d in result.diagnostics if d.severity.value == "error"] == [
        f"recipes/r.yaml:4:{col}: error: matrix key '{key}' cannot be used: {{{{ {key} }}}} is {what}; "
        "rename the key" for key, col, what in (
            ("name", 29, "the variant's name"), ("index", 40, "the candidate's number in output paths"),
            ("asset", 52, "the asset's key"))]
