"""Command-line mistakes on `build`, `plan` and `gc` are usage errors (exit 2) that run nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  icon:
    matrix: {kind: [sword, shield]}
    prompt: "A {{ kind }}"
    output: "out/{{ name }}.png"
"""


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "a.yaml").write_text(RECIPE, encoding="utf-8")
    (root / "assetgen.yaml").write_text('recipes: ["recipes/**/*.yaml"]\n', encoding="utf-8")
    return root


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("flag", ["--only", "--force"])
def test_a_pattern_that_matches_no_asset_is_a_usage_error(tmp_path: Path, capsys, flag: str) -> None:
    root = _project(tmp_path)
    code, out, err = _run(["build", str(root), flag, "icon-swrod"], capsys)
    assert (code, out) == (2, "")
    assert err == f"{flag} 'icon-swrod' matches no asset or variant\n"
    assert not (root / "out").exists()
    assert not (root / "assetgen.lock").exists()


def test_patterns_that_match_still_build(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    code, _, _ = _run(["build", str(root), "--only", "icon", "--force", "icon-s*"], capsys)
    assert code == 0
    assert sorted(p.name for p in (root / "out").iterdir()) == ["icon-shield.png", "icon-sword.png"]


@pytest.mark.parametrize("command", ["build", "plan", "gc"])
def test_no_recipe_files_is_a_usage_error(tmp_path: Path, capsys, command: str) -> None:
    root = _project(tmp_path)
    (root / "assetgen.yaml").write_text('recipes: ["recipe/**/*.yaml"]\n', encoding="utf-8")
    (root / "assetgen.lock").write_text('{"assets": {}, "version": 1}\n', encoding="utf-8")
    code, out, err = _run([command, str(root)], capsys)
    assert (code, out) == (2, "")
    assert err == f"no recipe files match recipe/**/*.yaml in {root}\n"
    assert sorted(p.name for p in root.iterdir()) == ["assetgen.lock", "assetgen.yaml", "recipes"]


def test_a_typo_in_the_recipe_globs_keeps_the_lock_file(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert _run(["build", str(root)], capsys)[0] == 0
    lock = (root / "assetgen.lock").read_text()
    (root / "assetgen.yaml").write_text('recipes: ["recipe/**/*.yaml"]\n', encoding="utf-8")
    assert _run(["build", str(root)], capsys)[0] == 2
    assert (root / "assetgen.lock").read_text() == lock


@pytest.mark.parametrize(("args", "message"), [
    (["-j", "0"], "argument -j/--jobs: expected a whole number of at least 1, got '0'"),
    (["-j", "-2"], "argument -j/--jobs: expected a whole number of at least 1, got '-2'"),
    (["--max-cost", "-1"], "argument --max-cost: expected an amount in USD of 0 or more, got '-1'"),
    (["--max-cost", "nan"], "argument --max-cost: expected an amount in USD of 0 or more, got 'nan'"),
])
def test_bad_numbers_are_usage_errors(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    root = _project(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["build", str(root), *args])
    assert exc.value.code == 2
    assert capsys.readouterr().err.endswith(f"assetgen build: error: {message}\n")
    assert not (root / "out").exists()


@pytest.mark.parametrize("command", ["build", "plan", "gc"])
def test_one_recipe_glob_that_matches_nothing_is_a_usage_error(tmp_path: Path, capsys, command: str) -> None:
    root = _project(tmp_path)
    assert _run(["build", str(root)], capsys)[0] == 0
    lock = (root / "assetgen.lock").read_text(encoding="utf-8")
    outputs = sorted(p.name for p in (root / "out").iterdir())
    (root / "assetgen.yaml").write_text('recipes: ["recipes/*.yaml", "recipe/extra/*.yaml"]\n',
                                        encoding="utf-8")
    code, out, err = _run([command, str(root)], capsys)
    assert (code, out) == (2, "")
    assert err == (f"recipe glob 'recipe/extra/*.yaml' in assetgen.yaml matches no file in {root}; fix or "
                   "remove it (building without it would drop the assets it was meant to find)\n")
    assert (root / "assetgen.lock").read_text(encoding="utf-8") == lock
    assert sorted(p.name for p in (root / "out").iterdir()) == outputs
    assert _run(["lint", str(root)], capsys)[:2] == (   # named as given: outside the current folder
        0, f"{root}/assetgen.yaml:1:29: warning: recipe glob 'recipe/extra/*.yaml' matches no file\n")
