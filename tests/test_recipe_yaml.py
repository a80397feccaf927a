"""YAML with positions: safe, strict about duplicate keys, every key keeps its line and column."""

from __future__ import annotations

import re
from pathlib import Path

from assetgen.errors import Location
from assetgen.recipe import yamlpos


def _errors(text: str) -> list[str]:
    return [str(d) for d in yamlpos.load(text, "r.yaml").diagnostics]


def test_positions_of_keys_and_values() -> None:
    doc = yamlpos.load("a:\n  b: [x, {c: 1}]\n", "r.yaml")
    assert doc.data == {"a": {"b": ["x", {"c": 1}]}}
    assert doc.positions.key(("a", "b")) == Location("r.yaml", 2, 3)
    assert doc.positions.value(("a", "b")) == Location("r.yaml", 2, 6)
    assert doc.positions.value(("a", "b", 1, "c")) == Location("r.yaml", 2, 14)
    assert doc.positions.key(("a", "b", 1, "c")) == Location("r.yaml", 2, 11)
    assert doc.positions.key(("a", "zz")) == Location("r.yaml", 1, 1)


def test_duplicate_key_is_an_error_at_the_second() -> None:
    assert _errors("a: 1\nb: 2\na: 3\n") == ["r.yaml:3:1: error: duplicate key 'a' (first at line 1)"]


def test_a_tab_in_the_indentation_is_named() -> None:
    assert _errors("assets:\n\ta:\n    prompt: x\n") == [
        "r.yaml:2:1: error: invalid YAML: a tab character here; YAML indents with spaces"]
    assert _errors("assets:\n  a:\n    prompt: x\n    \toutput: a.png\n") == [
        "r.yaml:4:5: error: invalid YAML: a tab character here; YAML indents with spaces"]
    assert _errors("assets:\n  a:\n    prompt: \"x\ty\"\t\n") == []


def test_a_quote_never_closed_is_named_where_it_opens_not_past_the_last_line() -> None:
    # an annotation on a line the file does not have lands nowhere
    assert _errors('version: 1\nassets:\n  a:\n    prompt: "hello\n    output: a.png\n') == [
        "r.yaml:4:13: error: invalid YAML: while scanning a quoted scalar (line 4), found unexpected end of "
        "stream"]


def test_python_tags_are_refused_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'x: !!python/object/apply:os.system ["touch {marker}"]\n'
    assert _errors(text) == ["r.yaml:1:4: error: unsupported YAML tag '!!python/object/apply:os.system'"]
    assert not marker.exists()


def test_local_tags_are_refused() -> None:
    assert _errors("x: !custom 1\n") == ["r.yaml:1:4: error: unsupported YAML tag '!custom'"]


def test_syntax_error_has_its_line() -> None:
    assert _errors("a: [1, 2\nb: 3\n") == [
        "r.yaml:2:2: error: invalid YAML: while parsing a flow sequence (line 1), "
        "did not find expected ',' or ']'"]


def test_two_documents_are_an_error() -> None:
    assert _errors("a: 1\n---\nb: 2\n") == [
        "r.yaml:2:1: error: invalid YAML: expected a single document in the stream (line 1), "
        "but found another document"]


def test_merge_keys_and_anchors() -> None:
    doc = yamlpos.load("base: &b {size: 1024x1024, n: 1}\nx:\n  <<: *b\n  n: 2\n", "r.yaml")
    assert doc.diagnostics == ()
    assert doc.data["x"] == {"n": 2, "size": "1024x1024"}


def test_keys_are_text_even_when_they_look_like_bools_or_numbers() -> None:
    doc = yamlpos.load("on: 1\n2: yes\n", "r.yaml")
    assert doc.data == {"on": 1, "2": "yes"}


def test_alias_bomb_is_stopped() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
              f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
              f"*{chr(97 + i)}, *{chr(97 + i)}]" for i in range(7)]
    errors = _errors("\n".join(lines) + "\n")
    assert len(errors) == 1 and errors[0].endswith(
        "error: document too large: more than 100,000 values once aliases are expanded")


def test_deep_nesting_is_an_error_at_the_first_level_too_deep() -> None:
    assert _errors("a: " + "[" * 100 + "]" * 100 + "\n") == [
        "r.yaml:1:67: error: invalid YAML: nested deeper than 64 levels"]


def test_very_deep_nesting_is_the_same_error_not_a_crash() -> None:
    # Some PyYAML builds stop this while scanning, before any event, so only the line is pinned.
    errors = _errors("a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert len(errors) == 1 and re.fullmatch(
        r"r\.yaml:1:\d+: error: invalid YAML: nested deeper than 64 levels", errors[0])


def test_empty_document() -> None:
    doc = yamlpos.load("# nothing\n", "r.yaml")
    assert (doc.data, doc.diagnostics) == (None, ())


def test_an_alias_inside_its_own_anchor_is_an_error_not_a_crash() -> None:
    assert _errors("version: 1\nassets: &a\n  x: *a\n") == [
        "r.yaml:2:9: error: an alias refers to a node that contains it (a cycle); YAML anchors here may "
        "only repeat finished values"]
    assert len(_errors("a: &a {<<: *a}\n")) == 1
    assert len(_errors("a: &a [1, [2, *a]]\n")) == 1


def test_a_long_chain_of_anchors_is_measured_without_recursion() -> None:
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 400)]
    errors = _errors("\n".join(lines) + "\n")
    assert errors == [
        "r.yaml:1:1: error: invalid YAML: nested deeper than 64 levels once aliases are expanded"]


def test_shared_anchors_are_fine_within_the_limits() -> None:
    doc = yamlpos.load("a: &x [1]\nb: &y [*x, *x]\nc: [*y, *y]\n", "r.yaml")
    assert doc.diagnostics == () and doc.data["c"] == [[[1], [1]], [[1], [1]]]
