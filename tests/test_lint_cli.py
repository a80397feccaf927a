"""`assetgen lint`: output formats and exit codes, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assetgen import cli

REPO = Path(__file__).parent.parent

BAD = """\
defaults: {model: gpt-image-1.5}
assets:
  x:
    prompt: "A {{ colour }}, cat"
    output: x.png
"""
WARN_ONLY = """\
assets:
  x:
    prompt: a cat
    output: x.png
"""


def _write(root: Path, text: str, name: str = "a.yaml") -> Path:
    (root / "recipes").mkdir(exist_ok=True)
    path = root / "recipes" / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_example_project_lints_clean_as_a_subprocess() -> None:
    done = subprocess.run([sys.executable, "-m", "assetgen", "lint", "recipes/"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_text_format_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, BAD)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(["lint"], capsys)
    assert code == 1
    assert out == "recipes/a.yaml:4:19: error: undefined variable 'colour' in prompt\n"


def test_json_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, BAD)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(["lint", "--format", "json"], capsys)
    assert code == 1
    assert json.loads(out) == [{"file": "recipes/a.yaml", "line": 4, "col": 19, "severity": "error",
                                "message": "undefined variable 'colour' in prompt"}]


def test_github_format_escapes_properties(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, BAD, "b,c.yaml")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(["lint", "--format", "github"], capsys)
    assert code == 1
    assert out == "::error file=recipes/b%2Cc.yaml,line=4,col=19::undefined variable 'colour' in prompt\n"


def test_warnings_alone_exit_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, WARN_ONLY)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(["lint", "--format", "github"], capsys)
    assert code == 0
    assert out.startswith("::warning file=recipes/a.yaml,line=3,col=5::no model set for this step")


def test_a_missing_path_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(["lint", "nowhere.yaml"], capsys)
    assert (code, out, err) == (2, "", "nowhere.yaml: no such file or folder\n")


def test_a_bad_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["lint", "--format", "xml"])
    assert exc.value.code == 2
    capsys.readouterr()


def test_lint_one_file_of_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "assetgen.yaml").write_text("defaults: {model: gpt-image-1.5}\n", encoding="utf-8")
    _write(tmp_path, BAD, "bad.yaml")
    good = _write(tmp_path, "assets:\n  y:\n    prompt: a dog\n    output: y.png\n", "good.yaml")
    monkeypatch.chdir(good.parent)
    code, out, _ = _run(["lint", "good.yaml"], capsys)
    assert (code, out) == (0, "")
    code, out, _ = _run(["lint", ".."], capsys)    # named from the current folder, recipes/
    assert (code, out) == (1, "bad.yaml:4:19: error: undefined variable 'colour' in prompt\n")


def test_project_file_errors_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "assetgen.yaml").write_text("provider: azur\nrecipe: [x]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(["lint"], capsys)
    assert code == 1
    assert out == (
        "assetgen.yaml:1:1: error: invalid value for 'provider': expected one of 'local', 'azure', 'openai', "
        "got 'azur'\n"
        "assetgen.yaml:2:1: error: unknown key 'recipe' at top level; did you mean 'recipes'?\n"
    )


def test_recipe_globs_that_leave_the_project_are_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "assetgen.yaml").write_text(
        'recipes:\n  - "recipes/*.yaml"\n  - "../other/*.yaml"\n  - "/etc/*.yaml"\n', encoding="utf-8")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "version: 1\nassets:\n  a: {prompt: x, model: gpt-image-1, output: o.png}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    errors = ("assetgen.yaml:3:5: error: recipe glob '../other/*.yaml' leaves the project root; recipe files "
              "live inside the project\n"
              "assetgen.yaml:4:5: error: recipe glob '/etc/*.yaml' is absolute; recipe globs are relative to "
              "the project root\n")
    assert _run(["lint"], capsys)[:2] == (1, errors)
    assert _run(["build"], capsys) == (2, "", errors)
    assert not (tmp_path / "o.png").exists()


def test_recipe_globs_that_match_nothing_are_warned_at_their_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    project = 'provider: local\nrecipes: ["nothing/*.yaml"]\n'
    (tmp_path / "assetgen.yaml").write_text(project, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    warning = "assetgen.yaml:2:11: warning: no recipe files match nothing/*.yaml\n"
    assert _run(["lint"], capsys)[:2] == (0, warning)
