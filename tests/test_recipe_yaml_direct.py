"""A plain YAML document is read in one pass over the parser's events (`yamlpos._direct`); it gives
exactly the data and positions the composer path gives (`yamlpos._composed`), and leaves every
document it does not handle (aliases, tags, merge keys, duplicate or complex keys, several
documents, errors, limits) to that path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from assetgen.recipe import yamlpos

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.yaml"))


def typed(value: Any) -> Any:
    """`value` with every scalar's type beside it (1, 1.0, true and "1" are all different)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def same(text: str) -> bool:
    """Whether the one-pass reading, when it takes the document, equals the composer's; True when
    it leaves the document to the composer."""
    direct = yamlpos._direct(text, "f.yaml")
    if direct is None:
        return False
    composed = yamlpos._composed(text, "f.yaml")
    assert composed.diagnostics == ()
    assert direct.diagnostics == ()
    assert typed(direct.data) == typed(composed.data)
    assert direct.positions.keys == composed.positions.keys
    assert direct.positions.values == composed.positions.values
    return True


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_the_corpus_reads_the_same_either_way(path: Path) -> None:
    same(path.read_text())


PLAIN = [
    "a: [1, 1.0, true, yes, no, on, '1', null, ~, 0x1F, 0o17, 010, 1e3, .inf, .nan, 12:30, 2020-01-01, =]\n",
    "a:\n  - 1\n  - b: 2\n    c: [x, {d: e}]\n  -\n  - ''\n",
    "'<<': 1\nb: \"two\"\nc: |\n  block\n  text\nd: >\n  folded\n",
    "version: 1\nassets:\n  a:\n    matrix:\n      i: [0, 1, 2]\n    prompt: \"Asset {{ i }}\"\n",
    "- 1\n- [2, 3]\n",
    "just text\n",
    "a: 1 # comment\n# another\nb:\n",
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_documents_are_read_in_one_pass_and_the_same(text: str) -> None:
    assert same(text)


LEFT = [
    "a: &x 1\nb: *x\n",                     # an alias
    "a: !!str 1\n",                         # a tag
    "a: ! 1\n",
    "base: {x: 1}\nb:\n  <<: {y: 2}\n",     # a merge key
    "a: 1\na: 2\n",                         # a duplicate key
    "? [1, 2]\n: x\n",                      # a complex key
    "a: 1\n---\nb: 2\n",                    # two documents
    "",                                     # no document
    "a: [1, 2\n",                           # an error
    "a: " + "[" * (yamlpos.MAX_DEPTH + 1) + "]" * (yamlpos.MAX_DEPTH + 1) + "\n",     # too deep
]


@pytest.mark.parametrize("text", LEFT)
def test_the_rest_goes_to_the_composer(text: str) -> None:
    assert yamlpos._direct(text, "f.yaml") is None
    assert yamlpos.load(text, "f.yaml") == yamlpos._composed(text, "f.yaml")


def test_more_values_than_the_limit_go_to_the_composer_for_its_message() -> None:
    text = "a: [" + ", ".join("1" for _ in range(yamlpos.MAX_NODES)) + "]\n"
    assert yamlpos._direct(text, "f.yaml") is None
    assert yamlpos.load(text, "f.yaml").diagnostics


TRICKY = ["yes", "no", "0x1F", "010", "1e3", "~", ".inf", "<<", "12:30", "2020-01-01", "", " x", "a: b",
          "- c"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=8), st.sampled_from(TRICKY))
documents = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=6), kids, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans())
def test_any_document_pyyaml_writes_reads_the_same_either_way(data: Any, flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    same(text)


WORDS = ["null", "Null", "NULL", "nULL", "true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "yes",
         "No", "inf", "nan", "0", "007", "1" * 4001, "٣", "Ⅻ", "é", "x1", "1x", ""]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.from_regex(r"[A-Za-z0-9]{0,12}", fullmatch=True), st.sampled_from(WORDS)))
def test_a_plain_word_or_number_reads_as_the_core_schema_says(text: str) -> None:
    """Letters or digits alone take a shorter way than the schema's patterns: the same value and type."""
    assert typed(yamlpos._plain(text)) == typed(yamlpos._as_kind(yamlpos._core_kind(text), text))
