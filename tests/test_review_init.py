"""`assetgen init`: a project that lints and builds offline, and never overwrites a file."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from assetgen.cli import main


def test_init_scaffolds_a_project_that_lints_and_builds(tmp_path: Path, capsys) -> None:
    root = tmp_path / "game"
    assert main(["init", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"created {root / 'recipes/example.yaml'}" in out
    assert (root / ".gitignore").read_text(encoding="utf-8") == ".assetgen/\n"
    recipe = (root / "recipes" / "example.yaml").read_text(encoding="utf-8")
    assert recipe.startswith("# yaml-language-server: $schema=../schema/recipe.schema.json\n")
    assert (root / "schema" / "recipe.schema.json").is_file()
    assert (root / "schema" / "project.schema.json").is_file()
    assert main(["lint", str(root)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["build", str(root)]) == 0
    with Image.open(root / "build" / "icons" / "gem-round-ruby.png") as img:
        assert img.size == (1024, 1024)
    assert (root / "assetgen.lock").is_file()
    with Image.open(root / "build" / "emblem.png") as img, \
            Image.open(root / "build" / "emblem" / "candidate-0.webp") as small:
        assert (img.size, small.size) == ((1024, 1024), (256, 256))


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, capsys) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "example.yaml").write_text("# mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"not overwriting recipes/example.yaml in {tmp_path}: init starts a new project; "
        "remove it or choose another folder\n")
    assert (tmp_path / "recipes" / "example.yaml").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "assetgen.yaml").exists()
    assert not (tmp_path / ".gitignore").exists()


def test_init_adds_the_ignore_line_to_an_existing_gitignore_once(tmp_path: Path, capsys) -> None:
    (tmp_path / ".gitignore").write_text("node_modules", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 0
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == "node_modules\n.assetgen/\n"
    other = tmp_path / "other"
    other.mkdir()
    (other / ".gitignore").write_text("/.assetgen\n", encoding="utf-8")
    assert main(["init", str(other)]) == 0
    assert (other / ".gitignore").read_text(encoding="utf-8") == "/.assetgen\n"
