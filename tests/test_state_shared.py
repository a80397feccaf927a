"""State files other commands read: the lock file at a git revision (`diff`) and the records of a
remote cache. A deeply nested or malformed one is said (the lock at a revision) or skipped like any
other bad entry (a remote record); no crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from reviewkit import commit_all, project

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator

KEY = "shared-state-key"
RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  tile:
    matrix: {i: [0, 1]}
    prompt: "Tile {{ i }}"
    outputs:
      - path: "out/{{ name }}.png"
      - path: "out/{{ name }}.jpg"
"""


@pytest.mark.parametrize("text", ["[" * 100_000, '{"version": 1, "assets": ' + "[" * 3000 + "]" * 3000 + "}"])
def test_diff_against_a_revision_whose_lock_file_is_nested_too_deeply(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    project(tmp_path)
    assert main(["build", str(tmp_path)]) == 0
    good = (tmp_path / "assetgen.lock").read_text()
    (tmp_path / "assetgen.lock").write_text(text)
    commit_all(tmp_path)
    (tmp_path / "assetgen.lock").write_text(good)
    capsys.readouterr()
    assert main(["diff", "HEAD", str(tmp_path), "--format", "json"]) == 2     # said, not "all added"
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(
        "assetgen.lock at HEAD: error: cannot read the lock file there: it is ")


def test_remote_records_nested_too_deeply_are_not_used_and_crash_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "shared"
    root = tmp_path / "main"
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    (root / "assetgen.yaml").write_text("provider: azure\nproviders: {azure: {rpm: {gpt-image-1.5: 6000}}}\n")
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{folder}")
    monkeypatch.delenv("ASSETGEN_CACHE_DIR", raising=False)
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        monkeypatch.setenv("ASSETGEN_REMOTE_CACHE_MODE", "write")
        assert main(["build", str(root)]) == 0
        sent = len(emu.records)
        for record in (folder / "actions").glob("*.json"):
            record.write_text("[" * 100_000)
        clone = tmp_path / "clone"      # no lock file, no outputs, no cache: only the remote's records
        shutil.copytree(root, clone, ignore=shutil.ignore_patterns("out", ".assetgen", "assetgen.lock"))
        monkeypatch.setenv("ASSETGEN_REMOTE_CACHE_MODE", "read")
        capsys.readouterr()
        assert main(["build", str(clone), "--json"]) == 0, capsys.readouterr().err
        # nothing else says what the images were: the calls are made again, as with no remote
        assert json.loads(capsys.readouterr().out)["requests"] == len(emu.records) - sent == 2
    written = {p.name for p in (clone / "out").iterdir()}
    assert written == {"tile-0.png", "tile-1.png", "tile-0.jpg", "tile-1.jpg"}
