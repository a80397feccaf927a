"""`exclude` entries that can never match are mistakes that lint names."""

from __future__ import annotations

from pathlib import Path

from assetgen.lint import lint
from assetgen.recipe.load import load_project

RECIPE = """\
defaults: {{model: gpt-image-1.5}}
assets:
  a:
    matrix: {{kind: [sword, shield], tint: [red, blue]}}
    exclude:
      - {exclude}
    prompt: "A {{{{ tint }}}} {{{{ kind }}}}"
    output: "o/{{{{ name }}}}.png"
"""


def _lint(root: Path, exclude: str) -> list[str]:
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(RECIPE.format(exclude=exclude), encoding="utf-8")
    return [str(d) for d in lint([], root)]


def test_an_exclude_key_not_in_the_matrix_is_an_error(tmp_path: Path) -> None:
    assert _lint(tmp_path, "{kind: sword, colour: red}") == [
        "recipes/a.yaml:6:23: error: exclude[0] names 'colour', which is not a matrix key (kind, tint)"]


def test_an_exclude_that_matches_no_combination_is_a_warning(tmp_path: Path) -> None:
    assert _lint(tmp_path, "{kind: swrod}") == [
        "recipes/a.yaml:6:9: warning: exclude[0] matches no combination of the matrix"]


def test_a_good_exclude_is_quiet(tmp_path: Path) -> None:
    assert _lint(tmp_path, "{kind: sword, tint: blue}") == []


def _lint_text(root: Path, recipe: str) -> list[str]:
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(recipe, encoding="utf-8")
    return [str(d) for d in lint([], root)]


def test_an_exclude_that_drops_every_combination_is_a_warning(tmp_path: Path) -> None:
    recipe = ("defaults: {model: gpt-image-1.5}\nassets:\n  a:\n    matrix: {tint: [red, blue]}\n"
              "    exclude:\n      - {tint: red}\n      - {tint: blue}\n    prompt: x\n"
              "    output: 'o/{{ name }}.png'\n")
    assert _lint_text(tmp_path, recipe) == [
        "recipes/a.yaml:5:5: warning: asset 'a' makes no variant: exclude drops every combination of "
        "the matrix"]


def test_an_exclude_without_a_matrix_is_an_error(tmp_path: Path) -> None:
    recipe = ("defaults: {model: gpt-image-1.5}\nassets:\n  a:\n    exclude: [{tint: red}]\n    prompt: x\n"
              "    output: a.png\n")
    assert _lint_text(tmp_path, recipe) == [
        "recipes/a.yaml:4:5: error: 'exclude' needs a 'matrix' to drop combinations from"]


def test_include_without_a_matrix_lists_the_combinations(tmp_path: Path) -> None:
    recipe = ("defaults: {model: gpt-image-1.5}\nassets:\n  gem:\n    include: [{cut: round}, {cut: heart}]\n"
              "    prompt: 'A {{ cut }} gem'\n    output: 'o/{{ name }}.png'\n  ring:\n    steps:\n"
              "      - edit: set it in a ring\n        image: {asset: gem}\n    output: ring.png\n")
    assert _lint_text(tmp_path, recipe) == [
        "recipes/a.yaml:10:16: error: {asset: gem} names an asset with a matrix; name one of its variants, "
        "e.g. 'gem-round'"]
    assert [v.name for v in load_project([], tmp_path).project.variants()] == ["gem-round", "gem-heart"]
