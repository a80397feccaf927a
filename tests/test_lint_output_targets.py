"""An output path must never overwrite what the build reads or keeps: recipes, the project file,
the lock file, `.assetgen/`, or an input image or mask."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from assetgen.cli import main
from assetgen.lint import lint

RECIPE = """\
defaults: {{model: gpt-image-1.5}}
assets:
  x:
    outputs: [{{path: "{path}", format: png}}]
    prompt: a cat
  y:
    steps:
      - edit: frame it
        image: brand/logo.png
    output: y.png
"""


def _project(root: Path, path: str) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "a.yaml").write_text(RECIPE.format(path=path), encoding="utf-8")
    (root / "brand").mkdir()
    Image.new("RGBA", (1024, 1024)).save(root / "brand" / "logo.png")
    (root / "assetgen.yaml").write_text("provider: local\n", encoding="utf-8")
    return root


def _errors(root: Path) -> list[str]:
    return [str(d) for d in lint([], root) if d.severity.value == "error"]


def test_output_over_a_recipe_file(tmp_path: Path) -> None:
    assert _errors(_project(tmp_path, "recipes/a.yaml")) == [
        "recipes/a.yaml:4:15: error: output 'recipes/a.yaml' would overwrite a recipe file"]


def test_output_over_the_project_and_lock_files(tmp_path: Path) -> None:
    assert _errors(_project(tmp_path / "p", "assetgen.yaml")) == [
        "recipes/a.yaml:4:15: error: output 'assetgen.yaml' would overwrite the project file"]
    assert _errors(_project(tmp_path / "l", "assetgen.lock")) == [
        "recipes/a.yaml:4:15: error: output 'assetgen.lock' would overwrite the lock file"]


def test_output_inside_the_state_folder(tmp_path: Path) -> None:
    assert _errors(_project(tmp_path, ".assetgen/stat-cache.json")) == [
        "recipes/a.yaml:4:15: error: output '.assetgen/stat-cache.json' would write into "
        "assetgen's state folder .assetgen/"]


def test_output_over_an_input_image(tmp_path: Path) -> None:
    assert _errors(_project(tmp_path, "brand/logo.png")) == [
        "recipes/a.yaml:4:15: error: output 'brand/logo.png' would overwrite an input of variant 'y' "
        "at recipes/a.yaml:9:16; to use another asset's image, refer to it with {asset: NAME}"]


def test_build_refuses_and_leaves_the_recipe_alone(tmp_path: Path, monkeypatch, capsys) -> None:
    root = _project(tmp_path, "recipes/a.yaml")
    before = (root / "recipes" / "a.yaml").read_bytes()
    monkeypatch.chdir(root)
    assert main(["build"]) == 2
    assert "would overwrite a recipe file" in capsys.readouterr().err
    assert (root / "recipes" / "a.yaml").read_bytes() == before
    assert not (root / "assetgen.lock").exists()


def test_paths_that_differ_only_in_case_are_the_same_target(tmp_path: Path) -> None:
    """On macOS and Windows 'Assetgen.lock' is the lock file: lint on Linux CI must say so."""
    same = "on macOS and Windows (paths that differ only in case are one file): it"
    assert _errors(_project(tmp_path / "l", "Assetgen.lock")) == [
        f"recipes/a.yaml:4:15: error: output 'Assetgen.lock' is 'assetgen.lock' {same} "
        "would overwrite the lock file"]
    assert _errors(_project(tmp_path / "r", "Recipes/A.yaml")) == [
        f"recipes/a.yaml:4:15: error: output 'Recipes/A.yaml' is 'recipes/a.yaml' {same} "
        "would overwrite a recipe file"]
    assert _errors(_project(tmp_path / "s", ".Assetgen/x.png")) == [
        f"recipes/a.yaml:4:15: error: output '.Assetgen/x.png' is '.assetgen/x.png' {same} "
        "would write into assetgen's state folder .assetgen/"]
    assert _errors(_project(tmp_path / "i", "Brand/Logo.png")) == [
        f"recipes/a.yaml:4:15: error: output 'Brand/Logo.png' is 'brand/logo.png' {same} "
        "would overwrite an input of variant 'y' at recipes/a.yaml:9:16; to use another asset's image, "
        "refer to it with {asset: NAME}"]


def test_build_refuses_the_lock_file_in_another_case(tmp_path: Path, monkeypatch, capsys) -> None:
    root = _project(tmp_path, "Assetgen.lock")
    monkeypatch.chdir(root)
    assert main(["build"]) == 2
    assert "would overwrite the lock file" in capsys.readouterr().err
    assert not (root / "Assetgen.lock").exists()
