"""`assetgen lint` after a change to a few recipe files (`.assetgen/lint-cache.json`): it reads only
the changed files (and those that refer to them or that they refer to), and its output, in every
format, and its exit code are those of a cold lint of a copy of the project."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from openedkit import recording
from PIL import Image

from assetgen.cli import main
from assetgen.lint.incremental import CACHE_FILE, RACY_NS

PROJECT = """\
version: 1
provider: local
recipes: ['recipes/**/*.yaml']
defaults:
  model: gpt-image-2
  size: 64x64
"""

FORMATS = ("text", "json", "github")


def _asset(i: int, extra: str = "") -> str:
    return f"version: 1\nassets:\n  a{i}:\n    prompt: \"Asset {i}\"\n{extra}    output: \"out/a{i}.png\"\n"


def _project(root: Path, n: int = 12) -> Path:
    (root / "recipes" / "000").mkdir(parents=True)
    (root / "recipes" / "001").mkdir()
    (root / "photos").mkdir()
    (root / "assetgen.yaml").write_text(PROJECT)
    for i in range(n):
        (root / "recipes" / f"{i % 2:03d}" / f"a{i}.yaml").write_text(_asset(i))
    # an error (a missing input) and a warning (quality on a PNG) in files that will not change
    (root / "recipes" / "000" / "broken.yaml").write_text(
        "version: 1\nassets:\n  broken:\n    steps:\n      - edit: \"Fix\"\n        image: photos/none.png\n"
        "    output: out/broken.png\n")
    (root / "recipes" / "001" / "warned.yaml").write_text(
        "version: 1\nassets:\n  warned:\n    prompt: \"Warned\"\n    outputs:\n      - path: out/warned.png\n"
        "        quality: 80\n")
    # one file reads an image, one refers to another's asset
    Image.new("RGB", (64, 64), (9, 9, 9)).save(root / "photos" / "p.png")
    (root / "recipes" / "000" / "photo.yaml").write_text(
        "version: 1\nassets:\n  photo:\n    steps:\n      - edit: \"Brighten\"\n        image: photos/p.png\n"
        "    output: out/photo.png\n")
    (root / "recipes" / "001" / "user.yaml").write_text(
        "version: 1\nassets:\n  user:\n    steps:\n      - edit: \"Frame it\"\n        image: {asset: a2}\n"
        "    output: out/user.png\n")
    _settle()
    return root


def _settle() -> None:
    """Past the window in which a stat cannot be trusted to show a later change."""
    time.sleep(RACY_NS / 1e9 * 1.5)


def _lint(root: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    cwd = Path.cwd()
    os.chdir(root)
    try:
        capsys.readouterr()
        code = main(["lint", "--format", fmt])
        return code, capsys.readouterr().out
    finally:
        os.chdir(cwd)


def _cold(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[int, str]]:
    """Every format's lint of a copy of the project without any state."""
    copy = tmp_path / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".assetgen"))
    found = {}
    for fmt in FORMATS:
        shutil.rmtree(copy / ".assetgen", ignore_errors=True)
        found[fmt] = _lint(copy, fmt, capsys)
    return found


def _warm(root: Path, capsys: pytest.CaptureFixture[str],
          seen: set[str] | None = None) -> tuple[dict[str, tuple[int, str]], set[str]]:
    """Every format's lint, and the recipe files the first of them read (`seen`: every file of
    the project it opened)."""
    with recording() as opened:
        first = _lint(root, FORMATS[0], capsys)
    found = {FORMATS[0]: first} | {fmt: _lint(root, fmt, capsys) for fmt in FORMATS[1:]}
    files = {Path(p).relative_to(root).as_posix() for p in opened if Path(p).is_relative_to(root)}
    if seen is not None:
        seen.update(files)
    return found, {f for f in files if f.startswith("recipes/")}


def _change(path: Path, old: str, new: str, settle: bool = True) -> None:
    path.write_text(path.read_text().replace(old, new, 1))
    if settle:
        _settle()


