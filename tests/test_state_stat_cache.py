"""A damaged stat cache costs time, never money: before a call is paid for because an input file
"changed", the file is hashed again from its bytes (`build --provider azure`, against the emulator)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "stat-cache-key"
PROJECT = """\
provider: azure
providers:
  azure:
    rpm: {gpt-image-1: 60000}
"""
RECIPE = """\
version: 1
defaults: {model: gpt-image-1, size: 1024x1024, quality: low}
assets:
  room:
    matrix: {i: [0, 1, 2]}
    steps:
      - generate: "A castle room {{ i }}"
      - edit: "Add a dragon"
        mask: masks/left.png
    outputs:
      - path: "out/{{ name }}.png"
      - path: "out/{{ name }}.jpg"
        quality: 80
"""


@pytest.fixture()
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    with run_emulator(api_key=KEY) as handle:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", handle.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        yield handle


def project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 512, 1024))
    mask.save(root / "masks" / "left.png")
    return root


def build(root: Path, capsys: pytest.CaptureFixture[str], code: int = 0) -> dict[str, object]:
    capsys.readouterr()
    assert main(["build", str(root), "--provider", "azure", "--json"]) == code
    return json.loads(capsys.readouterr().out)


def touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def other_digit(sha: str, at: int = 10) -> str:
    return sha[:at] + ("0" if sha[at] != "0" else "1") + sha[at + 1:]


def test_one_wrong_hex_digit_of_a_masks_hash_costs_no_request_and_the_lock_keeps_the_right_hash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], emu: EmulatorHandle) -> None:
    root = project(tmp_path / "p")
    build(root, capsys)
    paid = len(emu.records)
    assert paid == 6
    lock = (root / "assetgen.lock").read_text()
    real = hashlib.sha256((root / "masks" / "left.png").read_bytes()).hexdigest()
    stat_cache = root / ".assetgen" / "stat-cache.json"
    entries = json.loads(stat_cache.read_text())
    assert entries["masks/left.png"][-1] == real
    entries["masks/left.png"][-1] = other_digit(real)
    stat_cache.write_text(json.dumps(entries))
    touch(root / "recipes" / "r.yaml")
    capsys.readouterr()
    assert main(["plan", str(root), "--provider", "azure"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("12 actions, 0 to run")
    summary = build(root, capsys)
    assert len(emu.records) == paid
    assert (summary["actions_run"], summary["requests"], summary["outputs_written"]) == (0, 0, 0)
    assert (root / "assetgen.lock").read_text() == lock
    assert json.loads(stat_cache.read_text())["masks/left.png"][-1] == real


def test_a_wrong_hash_for_an_output_neither_rewrites_it_nor_reports_it_changed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], emu: EmulatorHandle) -> None:
    root = project(tmp_path / "p")
    build(root, capsys)
    jpeg = root / "out" / "room-1.jpg"
    before = (jpeg.stat().st_mtime_ns, jpeg.read_bytes())
    stat_cache = root / ".assetgen" / "stat-cache.json"
    entries = json.loads(stat_cache.read_text())
    entries["out/room-1.jpg"][-1] = other_digit(entries["out/room-1.jpg"][-1], 0)
    stat_cache.write_text(json.dumps(entries))
    touch(root / "recipes" / "r.yaml")
    capsys.readouterr()
    assert main(["plan", str(root), "--provider", "azure"]) == 0
    assert "changed on disk" not in capsys.readouterr().out
    summary = build(root, capsys)
    assert (summary["actions_run"], summary["outputs_written"], summary["requests"]) == (0, 0, 0)
    assert (jpeg.stat().st_mtime_ns, jpeg.read_bytes()) == before


OUTSIDE_ENTRY = '{"../x": [1, 2, 3, 4, "%s"]}' % ("0" * 64)


@pytest.mark.parametrize("text", ['{"masks/left.png": [1, 2, 3]}', OUTSIDE_ENTRY,
                                  "[" * 50_000, "{" * 3, '"a string"', "\xff", ""])
def test_a_stat_cache_of_the_wrong_shape_is_ignored_and_rebuilt(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], emu: EmulatorHandle, text: str) -> None:
    root = project(tmp_path / "p")
    build(root, capsys)
    stat_cache = root / ".assetgen" / "stat-cache.json"
    stat_cache.write_bytes(text.encode("latin-1"))
    touch(root / "recipes" / "r.yaml")
    summary = build(root, capsys)
    assert (summary["actions_run"], summary["requests"], len(emu.records)) == (0, 0, 6)
    touch(root / "assetgen.yaml")       # the full path: it reads the stat cache
    summary = build(root, capsys)
    assert (summary["actions_run"], summary["requests"], len(emu.records)) == (0, 0, 6)
    rebuilt = json.loads(stat_cache.read_text())
    assert set(rebuilt) >= {"masks/left.png", "out/room-0.png"} and "../x" not in rebuilt
