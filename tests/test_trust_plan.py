"""`plan` shows what a build would do: the outputs it would remove, `--only` and `--force` as on
build (so a re-roll's cost is seen before paying), and `--changed` for only what is not cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  hero:
    prompt: "A hero"
    output: out/hero.png
  villain:
    prompt: "A villain"
    output: out/villain.png
"""


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "a.yaml").write_text(RECIPE, encoding="utf-8")
    assert main(["build", str(root)]) == 0
    return root


def _plan(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    assert main(["plan", str(root), *extra]) == 0
    return capsys.readouterr().out


def test_plan_lists_the_outputs_a_build_would_remove(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    recipe = root / "recipes" / "a.yaml"
    villain = '  villain:\n    prompt: "A villain"\n    output: out/villain.png\n'
    recipe.write_text(RECIPE.replace(villain, ""))
    text = _plan(root, capsys)
    assert "remove  orphan   out/villain.png  (no recipe writes it any more)\n" in text
    assert text.splitlines()[-1].startswith("2 actions, 0 to run, 1 output to remove;")
    assert json.loads(_plan(root, capsys, "--json"))["removes"] == ["out/villain.png"]
    assert (root / "out" / "villain.png").is_file()     # plan removes nothing
    assert main(["build", str(root)]) == 0
    out = capsys.readouterr().out
    assert "removed out/villain.png: no recipe writes it any more\n" in out


def test_plan_force_shows_the_cost_of_a_reroll(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    data = json.loads(_plan(root, capsys, "--provider", "azure", "--json"))
    calls = {a["assets"][0]: a for a in data["actions"] if a["op"] == "generate"}
    assert {n: a["status"] for n, a in calls.items()} == {"hero": "run", "villain": "run"}
    (root / "assetgen.yaml").write_text("provider: local\n")
    text = _plan(root, capsys, "--force", "hero")
    assert "run     generate hero  (forced)\n" in text
    assert "cached  generate villain\n" in text
    forced = json.loads(_plan(root, capsys, "--force", "hero", "--provider", "azure", "--json"))
    assert forced["est_cost_usd"] > 0
    with pytest.raises(SystemExit):
        main(["plan", str(root), "--force"])
    capsys.readouterr()
    assert main(["plan", str(root), "--force", "nobody"]) == 2
    assert capsys.readouterr().err == "--force 'nobody' matches no asset or variant\n"


def test_plan_only_and_changed(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    recipe = root / "recipes" / "a.yaml"
    recipe.write_text(RECIPE.replace("A hero", "A brave hero"))
    text = _plan(root, capsys, "--only", "villain")
    assert "hero" not in text and "cached  generate villain\n" in text
    text = _plan(root, capsys, "--changed")
    assert text.splitlines()[:-1] == ["run     generate hero  (prompt changed)",
                                      "run     render   out/hero.png  (upstream asset hero changed)"]
    assert text.splitlines()[-1].startswith("4 actions, 2 to run;")
    data = json.loads(_plan(root, capsys, "--changed", "--json"))
    assert [a["status"] for a in data["actions"]] == ["run", "run"]
