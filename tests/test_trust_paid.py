"""`--provider local` never replaces paid work: after a paid build (azure, against the emulator) a
local build leaves every paid output and lock entry byte-identical, and fills only what has no paid
image."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from azurekit import PROJECT, point_at

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "paid-test-key-0001"
RECIPE = """\
version: 1
defaults: {size: 1024x1024, quality: low}
assets:
  icon:
    matrix: {kind: [sword, shield, bow]}
    prompt: "A {{ kind }} icon"
    outputs:
      - path: "icons/{{ name }}.png"
      - path: "icons/small/{{ name }}.webp"
        resize: 128x128
  banner:
    steps:
      - generate: "A knight on a cliff"
      - edit: "Add a storm"
    output: marketing/banner.png
"""
MORE = """\
  poster:
    prompt: "A poster"
    output: marketing/poster.png
"""


def _git(root: Path, *argv: str) -> str:
    done = subprocess.run(["git", *argv], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT, encoding="utf-8")
    (root / "recipes" / "a.yaml").write_text(RECIPE, encoding="utf-8")
    (root / ".gitignore").write_text(".assetgen/\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    return root


def _build(root: Path, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str]:
    point_at(emu, KEY, monkeypatch)
    capsys.readouterr()
    assert main(["build", str(root), *extra]) == 0, capsys.readouterr()
    return capsys.readouterr()


def test_a_local_build_after_a_paid_one_leaves_git_status_clean(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        paid = len(emu.records)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "paid images")
        out, _ = _build(root, emu, monkeypatch, capsys, "--provider", "local")
        assert len(emu.records) == paid
    assert _git(root, "status", "--porcelain") == ""
    assert out.splitlines()[-1] == ("0 actions (0 calls, 0 renditions): 0 calls made, 0 outputs written, "
                                    "0 failed; 0 requests; 7 outputs left as paid images")
    # the stamp of a local build does not hide the next one's work, and it still changes nothing
    out, _ = _build(root, emu, monkeypatch, capsys, "--provider", "local")
    assert _git(root, "status", "--porcelain") == ""


def test_placeholders_fill_only_what_has_no_paid_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "paid images")
        recipe = root / "recipes" / "a.yaml"
        recipe.write_text(RECIPE + MORE, encoding="utf-8")
        capsys.readouterr()
        assert main(["plan", str(root), "--provider", "local"]) == 0
        plan = capsys.readouterr().out
        assert "7 outputs hold paid images: the local provider leaves them as they are\n" in plan
        assert "run     generate poster  (new)\n" in plan
        assert "icon" not in plan and "banner" not in plan
        out, _ = _build(root, emu, monkeypatch, capsys, "--provider", "local", "--json")
    summary = json.loads(out)
    assert (summary["actions_run"], summary["outputs_written"], summary["left_as_paid"]) == (1, 1, 7)
    assert _git(root, "status", "--porcelain").splitlines() == [
        " M assetgen.lock", " M recipes/a.yaml", "?? marketing/poster.png"]
    lock = json.loads((root / "assetgen.lock").read_text(encoding="utf-8"))
    assert {n: a["steps"][0]["provider"] for n, a in lock["assets"].items()} == {
        "banner": "azure", "icon-bow": "azure", "icon-shield": "azure", "icon-sword": "azure",
        "poster": "local"}
    diff = _git(root, "diff", "assetgen.lock")
    assert "azure" not in "".join(line for line in diff.splitlines() if line.startswith(("-", "+")))


def test_a_local_build_says_when_a_paid_output_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # it leaves the paid variant alone, so it does not restore the file: it must say so, every time
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        _build(root, emu, monkeypatch, capsys, "--provider", "local")       # stamped
        (root / "marketing" / "banner.png").unlink()
        for _ in range(2):
            _, err = _build(root, emu, monkeypatch, capsys, "--provider", "local")
            assert ("warning: marketing/banner.png is missing: it holds a paid image, which a local build "
                    "leaves alone; a build with the project's provider restores it") in err
        paid = len(emu.records)
        _build(root, emu, monkeypatch, capsys)
        assert len(emu.records) == paid and (root / "marketing" / "banner.png").is_file()   # from the cache
