"""An output a recipe glob matches is an error: the build would write an image where the next lint
reads recipes. And the loader does not call the linter (the commands compose them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from assetgen.lint import lint

PACKAGE = Path(__file__).parent.parent / "assetgen"


def _project(root: Path, output: str, globs: str | None = None) -> None:
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(
        f"version: 1\ndefaults: {{model: gpt-image-1.5}}\nassets:\n  b:\n    prompt: p\n"
        f"    outputs:\n      - path: {output}\n        format: png\n", encoding="utf-8")
    if globs is not None:
        (root / "assetgen.yaml").write_text(f"recipes: {globs}\n", encoding="utf-8")


def test_a_png_written_as_a_recipe_file_name_is_an_error(tmp_path: Path) -> None:
    _project(tmp_path, "recipes/b.yaml")
    assert [str(d) for d in lint([], tmp_path)] == [
        "recipes/a.yaml:7:9: error: output 'recipes/b.yaml' is matched by the recipe glob "
        "'recipes/**/*.yaml': the next lint would read the image as a recipe; write outputs outside the "
        "recipe folders"]


@pytest.mark.parametrize(("globs", "output", "matched"), [
    ('["recipes/*"]', "recipes/b.png", True),
    ('["recipes/*"]', "recipes/sub/b.png", False),
    ('["**/*.yml", "r/*.yaml"]', "deep/er/x.yml", True),
    ('["**/*.yml"]', "x.yml", True),
    ('["./r/[ab].yaml"]', "r/b.yaml", True),
    ('["r/[ab].yaml"]', "r/c.yaml", False),
    ('["r/**"]', "r/x.png", False),
    ('["recipes/**/*.yaml"]', "icons/b.yaml", False),
])
def test_any_path_a_recipe_glob_matches(tmp_path: Path, globs: str, output: str, matched: bool) -> None:
    _project(tmp_path, output, globs)
    messages = [d.message for d in lint(["recipes/a.yaml"], tmp_path)]
    assert any("is matched by the recipe glob" in m for m in messages) is matched, messages


def test_the_loader_does_not_import_the_linter() -> None:
    for module in sorted((PACKAGE / "recipe").glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.startswith("assetgen.lint")], module.name
