"""The plain-text summary of `build` reads as English for counts of one."""

from __future__ import annotations

from pathlib import Path

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  icon:
    prompt: "A sword"
    output: out/icon.png
"""


def test_counts_of_one_are_singular(tmp_path: Path, capsys) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(RECIPE, encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "2 actions: 1 call made, 1 cached, 0 failed; 0 requests; 1 output written"
    (tmp_path / "recipes" / "a.yaml").write_text(RECIPE.replace("A sword", "A shield"), encoding="utf-8")
    assert main(["build", str(tmp_path), "--frozen"]) == 1
    assert capsys.readouterr().out == "--frozen: 1 asset needs an API call; nothing was run\n"
