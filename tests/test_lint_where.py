"""Diagnostics name files relative to where the command runs (GitHub annotations: to the git root),
and `assetgen lint` from a monorepo root checks every project below it, as the pre-commit hook runs."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assetgen import cli

REPO = Path(__file__).parent.parent
BAD = """\
version: 1
defaults: {model: gpt-image-1.5}
assets:
  sword:
    prompt: "A {{ colour }} sword"
    output: items/sword.png
"""


def _monorepo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    game = tmp_path / "game"
    (game / "recipes").mkdir(parents=True)
    (game / "assetgen.yaml").write_text('recipes: ["recipes/**/*.yaml"]\n', encoding="utf-8")
    (game / "recipes" / "items.yaml").write_text(BAD, encoding="utf-8")
    return tmp_path


def _run(cwd: Path, args: list[str], capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_project_in_a_subfolder_is_named_from_the_current_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = _monorepo(tmp_path)
    code, out, _ = _run(root, ["lint", "game/", "--format", "github"], capsys, monkeypatch)
    assert (code, out) == (1, "::error file=game/recipes/items.yaml,line=5,col=19::undefined variable "
                              "'colour' in prompt\n")
    code, out, _ = _run(root, ["lint", "game/"], capsys, monkeypatch)
    assert out == "game/recipes/items.yaml:5:19: error: undefined variable 'colour' in prompt\n"
    code, _, err = _run(root, ["plan", "game/"], capsys, monkeypatch)
    assert (code, err) == (2, "game/recipes/items.yaml:5:19: error: undefined variable 'colour' in prompt\n")


def test_github_annotations_name_files_from_the_git_root(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = _monorepo(tmp_path)
    code, out, _ = _run(root / "game" / "recipes", ["lint", "--format", "github"], capsys, monkeypatch)
    assert out.startswith("::error file=game/recipes/items.yaml,line=5,col=19::")
    code, out, _ = _run(root / "game" / "recipes", ["lint"], capsys, monkeypatch)
    assert out.startswith("items.yaml:5:19: error:")


def test_lint_from_a_monorepo_root_checks_the_projects_below(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = _monorepo(tmp_path)
    (root / "web" / "art" / "recipes").mkdir(parents=True)
    (root / "web" / "art" / "assetgen.yaml").write_text("{}\n", encoding="utf-8")
    (root / "web" / "art" / "recipes" / "a.yaml").write_text(BAD.replace("sword", "logo"), encoding="utf-8")
    code, out, _ = _run(root, ["lint"], capsys, monkeypatch)
    assert (code, out) == (1, "game/recipes/items.yaml:5:19: error: undefined variable 'colour' in prompt\n"
                              "web/art/recipes/a.yaml:5:19: error: undefined variable 'colour' in prompt\n")


def test_the_pre_commit_hook_fails_on_a_project_in_a_subfolder(tmp_path: Path) -> None:
    hook = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]
    assert hook["pass_filenames"] is False
    entry = shlex.split(hook["entry"])
    assert entry[0] == "assetgen"
    done = subprocess.run([sys.executable, "-m", "assetgen", *entry[1:]], cwd=_monorepo(tmp_path),
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (
        1, "game/recipes/items.yaml:5:19: error: undefined variable 'colour' in prompt\n")
