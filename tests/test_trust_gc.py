"""gc keeps recent paid work (SPEC section 9): a paid result nothing reaches any more is kept for
30 days after it was last reached (`--older-than DAYS`; 0 removes it now), placeholders go at once,
and `--dry-run` lists what it would remove. Builds against the emulator, counting its requests."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from azurekit import PROJECT, point_at

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "gc-trust-key-0001"
RECIPE = """\
version: 1
defaults: {size: 1024x1024, quality: low}
assets:
  hero:
    steps:
      - generate: "A knight PROMPT"
        n: 3
        pick: PICK
      - edit: "Add a storm"
    output: hero.png
"""
DAY = 86400.0


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT, encoding="utf-8")
    _recipe(root, 2)
    return root


def _recipe(root: Path, pick: int, prompt: str = "on a hill") -> None:
    text = RECIPE.replace("PICK", str(pick)).replace("PROMPT", prompt)
    (root / "recipes" / "a.yaml").write_text(text, encoding="utf-8")


def _build(root: Path, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str], *extra: str) -> int:
    """Build; the requests the emulator got for it."""
    point_at(emu, KEY, monkeypatch)
    before = len(emu.records)
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == 0, capsys.readouterr()
    capsys.readouterr()
    return len(emu.records) - before


def _gc(root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    monkeypatch.chdir(root)
    capsys.readouterr()
    assert main(["gc", *extra]) == 0
    return capsys.readouterr().out


def _records(root: Path) -> dict[str, dict[str, object]]:
    folder = root / ".assetgen" / "cache" / "actions"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _age(root: Path, days: float) -> None:
    """Every cache record as if last reached `days` ago (what its file's mtime records)."""
    then = time.time() - days * DAY
    for path in (root / ".assetgen" / "cache" / "actions").glob("*.json"):
        os.utime(path, (then, then))


def test_switching_a_pick_back_after_gc_costs_no_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        assert _build(root, emu, monkeypatch, capsys) == 2      # generate n: 3, edit of candidate 2
        _recipe(root, 0)
        assert _build(root, emu, monkeypatch, capsys) == 1      # the edit of candidate 0
        out = _gc(root, monkeypatch, capsys)
        assert out.splitlines()[1].startswith(
            "kept 1 paid result (1 image, ") and "gc --older-than 0 removes them now" in out
        _recipe(root, 2)
        assert _build(root, emu, monkeypatch, capsys) == 0


def test_every_candidate_of_a_call_no_recipe_reaches_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        _recipe(root, 2, prompt="in the rain")
        assert _build(root, emu, monkeypatch, capsys) == 2
        out = _gc(root, monkeypatch, capsys)
        assert out.splitlines()[1].startswith("kept 2 paid results (4 images, ")   # 3 candidates and an edit
        _recipe(root, 1)                    # the old prompt, another of its candidates: no call
        assert _build(root, emu, monkeypatch, capsys) == 1      # only the edit of candidate 1
        _recipe(root, 2)
        assert _build(root, emu, monkeypatch, capsys) == 0


def test_older_than_0_removes_paid_results_nothing_reaches_now(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        _recipe(root, 0)
        _build(root, emu, monkeypatch, capsys)
        out = _gc(root, monkeypatch, capsys, "--older-than", "0")
        assert out.startswith("removed 1 image and 2 action records, freed ")    # the edit and a render
        assert "kept" not in out
        _recipe(root, 2)
        assert _build(root, emu, monkeypatch, capsys) == 1


def test_a_paid_result_goes_once_its_grace_has_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        _recipe(root, 0)
        _build(root, emu, monkeypatch, capsys)
        _age(root, 31)
        (root / ".assetgen" / "build-stamp.json").unlink()
        assert "kept" in _gc(root, monkeypatch, capsys, "--older-than", "32", "--dry-run")
        out = _gc(root, monkeypatch, capsys)
        assert out.startswith("removed 1 image and 2 action records, freed ")
        _recipe(root, 2)
        assert _build(root, emu, monkeypatch, capsys) == 1


def test_a_no_op_build_counts_as_reaching_what_its_lock_reaches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Built 40 days ago and only no-op builds since (they read no cache record); then the lock file
    # changes without a build (another branch checked out) and gc runs: the results the old lock
    # reached were reached until the last no-op build, not 40 days ago.
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        stamp = root / ".assetgen" / "build-stamp.json"
        body = json.loads(stamp.read_text())
        body["reached_at"] -= 40 * DAY
        stamp.write_text(json.dumps(body))
        _age(root, 40)
        assert _build(root, emu, monkeypatch, capsys) == 0
        assert stamp.read_text() == json.dumps(body)        # the fast path answered
        _recipe(root, 2, prompt="in the rain")
        (root / "assetgen.lock").unlink()                   # the other branch's lock has no hero yet
        out = _gc(root, monkeypatch, capsys)
        assert out.splitlines()[1].startswith("kept 2 paid results (4 images, ")
        _recipe(root, 2)
        assert _build(root, emu, monkeypatch, capsys) == 0


def test_placeholders_nothing_reaches_go_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        assert _build(root, emu, monkeypatch, capsys, "--provider", "local") == 0
        _recipe(root, 0)
        _build(root, emu, monkeypatch, capsys, "--provider", "local")
    local = {k for k, r in _records(root).items() if r["provider"] == "local"}
    assert len(local) == 3          # the generate, and an edit for each pick
    out = _gc(root, monkeypatch, capsys)
    assert out.startswith("removed 1 image and 2 action records, freed ")
    assert "kept" not in out
    assert len({k for k, r in _records(root).items() if r["provider"] == "local"}) == 2


def test_dry_run_lists_what_it_would_remove_and_removes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        _recipe(root, 0)
        _build(root, emu, monkeypatch, capsys)
        cache = root / ".assetgen" / "cache"
        before = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
        out = _gc(root, monkeypatch, capsys, "--dry-run", "--older-than", "0")
        after = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
        assert after == before
        lines = out.splitlines()
        assert lines[0].startswith("would remove 1 image and 2 action records, would free ")
        listed = sorted(line.split()[0] for line in lines[1:])
        edit = next(k for k, r in _records(root).items() if r["op"] == "edit" and k not in
                    json.dumps(json.loads((root / "assetgen.lock").read_text())))
        image = _records(root)[edit]["results"][0]
        assert f"actions/{edit}.json" in listed and f"objects/{image[:2]}/{image}" in listed
        assert len(listed) == 3
        assert any(line.endswith("(edit azure gpt-image-1.5)") for line in lines)
        _recipe(root, 2)
        assert _build(root, emu, monkeypatch, capsys) == 0


def test_older_than_must_be_a_number_of_days(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    monkeypatch.chdir(root)
    with pytest.raises(SystemExit) as exc:
        main(["gc", "--older-than", "-1"])
    assert exc.value.code == 2
    assert "expected a number of days of 0 or more, got '-1'" in capsys.readouterr().err


def test_a_re_roll_keeps_the_paid_results_it_replaced_for_their_grace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY, vary=True) as emu:      # as a real API: a re-roll, other images
        assert _build(root, emu, monkeypatch, capsys) == 2
        committed = {name: (root / name).read_bytes() for name in ("assetgen.lock", "hero.png")}
        assert _build(root, emu, monkeypatch, capsys, "--force", "hero") == 2
        assert (root / "hero.png").read_bytes() != committed["hero.png"]
        out = _gc(root, monkeypatch, capsys)
        assert out.splitlines()[1].startswith("kept 2 paid results (4 images, ")    # 3 candidates and an edit
        for name, data in committed.items():    # `git checkout` of the commit before the re-roll
            (root / name).write_bytes(data)
        recipe = root / "recipes" / "a.yaml"
        text = recipe.read_text(encoding="utf-8")
        recipe.write_text(text.replace("output: hero.png", "outputs: [{path: hero.png}, {path: hero.webp}]"))
        assert _build(root, emu, monkeypatch, capsys) == 0     # the new rendition, from the kept image
        assert _gc(root, monkeypatch, capsys, "--older-than", "0").startswith("removed ")
