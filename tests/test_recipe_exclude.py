"""`exclude` entries that can never match are mistakes that lint names."""

from __future__ import annotations

from pathlib import Path

from assetgen.lint import lint

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
