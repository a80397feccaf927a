"""`assetgen plan` after a change to a few recipe files since the last build (`.assetgen/plan-cache.json`):
it loads only the changed files, and prints what a cold plan of a copy of the project prints (JSON,
text, `--changed`), with the same exit code."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from openedkit import recording

from assetgen.cli import main
from assetgen.run.plancache import CACHE_FILE, CHANGES_FILE, RACY_NS

PROJECT = """\
version: 1
provider: local
recipes: ['recipes/**/*.yaml']
defaults:
  model: gpt-image-2
  size: 16x16
"""
MODES = (["--json"], [], ["--changed"], ["--json", "--changed"])


def _settle() -> None:
    """Past the window in which a stat cannot be trusted to show a later change."""
    time.sleep(RACY_NS / 1e9 * 1.5)


def _run(root: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    cwd = Path.cwd()
    os.chdir(root)
    try:
        capsys.readouterr()
        code = main(argv)
        out = capsys.readouterr()
        return code, out.out, out.err
    finally:
        os.chdir(cwd)


def _project(root: Path, capsys: pytest.CaptureFixture[str], n: int = 10) -> Path:
    (root / "recipes" / "000").mkdir(parents=True)
    (root / "recipes" / "001").mkdir()
    (root / "assetgen.yaml").write_text(PROJECT)
    for i in range(n):
        (root / "recipes" / f"{i % 2:03d}" / f"a{i}.yaml").write_text(
            f"version: 1\nassets:\n  a{i}:\n    prompt: \"Asset {i}\"\n    outputs:\n"
            f"      - path: \"out/a{i}.png\"\n      - path: \"out/a{i}.webp\"\n        quality: 80\n")
    assert _run(root, ["build"], capsys)[0] == 0
    _settle()
    return root


def _grid(root: Path) -> Path:
    """A project with a 40-value matrix recipe (not built yet); the recipe's path."""
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT)
    values = ", ".join(str(i) for i in range(40))
    recipe = root / "recipes" / "grid.yaml"
    recipe.write_text(f"version: 1\nassets:\n  tile:\n    matrix:\n      i: [{values}]\n"
                      "    prompt: \"Tile {{ i }}\"\n    output: \"out/{{ name }}.png\"\n")
    return recipe


def _plans(root: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str, str]]:
    return [_run(root, ["plan", *mode], capsys) for mode in MODES]


def _cold(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str, str]]:
    """Every mode's plan of a copy of the project (its lock, outputs and cache, no plan cache)."""
    copy = tmp_path / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True,
                    ignore=shutil.ignore_patterns(CACHE_FILE, CHANGES_FILE, "build-stamp.json"))
    found = []
    for mode in MODES:
        for name in (CACHE_FILE, CHANGES_FILE, "build-stamp.json"):
            (copy / ".assetgen" / name).unlink(missing_ok=True)
        found.append(_run(copy, ["plan", *mode], capsys))
    return found


def _change(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new, 1))
    _settle()


def _warm(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[tuple[int, str, str]], set[str]]:
    """Every mode's plan, and the project files the first one opened."""
    with recording() as opened:
        first = _run(root, ["plan", *MODES[0]], capsys)
    found = [first, *(_run(root, ["plan", *mode], capsys) for mode in MODES[1:])]
    return found, {Path(p).relative_to(root).as_posix() for p in opened if Path(p).is_relative_to(root)}


def test_after_one_change_only_that_file_is_loaded_and_the_plan_is_the_cold_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", capsys)
    _change(root / "recipes" / "001" / "a3.yaml", "Asset 3", "Asset three")
    _plans(root, capsys)    # the full plan, which keeps each file's lines
    assert (root / ".assetgen" / CACHE_FILE).is_file()
    _change(root / "recipes" / "000" / "a4.yaml", "Asset 4", "Asset four")
    warm, opened = _warm(root, capsys)
    recipes = {p for p in opened if p.startswith("recipes/")}
    assert recipes == {"recipes/000/a4.yaml", "recipes/001/a3.yaml"}    # changed since the build
    assert ".assetgen/recipe-cache.json" not in opened      # not every recipe through the recipe cache
    assert warm == _cold(root, tmp_path, capsys)
    assert "run     generate a4  (prompt changed)" in warm[1][1]
    assert warm[1][1].endswith("30 actions, 6 to run; estimated $0.00, 0s\n")


