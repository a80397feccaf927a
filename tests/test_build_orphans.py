"""Outputs that no recipe writes any more: removed when they are still what assetgen wrote."""

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
  icon:
    matrix: {kind: [sword, shield]}
    prompt: "A {{ kind }}"
    output: "out/{{ name }}.png"
  banner:
    prompt: "A banner"
    output: out/banner.png
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


def _build(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["build", str(root), *extra]) == 0
    out, err = capsys.readouterr()
    return out, err


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "out").iterdir())


def test_removing_an_asset_removes_its_outputs(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    _edit(root, '  banner:\n    prompt: "A banner"\n    output: out/banner.png\n', "")
    out, _ = _build(root, capsys)
    assert "removed out/banner.png: no recipe writes it any more\n" in out
    assert _files(root) == ["icon-shield.png", "icon-sword.png"]
    assert "banner" not in json.loads((root / "assetgen.lock").read_text())["assets"]


def test_a_changed_output_path_removes_the_old_file(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    _edit(root, "out/{{ name }}.png", "out/{{ name }}.webp")
    out, _ = _build(root, capsys)
    assert "removed out/icon-sword.png: no recipe writes it any more\n" in out
    assert _files(root) == ["banner.png", "icon-shield.webp", "icon-sword.webp"]


def test_an_orphan_changed_by_hand_is_kept(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    (root / "out" / "banner.png").write_bytes(b"my own picture")
    _edit(root, "out/banner.png", "out/banner.webp")
    out, _ = _build(root, capsys)
    assert ("kept out/banner.png: no recipe writes it any more, but it changed since assetgen wrote it\n"
            in out)
    assert (root / "out" / "banner.png").read_bytes() == b"my own picture"


def test_json_mode_reports_removals_on_stderr_only(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    _edit(root, "out/banner.png", "out/banner.webp")
    out, err = _build(root, capsys, "--json")
    assert json.loads(out)["outputs_written"] == 1
    assert err == "removed out/banner.png: no recipe writes it any more\n"


def test_only_leaves_other_assets_outputs_alone(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    _edit(root, "out/banner.png", "out/banner.webp")
    out, _ = _build(root, capsys, "--only", "icon")
    assert "removed" not in out
    assert _files(root) == ["banner.png", "icon-shield.png", "icon-sword.png"]


def test_an_output_kept_as_an_input_is_not_removed(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    _edit(root, '  banner:\n    prompt: "A banner"\n    output: out/banner.png\n',
          '  poster:\n    steps:\n      - edit: "Frame it"\n        image: out/banner.png\n'
          '    output: out/poster.png\n')
    out, _ = _build(root, capsys)
    assert "removed" not in out
    assert _files(root) == ["banner.png", "icon-shield.png", "icon-sword.png", "poster.png"]


def test_an_output_renamed_only_in_case_is_not_removed_as_its_own_orphan(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    _edit(root, "output: out/banner.png", "output: out/Banner.png")
    # a case-insensitive file system (macOS, Windows) shows the old name and the new as one file
    os.link(root / "out" / "banner.png", root / "out" / "Banner.png")
    out, _ = _build(root, capsys)
    assert "removed" not in out
    assert _files(root) == ["Banner.png", "banner.png", "icon-shield.png", "icon-sword.png"]


def _pull(root: Path, edit: object = None) -> None:
    """The lock file as a pull brings it (a new file, in assetgen's layout), `edit`ed first."""
    lock = root / "assetgen.lock"
    data = json.loads(lock.read_text(encoding="utf-8"))
    if callable(edit):
        edit(data)
    lock.unlink()
    lock.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_lock_entry_from_a_pull_never_removes_a_file_assetgen_did_not_make(tmp_path: Path, capsys) -> None:
    # a lock entry of an asset no recipe has, naming files of the project with their true hashes
    root = _project(tmp_path)
    _build(root, capsys)
    (root / "assetgen.yaml").write_text("provider: local\n", encoding="utf-8")
    (root / "NOTES.md").write_text("our notes\n", encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (root / "art").mkdir()
    (root / "art" / "logo.png").write_bytes((root / "out" / "banner.png").read_bytes() + b"retouched")
    cached = next(p for p in (root / ".assetgen" / "cache" / "objects").rglob("*") if p.is_file())
    victims = [p.relative_to(root).as_posix() for p in (
        root / "recipes" / "a.yaml", root / "assetgen.yaml", root / "NOTES.md", root / ".git" / "config",
        root / "art" / "logo.png", cached)]
    before = {p: (root / p).read_bytes() for p in victims}
    _build(root, capsys)        # the project file is new: the lock it reads is assetgen's own

    def forge(data: dict) -> None:
        data["assets"]["gone"] = {"recipe": "recipes/x.yaml", "steps": [], "outputs": {
            p: {"fit": None, "format": "png", "key": "a" * 64, "quality": None, "resize": None,
                "sha256": _sha(root / p), "source": "b" * 64} for p in victims}}
    _pull(root, forge)
    capsys.readouterr()
    assert main(["plan", str(root), "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["leaves"] == sorted(victims) and "removes" not in planned
    _edit(root, 'prompt: "A {{ kind }}"', 'prompt: "A shiny {{ kind }}"')
    before["recipes/a.yaml"] = (root / "recipes" / "a.yaml").read_bytes()
    _build(root, capsys, "--only", "icon-sword")      # writes the lock file, the entry as it found it
    assert "gone" in json.loads((root / "assetgen.lock").read_text())["assets"]
    out, _ = _build(root, capsys)
    assert {p: (root / p).read_bytes() for p in victims} == before
    assert not [line for line in out.splitlines() if line.startswith("removed ")]
    for p in victims:
        assert f"left {p}: no recipe writes it any more" in out
    assert "gone" not in json.loads((root / "assetgen.lock").read_text())["assets"]
    _build(root, capsys)        # said once: the entry is gone from the lock
    assert "left" not in capsys.readouterr().out


def test_an_orphan_a_pulled_lock_names_is_removed_when_this_cache_rendered_those_bytes(
        tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _build(root, capsys)
    _pull(root)         # the asset removed by a pull request that left its lock entry
    _edit(root, '  banner:\n    prompt: "A banner"\n    output: out/banner.png\n', "")
    out, _ = _build(root, capsys)
    assert "removed out/banner.png: no recipe writes it any more\n" in out
    assert _files(root) == ["icon-shield.png", "icon-sword.png"]


def test_on_a_fresh_clone_an_orphan_is_left_until_a_build_made_the_lock_file_its_own(
        tmp_path: Path, capsys) -> None:
    import shutil

    first = _project(tmp_path / "first")
    _build(first, capsys)
    clone = tmp_path / "clone"      # the recipes, the lock file and the outputs; no cache
    shutil.copytree(first, clone, ignore=shutil.ignore_patterns(".assetgen"))
    _edit(clone, '  banner:\n    prompt: "A banner"\n    output: out/banner.png\n', "")
    out, _ = _build(clone, capsys)
    assert "\nleft out/banner.png: no recipe writes it any more" in out and "\nremoved " not in out
    assert "banner.png" in _files(clone)
    shutil.rmtree(clone)
    shutil.copytree(first, clone, ignore=shutil.ignore_patterns(".assetgen"))
    _build(clone, capsys)       # nothing to make: it leaves the lock file as it is
    _edit(clone, '  banner:\n    prompt: "A banner"\n    output: out/banner.png\n', "")
    out, _ = _build(clone, capsys)       # the lock file a complete build left as it is: assetgen's
    assert "removed out/banner.png: no recipe writes it any more\n" in out
