"""`assetgen show VARIANT`: each step's rendered prompt and parameters and the outputs, no call."""

from __future__ import annotations

from pathlib import Path

from reviewkit import project

from assetgen.cli import main


def test_show_prints_the_rendered_prompt_parameters_and_outputs(tmp_path: Path, capsys) -> None:
    project(tmp_path)
    assert main(["show", "icon-shield", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "icon-shield  (asset icon in recipes/a.yaml): run\n"
        "  matrix: kind=shield\n"
        "  step 1: generate (run)\n"
        "    prompt: A shield, flat game icon\n"
        "    params: model=gpt-image-1.5, quality=low, size=1024x1024\n"
        "    why:    new\n"
        "  candidate 0: not made yet\n"
        "  output out/icon-shield.png (png, candidate 0): run  (new)\n")
    assert not (tmp_path / "out").exists()          # nothing was called or written
    assert not (tmp_path / "assetgen.lock").exists()


def test_show_names_the_chain_and_the_images_once_built(tmp_path: Path, capsys) -> None:
    project(tmp_path)
    assert main(["build", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["show", "banner", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "  step 2: edit (cached)\n    prompt: Add a storm\n" in out
    assert "    input:  image: step 1, candidate 0\n" in out
    assert "  candidate 0: sha256:" in out
    assert "  output out/banner.jpg (jpeg, candidate 0): cached\n" in out


def test_an_asset_key_or_a_glob_shows_each_variant(tmp_path: Path, capsys) -> None:
    project(tmp_path)
    assert main(["show", "icon", str(tmp_path)]) == 0
    heads = [line for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")]
    assert heads == ["icon-sword  (asset icon in recipes/a.yaml): run", "",
                     "icon-shield  (asset icon in recipes/a.yaml): run"]


def test_an_unknown_variant_is_a_usage_error_with_a_suggestion(tmp_path: Path, capsys) -> None:
    project(tmp_path)
    assert main(["show", "icon-swrd", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "'icon-swrd' names no variant or asset (did you mean icon-sword?)\n"