def test_a_change_the_stored_lines_cannot_answer_gives_the_cold_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", capsys)
    _change(root / "recipes" / "001" / "a3.yaml", "Asset 3", "Asset three")
    _plans(root, capsys)
    # a reference to another file's asset: the plan is no longer file by file
    _change(root / "recipes" / "001" / "a5.yaml", "    prompt: \"Asset 5\"\n",
            "    steps:\n      - edit: \"Frame it\"\n        image: {asset: a2}\n")
    warm, opened = _warm(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    assert "run     edit     a5" in warm[1][1]
    # and back: the full plan wrote no lines for a plan with references across files
    edit = "    steps:\n      - edit: \"Frame it\"\n        image: {asset: a2}\n"
    _change(root / "recipes" / "001" / "a5.yaml", edit, "    prompt: \"Asset 5\"\n")
    assert _plans(root, capsys) == _cold(root, tmp_path, capsys)


@pytest.mark.parametrize("change", ["recipe error", "project file", "damaged cache", "new recipe file",
                                    "same action in two files", "output removed"])
def test_what_else_can_change_gives_the_cold_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str) -> None:
    root = _project(tmp_path / "p", capsys)
    _change(root / "recipes" / "001" / "a3.yaml", "Asset 3", "Asset three")
    _plans(root, capsys)
    file = root / "recipes" / "000" / "a4.yaml"
    if change == "recipe error":
        _change(file, "quality: 80", "quality: 800")
    elif change == "project file":
        _change(root / "assetgen.yaml", "size: 16x16", "size: 32x32")
    elif change == "damaged cache":
        cache = root / ".assetgen" / CACHE_FILE
        data = bytearray(cache.read_bytes())
        data[len(data) // 2] ^= 0x01
        cache.write_bytes(bytes(data))
        _change(file, "Asset 4", "Asset four")
    elif change == "new recipe file":
        (root / "recipes" / "001" / "new.yaml").write_text(
            "version: 1\nassets:\n  new:\n    prompt: \"New\"\n    output: out/new.png\n")
        _settle()
    elif change == "same action in two files":     # a4 now makes a6's rendition too
        _change(file, "Asset 4", "Asset 6")
    else:
        (root / "out" / "a8.webp").unlink()
        _change(file, "Asset 4", "Asset four")
    warm, _ = _warm(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)


def test_many_plans_after_changes_keep_giving_the_cold_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", capsys, n=12)
    for i in range(6):
        _change(root / "recipes" / f"{i % 2:03d}" / f"a{i}.yaml", f"Asset {i}\"", f"Asset {i} v2\"")
        warm, _ = _warm(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    assert _run(root, ["build"], capsys)[0] == 0
    _change(root / "recipes" / "001" / "a9.yaml", "Asset 9", "Asset nine")
    warm, opened = _warm(root, capsys)
    assert {p for p in opened if p.startswith("recipes/")} == {"recipes/001/a9.yaml"}
    assert warm == _cold(root, tmp_path, capsys)


def test_a_changed_value_of_a_large_matrix_plans_that_variant_and_the_cold_plan_is_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "p"
    recipe = _grid(root)
    (root / "recipes" / "other.yaml").write_text(
        "version: 1\nassets:\n  other:\n    prompt: \"Other\"\n    output: out/other.png\n")
    assert _run(root, ["build"], capsys)[0] == 0
    _settle()
    _change(recipe, ", 7, ", ", 107, ")
    _plans(root, capsys)    # the full plan
    _change(recipe, ", 107, ", ", 207, ")
    warm, opened = _warm(root, capsys)
    assert ".assetgen/recipe-cache.json" not in opened
    assert warm == _cold(root, tmp_path, capsys)
    assert "run     generate tile-207  (new)" in warm[1][1] or "tile-207" in warm[1][1]


def test_a_file_changed_just_before_each_plan_still_takes_the_quick_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its stat is too recent to keep its lines; it is planned again each time it is a changed file,
    and the other files' lines still come from the plan cache."""
    root = _project(tmp_path / "p", capsys)
    file = root / "recipes" / "001" / "a3.yaml"
    file.write_text(file.read_text().replace("Asset 3", "Asset three"))
    _run(root, ["plan", "--json"], capsys)      # the full plan, right after the change
    file.write_text(file.read_text().replace("Asset three", "Asset 3!"))
    warm, opened = _warm(root, capsys)
    assert ".assetgen/recipe-cache.json" not in opened
    assert {p for p in opened if p.startswith("recipes/")} == {"recipes/001/a3.yaml"}
    assert warm == _cold(root, tmp_path, capsys)


def test_a_matrix_changed_just_before_each_plan_still_takes_the_quick_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its stat is too recent to trust, but the lines of the variants the build kept are checked
    against the build's actions, not against the stat: the next plan still takes them."""
    root = tmp_path / "p"
    recipe = _grid(root)
    assert _run(root, ["build"], capsys)[0] == 0
    _settle()
    for old, new in ((", 7, ", ", 107, "), (", 107, ", ", 207, "), (", 207, ", ", 307, ")):
        recipe.write_text(recipe.read_text().replace(old, new, 1))     # no pause before the plan
        with recording() as opened:
            _run(root, ["plan", "--json"], capsys)
        quick = ".assetgen/recipe-cache.json" not in {
            Path(p).relative_to(root).as_posix() for p in opened if Path(p).is_relative_to(root)}
    assert quick
    assert [_run(root, ["plan", *mode], capsys) for mode in MODES] == _cold(root, tmp_path, capsys)


@pytest.mark.parametrize("line", [[["x"], "generate", ["a5"], "a5"], ["?", 5, ["a5"], "a5"],
                                  ["?", "generate", "a5", "a5"], ["?", "generate", ["a5"]], "line"])
def test_stored_lines_of_the_wrong_shape_give_the_cold_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], line: object) -> None:
    import json

    from assetgen import statefiles

    root = _project(tmp_path / "p", capsys)
    _change(root / "recipes" / "001" / "a3.yaml", "Asset 3", "Asset three")
    _plans(root, capsys)
    cache = root / ".assetgen" / CACHE_FILE
    body = json.loads(cache.read_bytes().partition(b"\n")[2])
    lines = body["files"]["recipes/001/a5.yaml"][1]
    if isinstance(line, list) and line[0] == "?":
        line[0] = lines[0][0]       # the right id: only the rest is wrong
    lines[0] = line
    cache.write_bytes(statefiles.with_checksum(body))
    (root / ".assetgen" / CHANGES_FILE).unlink(missing_ok=True)
    _change(root / "recipes" / "000" / "a4.yaml", "Asset 4", "Asset four")
    warm, _ = _warm(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)


