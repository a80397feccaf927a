"""`build --frozen` writes nothing: any change a build would make on disk (a call, a rendition, an
orphan removal, the lock file) is named, exit 1, and no file changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  store:
    prompt: "A storefront"
    outputs:
      - path: out/store.png
      - path: out/store-square.jpg
        resize: 512x512
        quality: 80
  old:
    prompt: "An old banner"
    output: out/old.png
"""


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "a.yaml").write_text(RECIPE, encoding="utf-8")
    return root


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "recipes" / "a.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside the cache, with its bytes and mtime."""
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".assetgen/cache/"):
            found[rel] = (path.read_bytes(), os.stat(path).st_mtime_ns)
    return found


def _frozen(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["build", str(root), "--frozen", *extra]) == 1
    return capsys.readouterr()


def test_a_changed_jpeg_quality_fails_and_writes_nothing(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root)]) == 0
    _edit(root, "quality: 80", "quality: 90")
    before = _snapshot(root)
    out, err = _frozen(root, capsys)
    assert err == ("stale: out/store-square.jpg: would be written (parameter quality changed (80 -> 90))\n"
                   "stale: assetgen.lock: would change\n")
    assert out == "--frozen: 1 output would be written, assetgen.lock would change; nothing was written\n"
    assert _snapshot(root) == before


def test_an_orphan_removal_fails_and_the_file_stays(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root)]) == 0
    _edit(root, '  old:\n    prompt: "An old banner"\n    output: out/old.png\n', "")
    before = _snapshot(root)
    out, err = _frozen(root, capsys)
    assert err == ("stale: assetgen.lock: would change\n"
                   "stale: out/old.png: would be removed (no recipe writes it any more)\n")
    assert out == "--frozen: 1 output would be removed, assetgen.lock would change; nothing was written\n"
    assert _snapshot(root) == before


def test_a_hand_edited_output_fails(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root)]) == 0
    (root / "out" / "store.png").write_bytes(b"retouched")
    before = _snapshot(root)
    _, err = _frozen(root, capsys)
    assert err.startswith("stale: out/store.png: would be written (output out/store.png changed since")
    assert _snapshot(root) == before


def test_json_names_each_change(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root)]) == 0
    _edit(root, "quality: 80", "quality: 90")
    capsys.readouterr()
    assert main(["build", str(root), "--frozen", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["failures"] == [
        {"asset": "store", "message": "--frozen: out/store-square.jpg would be written "
                                      "(parameter quality changed (80 -> 90))"},
        {"asset": "assetgen.lock", "message": "--frozen: assetgen.lock would change"}]
    assert (result["actions_run"], result["outputs_written"]) == (0, 0)


def test_an_up_to_date_project_passes(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root)]) == 0
    (root / ".assetgen" / "build-stamp.json").unlink()      # take the full path, not the stamp
    assert main(["build", str(root), "--frozen"]) == 0


@pytest.mark.parametrize("flag", [["--force", "store"], ["--overwrite"], ["--adopt", "out/store.png"]])
def test_frozen_with_a_flag_that_changes_files_is_a_usage_error(tmp_path: Path, capsys, flag) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root)]) == 0
    before = _snapshot(root)
    capsys.readouterr()
    assert main(["build", str(root), "--frozen", *flag]) == 2
    assert capsys.readouterr().err == f"--frozen changes nothing on disk, so it cannot go with {flag[0]}\n"
    assert _snapshot(root) == before


@pytest.mark.parametrize("layout", ["indent 4", "CRLF"])
def test_a_lock_file_laid_out_by_another_tool_passes_as_a_build_leaves_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str) -> None:
    # a JSON formatter in a pre-commit hook, or git's autocrlf on a Windows runner: the same entries
    root = _project(tmp_path)
    assert main(["build", str(root)]) == 0
    lock = root / "assetgen.lock"
    text = lock.read_text(encoding="utf-8")
    other = json.dumps(json.loads(text), indent=4, sort_keys=True) if layout == "indent 4" \
        else text.replace("\n", "\r\n")
    lock.unlink()
    lock.write_bytes(other.encode("utf-8"))
    capsys.readouterr()
    assert main(["build", str(root), "--frozen"]) == 0
    assert "would change" not in "".join(capsys.readouterr())
    assert main(["build", str(root)]) == 0
    assert lock.read_bytes() == other.encode("utf-8")      # the build leaves it as it is, too
    _edit(root, "quality: 80", "quality: 90")               # a change of content still fails
    out, err = _frozen(root, capsys)
    assert "stale: assetgen.lock: would change" in err
