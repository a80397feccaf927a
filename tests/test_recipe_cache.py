"""The recipe cache (`.assetgen/recipe-cache.json`): a run that reuses what unchanged recipe files
produced gives exactly the diagnostics and the plan a cold run gives, whatever changed between
runs (a recipe, the project file, an input image, a folder turned symlink) and however the cache
file was damaged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.lint import lint
from assetgen.recipe.filecache import CACHE_FILE

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))

PROJECT = """\
version: 1
provider: local
defaults:
  model: gpt-image-2
  size: 64x64
"""

ICONS = """\
version: 1
vars:
  style: "flat"
assets:
  icon:
    matrix:
      kind: [sun, moon, star]
    prompt: "A {{ kind }}, {{ style }}"
    outputs:
      - path: "out/{{ name }}.png"
      - path: "out/small/{{ name }}.webp"
        quality: 80
        resize: 16x16
"""

FRAMED = """\
version: 1
assets:
  framed:
    steps:
      - edit: "Frame it"
        image: {asset: icon-sun}
        mask: masks/m.png
    output: out/framed.png
  photo:
    steps:
      - edit: "Brighten"
        image: photos/p.png
    output: out/photo.png
"""


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "photos").mkdir()
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "icons.yaml").write_text(ICONS)
    (root / "recipes" / "framed.yaml").write_text(FRAMED)
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(root / "masks" / "m.png")
    Image.new("RGB", (64, 64), (9, 9, 9)).save(root / "photos" / "p.png")
    return root


def _lint(root: Path) -> list[str]:
    return [str(d) for d in lint([], root)]


def _cold_lint(root: Path) -> list[str]:
    (root / ".assetgen" / CACHE_FILE).unlink(missing_ok=True)
    return _lint(root)


def _plan(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    cwd = Path.cwd()
    os.chdir(root)
    try:
        capsys.readouterr()
        code = main(["plan", "--json"])
        return code, capsys.readouterr().out
    finally:
        os.chdir(cwd)


def _body(cache: Path) -> dict[str, Any]:
    """The cache's JSON, after its first line (the sha256 of the rest)."""
    return json.loads(cache.read_bytes().partition(b"\n")[2])


def _write_body(cache: Path, body: dict[str, Any]) -> None:
    """Write `body` as the cache would, with a checksum that matches."""
    payload = json.dumps(body).encode("utf-8")
    cache.write_bytes(hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload)


def _cached_files(root: Path) -> set[str]:
    return set(_body(root / ".assetgen" / CACHE_FILE)["files"])


@pytest.mark.parametrize("name", CASES)
def test_every_corpus_recipe_lints_the_same_from_the_cache(tmp_path: Path, name: str) -> None:
    (tmp_path / "recipes").mkdir()
    shutil.copy(CORPUS / f"{name}.yaml", tmp_path / "recipes" / f"{name}.yaml")
    cold = _lint(tmp_path)
    assert _lint(tmp_path) == cold
    assert _lint(tmp_path) == cold


def test_a_second_run_reuses_unchanged_files_and_loads_changed_ones(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _lint(root)
    assert _cached_files(root) == {"recipes/icons.yaml", "recipes/framed.yaml"}
    # What the cache holds is what a run uses: a stored diagnostic added by hand shows...
    body = _body(root / ".assetgen" / CACHE_FILE)
    body["files"]["recipes/icons.yaml"][2]["diagnostics"].append([[0, 1, 1], "warning", "from the cache"])
    _write_body(root / ".assetgen" / CACHE_FILE, body)
    assert any("from the cache" in d for d in _lint(root))
    # ... until the file's bytes change: then the file is loaded again.
    (root / "recipes" / "icons.yaml").write_text(ICONS.replace("flat", "bold"))
    warm = _lint(root)
    assert not any("from the cache" in d for d in warm)
    assert warm == _cold_lint(root)


def test_a_touched_file_with_the_same_bytes_is_reused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    cold = _lint(root)
    recipe = root / "recipes" / "icons.yaml"
    recipe.write_text(recipe.read_text())
    assert _lint(root) == cold
    assert _lint(root) == _cold_lint(root)


def test_a_changed_recipe_gives_what_a_cold_run_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    root = _project(tmp_path)
    _lint(root)
    _plan(root, capsys)
    # a duplicate output path across the two files: the project-wide checks see the new file
    (root / "recipes" / "framed.yaml").write_text(FRAMED.replace("out/photo.png", "out/icon-moon.png"))
    warm = _lint(root)
    assert any("duplicate output path 'out/icon-moon.png'" in d for d in warm)
    assert warm == _cold_lint(root)
    (root / "recipes" / "framed.yaml").write_text(FRAMED)
    warm_plan = _plan(root, capsys)
    (root / ".assetgen" / CACHE_FILE).unlink()
    assert warm_plan == _plan(root, capsys)


def test_a_change_to_the_project_file_gives_what_a_cold_run_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    root = _project(tmp_path)
    before = _plan(root, capsys)
    _lint(root)
    # the defaults reach every recipe's requests, and their lines reach the diagnostics
    (root / "assetgen.yaml").write_text(PROJECT.replace("size: 64x64", "quality: low\n  size: 32x32"))
    warm_lint = _lint(root)
    warm_plan = _plan(root, capsys)
    assert warm_plan != before      # the new defaults are in every request's id
    assert warm_lint == _cold_lint(root)
    (root / ".assetgen" / CACHE_FILE).unlink()
    assert warm_plan == _plan(root, capsys)


def test_a_changed_input_image_gives_what_a_cold_run_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    root = _project(tmp_path)
    assert not any("mask" in d for d in _lint(root))
    before = _plan(root, capsys)
    Image.new("RGB", (32, 32)).save(root / "masks" / "m.png")
    Image.new("RGB", (64, 64), (200, 9, 9)).save(root / "photos" / "p.png")
    warm = _lint(root)
    assert any("mask 'masks/m.png' has no alpha channel" in d for d in warm)
    assert warm == _cold_lint(root)
    (root / "masks" / "m.png").unlink()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(root / "masks" / "m.png")
    warm_plan = _plan(root, capsys)
    assert warm_plan != before     # the photo's hash is in its edit's id
    (root / ".assetgen" / CACHE_FILE).unlink()
    assert warm_plan == _plan(root, capsys)


@pytest.mark.parametrize("damage", [
    b"", b"{", b"\xff\xfe not json", b"[]", b'{"format": 1}', b'{"format": 99, "files": {}}',
    "same environment, broken entries", "same environment, entries of another shape",
])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: bytes | str,
) -> None:
    root = _project(tmp_path)
    cold = _lint(root)
    cold_plan = _plan(root, capsys)
    cache = root / ".assetgen" / CACHE_FILE
    if damage == "same environment, broken entries":
        body = _body(cache)
        files = body["files"]
        files["recipes/icons.yaml"][2]["variants"][0] = {"not": "a variant"}
        files["recipes/framed.yaml"][2] = {"variants": [[None, None, [], [], [], [0, 1, 1]]], "files": ["x"]}
        _write_body(cache, body)
    elif isinstance(damage, str):       # each entry is decoded only when its file is looked up
        body = _body(cache)
        body["files"]["recipes/icons.yaml"] = "not an entry"
        body["files"]["recipes/framed.yaml"] = [[1, 2], body["files"]["recipes/framed.yaml"][1], []]
        _write_body(cache, body)
    else:
        cache.write_bytes(damage)
    assert _lint(root) == cold
    assert _plan(root, capsys) == cold_plan
    assert _cached_files(root) == {"recipes/icons.yaml", "recipes/framed.yaml"}
    assert _lint(root) == cold


