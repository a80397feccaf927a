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