def test_after_one_change_only_that_file_is_read_and_the_output_is_the_cold_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    first = _cold(root, tmp_path, capsys)
    assert first["text"][0] == 1 and "photos/none.png' does not exist" in first["text"][1]
    _lint(root, "text", capsys)     # the full lint, which writes the lint cache
    assert (root / ".assetgen" / CACHE_FILE).is_file()
    _change(root / "recipes" / "001" / "a5.yaml", "Asset 5", "Asset five")
    seen: set[str] = set()
    warm, read = _warm(root, capsys, seen)
    assert read == {"recipes/001/a5.yaml"}
    # not every recipe through the recipe cache, nor the input images of the files that did not change
    assert ".assetgen/recipe-cache.json" not in seen and "photos/p.png" not in seen
    assert warm == _cold(root, tmp_path, capsys)
    # the error and the warning of the files that did not change are still there
    assert warm["text"][0] == 1
    assert "error: input image 'photos/none.png' does not exist" in warm["text"][1]
    assert "'quality' has no effect on png output 'out/warned.png'" in warm["text"][1]
    # nothing changed: nothing read, the same output
    again, read = _warm(root, capsys)
    assert read == set() and again == warm


def test_a_change_that_adds_a_diagnostic_and_one_that_fixes_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    _lint(root, "text", capsys)
    _change(root / "recipes" / "000" / "a4.yaml", "    output:", "    size: 3x3\n    output:")
    warm, read = _warm(root, capsys)
    assert read == {"recipes/000/a4.yaml"}
    assert warm == _cold(root, tmp_path, capsys)
    assert "a4.yaml" in warm["text"][1]
    _change(root / "recipes" / "000" / "broken.yaml", "photos/none.png", "photos/p.png")
    warm, read = _warm(root, capsys)
    assert "recipes/000/broken.yaml" in read
    assert warm == _cold(root, tmp_path, capsys)
    assert "none.png" not in warm["text"][1]


def test_a_file_that_refers_to_a_changed_one_is_checked_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    _lint(root, "text", capsys)
    # a2 now makes two candidates: user.yaml's reference to it needs a pick
    _change(root / "recipes" / "000" / "a2.yaml", '    output: "out/a2.png"',
            '    n: 2\n    output: "out/a2-{{ index }}.png"')
    warm, read = _warm(root, capsys)
    assert read == {"recipes/000/a2.yaml", "recipes/001/user.yaml"}
    assert warm == _cold(root, tmp_path, capsys)
    assert "{asset: a2} makes 2 candidates" in warm["text"][1]


@pytest.mark.parametrize("change", ["duplicate output", "duplicate name", "output over an input",
                                    "unknown reference"])
def test_a_clash_with_another_file_gives_the_full_lints_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str) -> None:
    root = _project(tmp_path / "p")
    _lint(root, "text", capsys)
    file = root / "recipes" / "001" / "a3.yaml"
    if change == "duplicate output":
        _change(file, "out/a3.png", "OUT/A4.png")
    elif change == "duplicate name":
        _change(file, "  a3:", "  a4:")
    elif change == "output over an input":
        _change(file, "out/a3.png", "photos/p.png")
    else:
        _change(file, "    output:", "    steps:\n      - edit: \"x\"\n        image: {asset: a44}\n"
                "    output:")
        _change(file, "    prompt: \"Asset 3\"\n", "")
    warm, _ = _warm(root, capsys)
    cold = _cold(root, tmp_path, capsys)
    assert warm == cold
    assert cold["text"][0] == 1


def test_a_changed_input_image_is_checked_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    _lint(root, "text", capsys)
    (root / "photos" / "p.png").write_bytes(b"not an image")
    _settle()
    warm, read = _warm(root, capsys)
    assert read == {"recipes/000/photo.yaml"}
    assert warm == _cold(root, tmp_path, capsys)
    assert "input image 'photos/p.png' is not an image Pillow can read" in warm["text"][1]


@pytest.mark.parametrize("change", ["defaults", "own model", "new recipe file", "removed recipe file",
                                    "saved by renaming", "damaged cache", "folder turned symlink"])