@pytest.mark.parametrize("damage", ["id", "dropped", "twice", "moved", "a list for a name"])
def test_stored_lines_of_kept_matrix_variants_that_are_not_their_actions_give_the_cold_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    import json

    from assetgen import statefiles

    root = tmp_path / "p"
    recipe = _grid(root)
    assert _run(root, ["build"], capsys)[0] == 0
    _settle()
    _change(recipe, ", 7, ", ", 107, ")
    _plans(root, capsys)
    cache = root / ".assetgen" / CACHE_FILE
    body = json.loads(cache.read_bytes().partition(b"\n")[2])
    lines = body["files"]["recipes/grid.yaml"][1]
    kept = [i for i, line in enumerate(lines) if line[2] == ["tile-3"]]
    assert kept
    if damage == "id":
        lines[kept[0]][0] = "0" * 16
    elif damage == "dropped":
        del lines[kept[0]]
    elif damage == "twice":
        lines.append(list(lines[kept[0]]))
    elif damage == "moved":
        lines[kept[0]][2] = ["tile-4"]
    else:
        lines[kept[0]][2] = [["tile-3"]]
    cache.write_bytes(statefiles.with_checksum(body))
    (root / ".assetgen" / CHANGES_FILE).unlink(missing_ok=True)
    _change(recipe, ", 107, ", ", 207, ")
    warm, _ = _warm(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