def test_a_changed_digit_that_keeps_the_json_valid_is_caught_by_the_checksum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # A size, an n or a pick changed in the stored variants would be a wrong request, paid for:
    # the first line (the sha256 of the rest) makes the whole file ignored instead.
    root = _project(tmp_path)
    cold_plan = _plan(root, capsys)
    cache = root / ".assetgen" / CACHE_FILE
    raw = cache.read_bytes()
    assert raw.count(b'"64x64"') > 0
    cache.write_bytes(raw.replace(b'"64x64"', b'"64x46"'))
    assert _plan(root, capsys) == cold_plan
    assert b'"64x46"' not in cache.read_bytes()


def test_a_folder_that_became_a_symlink_out_of_the_project_is_caught_on_reuse(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (tmp_path / "elsewhere").mkdir()
    assert not any("symlink" in d for d in _lint(root))
    (root / "out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    warm = _lint(root)
    assert any("escapes the project root through a symlink" in d for d in warm)
    assert warm == _cold_lint(root)


def test_a_symlink_out_of_the_project_that_is_removed_is_no_longer_reported(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (tmp_path / "elsewhere").mkdir()
    (root / "out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert any("escapes the project root through a symlink" in d for d in _lint(root))
    (root / "out").unlink()
    (root / "out").mkdir()
    warm = _lint(root)
    assert not any("symlink" in d for d in warm)
    assert warm == _cold_lint(root)


def test_nothing_is_read_or_written_through_a_symlinked_state_folder(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    cold = _lint(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / CACHE_FILE).write_bytes((root / ".assetgen" / CACHE_FILE).read_bytes())
    body = _body(outside / CACHE_FILE)
    body["files"]["recipes/icons.yaml"][2]["diagnostics"].append([[0, 1, 1], "warning", "from outside"])
    _write_body(outside / CACHE_FILE, body)
    before = (outside / CACHE_FILE).read_bytes()
    shutil.rmtree(root / ".assetgen")
    (root / ".assetgen").symlink_to(outside, target_is_directory=True)
    (root / "recipes" / "framed.yaml").write_text(FRAMED.replace("Brighten", "Darken"))
    warm = _lint(root)
    assert not any("from outside" in d for d in warm)
    assert (outside / CACHE_FILE).read_bytes() == before
    assert sorted(p.name for p in outside.iterdir()) == [CACHE_FILE]
    (root / ".assetgen").unlink()
    (root / "recipes" / "framed.yaml").write_text(FRAMED)
    assert _lint(root) == cold


def test_a_removed_recipe_leaves_the_cache(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _lint(root)
    (root / "recipes" / "framed.yaml").unlink()
    assert _lint(root) == _cold_lint(root)
    assert _cached_files(root) == {"recipes/icons.yaml"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_state_folder_still_lints(tmp_path: Path) -> None:
    root = _project(tmp_path)
    cold = _lint(root)
    (root / ".assetgen" / CACHE_FILE).unlink()
    (root / ".assetgen").chmod(0o500)
    try:
        assert _lint(root) == cold
    finally:
        (root / ".assetgen").chmod(0o700)