def test_what_else_can_change_gives_the_cold_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str) -> None:
    root = _project(tmp_path / "p")
    _lint(root, "text", capsys)
    if change == "defaults":        # the project file: every file again
        _change(root / "assetgen.yaml", "size: 64x64", "size: 64x65")
    elif change == "own model":     # the project's own catalog rows
        _change(root / "assetgen.yaml", "  model: gpt-image-2", "  model: my-model")
        (root / "assetgen.yaml").write_text((root / "assetgen.yaml").read_text() + (
            "models:\n  my-model:\n    like: gpt-image-2\n"))
    elif change == "new recipe file":
        (root / "recipes" / "001" / "new.yaml").write_text(_asset(99).replace("out/a99.png", "out/a1.png"))
    elif change == "removed recipe file":
        (root / "recipes" / "000" / "a2.yaml").unlink()
    elif change == "saved by renaming":
        file = root / "recipes" / "001" / "a7.yaml"
        (file.parent / ".a7.tmp").write_text(file.read_text().replace("Asset 7", "Asset seven"))
        os.replace(file.parent / ".a7.tmp", file)
    elif change == "damaged cache":
        cache = root / ".assetgen" / CACHE_FILE
        data = bytearray(cache.read_bytes())
        data[len(data) // 2] ^= 0x01
        cache.write_bytes(bytes(data))
    else:
        outside = tmp_path / "outside"
        outside.mkdir()
        (root / "out").mkdir(exist_ok=True)
        shutil.rmtree(root / "out")
        (root / "out").symlink_to(outside, target_is_directory=True)
    warm, read = _warm(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    if change == "saved by renaming":
        assert read == {"recipes/001/a7.yaml"}
    if change == "folder turned symlink":
        assert "escapes the project root through a symlink" in warm["text"][1]


def test_a_rename_save_then_more_changes_keep_giving_the_cold_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """More changes than the lint cache waits for before it is written again."""
    root = _project(tmp_path / "p", n=40)
    _lint(root, "text", capsys)
    for i in range(0, 40, 2):
        _change(root / "recipes" / "000" / f"a{i}.yaml", f"Asset {i}\"", f"Asset {i}!\"", settle=False)
        warm, _ = _warm(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    _settle()
    _lint(root, "text", capsys)     # files changed just before a run are read again until one is written
    _change(root / "recipes" / "001" / "a1.yaml", "Asset 1\"", "Asset one\"")
    warm, read = _warm(root, capsys)
    assert read == {"recipes/001/a1.yaml"}
    assert warm == _cold(root, tmp_path, capsys)


@pytest.mark.parametrize("command", [["lint"], ["plan", "--json"]])
def test_nothing_is_read_written_or_removed_through_a_symlinked_state_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """A project whose lint or plan keeps nothing (a duplicate output; a reference across files),
    so a stale cache would be removed."""
    root = tmp_path / "p"
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "a.yaml").write_text(_asset(1))
    second = _asset(2).replace("out/a2.png", "out/a1.png") if command == ["lint"] else (
        "version: 1\nassets:\n  b:\n    steps:\n      - edit: \"Frame it\"\n        image: {asset: a1}\n"
        "    output: out/b.png\n")
    (root / "recipes" / "b.yaml").write_text(second)
    names = [CACHE_FILE, "lint-cache-changes.json", "plan-cache.json", "plan-cache-changes.json"]
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in names:
        (outside / name).write_bytes(b"not assetgen's")
    (root / ".assetgen").symlink_to(outside, target_is_directory=True)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        main(command)
    finally:
        os.chdir(cwd)
    capsys.readouterr()
    assert sorted(p.name for p in outside.iterdir()) == sorted(names)
    assert all(p.read_bytes() == b"not assetgen's" for p in outside.iterdir())


# -- a large matrix, linted in part ---------------------------------------------------------

def _grid(root: Path, values: int = 40) -> Path:
    """The project, and a recipe whose matrix edits one photo per value."""
    _project(root)
    (root / "photos" / "grid").mkdir()
    for i in range(values):
        _photo(root, f"t{i}")
    listed = ", ".join(f"t{i}" for i in range(values))
    recipe = root / "recipes" / "grid.yaml"
    recipe.write_text(f"version: 1\nassets:\n  grid:\n    matrix:\n      i: [{listed}]\n    steps:\n"
                      "      - edit: \"Frame {{ i }}\"\n        image: \"photos/grid/{{ i }}.png\"\n"
                      "    output: \"out/{{ name }}.png\"\n")
    _settle()
    return recipe


def _photo(root: Path, name: str) -> None:
    Image.new("RGB", (64, 64), (9, 9, 9)).save(root / "photos" / "grid" / f"{name}.png")


def _photos(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, tuple[int, str]], set[str]]:
    """Every format's lint, and the grid's photos the first of them read."""
    seen: set[str] = set()
    warm, _ = _warm(root, capsys, seen)
    return warm, {p.removeprefix("photos/grid/") for p in seen if p.startswith("photos/grid/")}


def test_a_changed_matrix_value_is_checked_alone_and_the_output_is_the_cold_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "p"
    recipe = _grid(root)
    _lint(root, "text", capsys)
    (root / ".assetgen" / CACHE_FILE).unlink()
    _lint(root, "text", capsys)     # the full lint, the files' results from the recipe cache
    _photo(root, "t107")
    _change(recipe, ", t7, ", ", t107, ")
    warm, photos = _photos(root, capsys)
    assert photos == {"t107.png"}   # not the photos of the 39 values that did not change
    assert warm == _cold(root, tmp_path, capsys)
    assert warm["text"][0] == 1 and "photos/none.png' does not exist" in warm["text"][1]
    assert "grid" not in warm["text"][1]
    _photo(root, "t207")        # one more value, one fewer
    _change(recipe, ", t107, ", ", t107, t207, ")
    _change(recipe, ", t3, ", ", ")
    warm, photos = _photos(root, capsys)
    assert photos == {"t207.png"}
    assert warm == _cold(root, tmp_path, capsys)


def test_errors_in_a_changed_value_and_in_values_that_did_not_change_give_the_cold_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "p"
    recipe = _grid(root)
    _lint(root, "text", capsys)
    _change(recipe, ", t7, ", ", t77, ")        # no photo: an error in the changed value
    warm, photos = _photos(root, capsys)
    assert photos == {"t77.png"} or photos == set()
    assert warm == _cold(root, tmp_path, capsys)
    assert "error: input image 'photos/grid/t77.png' does not exist" in warm["text"][1]
    _change(recipe, ", t77, ", ", t7, ")        # fixed
    warm, _ = _photos(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    assert "grid" not in warm["text"][1]
    (root / "photos" / "grid" / "t3.png").unlink()     # an error in a value that does not change
    _settle()
    warm, _ = _photos(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    assert "error: input image 'photos/grid/t3.png' does not exist" in warm["text"][1]
    _photo(root, "t107")
    _change(recipe, ", t7, ", ", t107, ")
    warm, _ = _photos(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    assert "photos/grid/t3.png' does not exist" in warm["text"][1]
    assert "t107" not in warm["text"][1]
    _photo(root, "t3")          # fixed: checked in part again after the next change
    _settle()
    warm, _ = _photos(root, capsys)
    assert warm == _cold(root, tmp_path, capsys) and "grid" not in warm["text"][1]
    _photo(root, "t207")
    _change(recipe, ", t107, ", ", t207, ")
    warm, photos = _photos(root, capsys)
    assert photos == {"t207.png"}
    assert warm == _cold(root, tmp_path, capsys)


@pytest.mark.parametrize(("change", "said"), [
    ("name of a kept variant", "duplicate variant name 'grid-7'"),
    ("output of a kept variant in another case", "differ only in case"),
    ("the same value twice", "duplicate variant name 'grid-t3'"),
    ("input of a kept variant", "would overwrite an input of variant 'grid-t3x'"),
    ("a warning", "'quality' has no effect on png output 'out/t7.png'"),
    ("prompt", None),
    ("a line more", None),
    ("pick mapping", "pick names 'grid-t5', which is not a variant"),
])
def test_a_matrix_change_that_clashes_or_changes_more_than_values_gives_the_cold_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, said: str | None) -> None:
    root = tmp_path / "p"
    recipe = _grid(root)
    if change == "a warning":       # outputs named by the values, of the format they say
        for i in range(40):
            _photo(root, f"t{i}.jpg")
        _photo(root, "t7.png")
        _change(recipe, "    output: \"out/{{ name }}.png\"\n",
                "    outputs:\n      - path: \"out/{{ i }}\"\n        quality: 80\n")
        listed = ", ".join(f"t{i}.jpg" for i in range(40))
        text = recipe.read_text()
        recipe.write_text(text[:text.index("[") + 1] + listed + text[text.index("]"):])
        _settle()
    if change == "input of a kept variant":
        _change(recipe, "    output: \"out/{{ name }}.png\"\n",
                "    outputs:\n      - path: \"out/{{ name }}.png\"\n"
                "      - path: \"photos/grid/{{ i }}x.png\"\n")
    if change == "name of a kept variant":      # "7" and 7: two values, one name
        _photo(root, "7")
        _change(recipe, ", t7, ", ", \"7\", ")
    if change == "pick mapping":
        _change(recipe, "    output:", "        n: 2\n        pick: {grid-t3: 1, grid-t5: 0}\n    output:")
        _change(recipe, "out/{{ name }}.png", "out/{{ name }}-{{ index }}.png")
    first = _lint(root, "text", capsys)
    assert "grid" not in first[1]
    if change == "name of a kept variant":
        _change(recipe, ", t8, ", ", 7, ")
    elif change == "output of a kept variant in another case":
        _photo(root, "T3")
        _change(recipe, ", t7, ", ", T3, ")
    elif change == "the same value twice":
        _change(recipe, ", t7, ", ", t3, ")
    elif change == "input of a kept variant":
        _photo(root, "t3x")
        _change(recipe, ", t7, ", ", t3x, ")
    elif change == "a warning":
        _change(recipe, ", t7.jpg, ", ", t7.png, ")
    elif change == "prompt":
        _change(recipe, "Frame {{ i }}", "Frame it: {{ i }}")
    elif change == "a line more":               # every place after the list moves
        _change(recipe, ", t7, ", ",\n        t7, ")
    else:
        _change(recipe, ", t5, ", ", t55, ")
    warm, _ = _photos(root, capsys)
    assert warm == _cold(root, tmp_path, capsys)
    if said is not None:
        assert said in warm["text"][1]


def test_a_matrix_changed_just_before_each_lint_is_still_checked_in_part(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "p"
    recipe = _grid(root)
    _lint(root, "text", capsys)
    for old, new in (("t7", "t107"), ("t107", "t207"), ("t207", "t307")):
        _photo(root, new)
        _change(recipe, f", {old}, ", f", {new}, ", settle=False)
        warm, photos = _photos(root, capsys)
    assert photos == {"t307.png"}
    assert warm == _cold(root, tmp_path, capsys)


def test_a_lint_after_a_matrix_change_imports_no_json_schema(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    root = tmp_path / "p"
    recipe = _grid(root)
    _lint(root, "text", capsys)
    script = ("import sys\nfrom assetgen.cli import main\ncode = main(['lint'])\n"
              "print(code, 'jsonschema' in sys.modules)\n")
    run = [sys.executable, "-c", script]
    _photo(root, "t107")
    _change(recipe, ", t7, ", ", t107, ")
    done = subprocess.run(run, cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "1 False"
    # loaded whole: checked by the schema's generated code, which it passes
    _change(recipe, "Frame {{ i }}", "Frame it: {{ i }}")
    done = subprocess.run(run, cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "1 False"
    _change(recipe, "edit: \"Frame it: {{ i }}\"", "edit: [\"Frame it\"]")     # JSON Schema words it
    done = subprocess.run(run, cwd=root, capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "1 True", done.stdout
    assert "grid.yaml:7:9: error: invalid value for 'assets.grid.steps[0].edit'" in done.stdout
