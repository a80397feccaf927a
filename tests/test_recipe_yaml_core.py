"""Plain YAML values follow the YAML 1.2 core schema (what editors with the recipe's $schema use):
`on`, `off`, `yes`, `no`, `NO` stay words, and `12:30` or `010` are not base-60 or octal numbers."""

from __future__ import annotations

from pathlib import Path

from assetgen.cli import main
from assetgen.recipe import yamlpos


def test_words_and_times_stay_text() -> None:
    doc = yamlpos.load("a: [on, off, yes, no, NO, y, 12:30, 1_000, 0b11]\n", "r.yaml")
    assert doc.data == {"a": ["on", "off", "yes", "no", "NO", "y", "12:30", "1_000", "0b11"]}


def test_core_schema_values_keep_their_types() -> None:
    text = "a: [true, False, TRUE, null, ~, 7, -3, 010, 0o10, 0x1f, 1.5, 1e3, -.5, '5', \"on\"]\n"
    doc = yamlpos.load(text, "r.yaml")
    assert doc.data == {"a": [True, False, True, None, None, 7, -3, 10, 8, 31, 1.5, 1000.0, -0.5, "5", "on"]}


def test_a_matrix_of_words_names_variants_by_the_words(tmp_path: Path, capsys) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "version: 1\ndefaults: {model: gpt-image-1.5}\nassets:\n  lamp:\n"
        "    matrix: {state: [on, off], country: [NO]}\n"
        '    prompt: "A lamp switched {{ state }} in {{ country }}"\n'
        '    output: "o/{{ name }}.png"\n', encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["lamp-off-NO.png", "lamp-on-NO.png"]
