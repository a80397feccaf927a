"""The no-op fast path: taken only when nothing changed, and without importing anything heavy."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main

RECIPE = """\
version: 1
defaults:
  model: gpt-image-2
  size: 32x32
assets:
  gem:
    matrix:
      c: [red, blue]
    prompt: "A {{ c }} gem"
    output: "out/{{ name }}.png"
"""


@pytest.fixture()
def root(tmp_path: Path, capsys) -> Path:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(RECIPE)
    assert main(["build", str(tmp_path), "--json"]) == 0
    capsys.readouterr()
    return tmp_path


def _build(root: Path, capsys) -> tuple[dict, bool]:
    """The summary, and whether the fast path answered (a full build writes a new stamp file or
    changes file; the fast path only sets the stamp's mtime)."""
    files = [root / ".assetgen" / "build-stamp.json", root / ".assetgen" / "build-stamp-changes.json"]
    before = [f.read_bytes() if f.is_file() else None for f in files]
    capsys.readouterr()
    main(["build", str(root), "--json"])
    summary = json.loads(capsys.readouterr().out)
    after = [f.read_bytes() if f.is_file() else None for f in files]
    return summary, before[0] is not None and after == before


def test_fast_path_imports_nothing_heavy(root: Path) -> None:
    code = ("import sys; from assetgen.cli import main; main(['build', sys.argv[1], '--json']); "
            "print(sorted(m for m in ('PIL', 'yaml', 'jinja2', 'httpx', 'rich', 'jsonschema') "
            "if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    out = run.stdout
    summary, modules = out.splitlines()
    assert json.loads(summary)["actions_total"] == 4
    assert modules == "[]"


def test_unchanged_project_is_a_noop(root: Path, capsys) -> None:
    summary, fast = _build(root, capsys)
    assert fast and summary["actions_run"] == 0 and summary["actions_cached"] == 4


def test_recipe_edit_falls_through(root: Path, capsys) -> None:
    path = root / "recipes" / "r.yaml"
    path.write_text(RECIPE.replace("[red, blue]", "[red, blue, green]"))
    summary, _ = _build(root, capsys)
    assert summary["actions_run"] == 1


def test_new_recipe_file_falls_through(root: Path, capsys) -> None:
    (root / "recipes" / "more.yaml").write_text(
        'version: 1\nassets:\n  coin:\n    model: gpt-image-2\n    size: 32x32\n    prompt: "A coin"\n'
        '    output: out/coin.png\n')
    summary, _ = _build(root, capsys)
    assert summary["actions_run"] == 1


def test_a_recipe_file_in_a_hidden_folder_the_glob_finds_falls_through(root: Path, capsys) -> None:
    # recipes/**/*.yaml finds recipes/.drafts/coin.yaml, so the stamp watches that folder too
    drafts = root / "recipes" / ".drafts"
    drafts.mkdir()
    _build(root, capsys)
    (drafts / "coin.yaml").write_text(
        'version: 1\nassets:\n  coin:\n    model: gpt-image-2\n    size: 32x32\n    prompt: "A coin"\n'
        '    output: out/coin.png\n')
    summary, _ = _build(root, capsys)
    assert summary["actions_run"] == 1 and (root / "out" / "coin.png").is_file()


def test_deleted_or_modified_output_falls_through(root: Path, capsys) -> None:
    (root / "out" / "gem-red.png").unlink()
    summary, fast = _build(root, capsys)
    assert (summary["outputs_written"], fast) == (1, False)
    (root / "out" / "gem-blue.png").write_bytes(b"not an image")
    summary, fast = _build(root, capsys)        # a hand edit is kept, and never stamped as built
    assert (summary["outputs_written"], summary["kept"], fast) == (0, ["out/gem-blue.png"], False)
    summary, fast = _build(root, capsys)
    assert (summary["outputs_written"], summary["kept"], fast) == (0, ["out/gem-blue.png"], False)
    assert main(["build", str(root), "--overwrite"]) == 0
    summary, fast = _build(root, capsys)
    assert (summary["outputs_written"], fast) == (0, True)


def test_lock_change_falls_through(root: Path, capsys) -> None:
    lock = root / "assetgen.lock"
    lock.write_text(lock.read_text().replace('"A red gem"', '"A ruby gem"'))
    summary, fast = _build(root, capsys)
    assert not fast
    assert summary["actions_run"] == 0
    assert '"A red gem"' in lock.read_text()


def _rewrite_keeping_stat(path: Path, data: bytes) -> None:
    """Overwrite a file in place with other bytes of the same size, then restore its mtime."""
    before = path.stat()
    assert len(data) == before.st_size
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    kept = (before.st_size, before.st_mtime_ns, before.st_ino)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == kept


def test_recipe_rewritten_with_mtime_kept_falls_through(root: Path, capsys) -> None:
    path = root / "recipes" / "r.yaml"
    _rewrite_keeping_stat(path, RECIPE.replace("[red, blue]", "[tan, blue]").encode())
    summary, fast = _build(root, capsys)
    assert (fast, summary["actions_run"]) == (False, 1)
    assert (root / "out" / "gem-tan.png").is_file()


def _png(colour: tuple[int, int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (32, 32), colour).save(buf, "PNG", compress_level=0)    # stored: size fixed
    return buf.getvalue()


@pytest.mark.parametrize("stamped", [True, False])
def test_input_image_rewritten_with_mtime_kept_is_hashed_again(tmp_path: Path, capsys, stamped: bool) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(
        "version: 1\nassets:\n  tinted:\n    model: gpt-image-2\n    size: 32x32\n    steps:\n"
        "      - edit: Tint it\n        image: art/base.png\n    output: out/tinted.png\n")
    (tmp_path / "art").mkdir()
    base = tmp_path / "art" / "base.png"
    base.write_bytes(_png((200, 0, 0, 255)))
    assert main(["build", str(tmp_path), "--json"]) == 0
    first = (tmp_path / "out" / "tinted.png").read_bytes()
    _rewrite_keeping_stat(base, _png((0, 0, 200, 255)))
    if not stamped:
        (tmp_path / ".assetgen" / "build-stamp.json").unlink()
    summary, fast = _build(tmp_path, capsys)
    assert (fast, summary["actions_run"], summary["outputs_written"]) == (False, 1, 1)
    lock = json.loads((tmp_path / "assetgen.lock").read_text())
    step = lock["assets"]["tinted"]["steps"][0]
    assert step["inputs"][0]["sha256"] == hashlib.sha256(base.read_bytes()).hexdigest()
    with Image.open(tmp_path / "out" / "tinted.png") as image:
        assert image.size == (32, 32)
    assert (tmp_path / "out" / "tinted.png").read_bytes() != first


def test_another_pillow_takes_the_full_path(root: Path, tmp_path_factory) -> None:
    """Render keys hold the Pillow version: after an upgrade the stamp must not answer 'nothing
    to do' while `plan` would encode the outputs again."""
    other = tmp_path_factory.mktemp("site") / "PIL"
    other.mkdir()
    (other / "__init__.py").write_text("")
    (other / "_version.py").write_text('__version__ = "0.0.1"\n')
    code = ("import sys; from pathlib import Path; from assetgen.run.stamp import fast_noop; "
            "print(fast_noop([sys.argv[1]], Path.cwd(), None)); print('PIL' in sys.modules)")
    same = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert same.stdout.split() == ["4", "False"]
    env = {**os.environ, "PYTHONPATH": str(other.parent)}
    upgraded = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True,
                              check=True, env=env)
    assert upgraded.stdout.split() == ["None", "False"]
