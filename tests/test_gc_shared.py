"""gc on a cache several projects share ($ASSETGEN_CACHE_DIR), and on results of another provider."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiles import tiles

from assetgen.atomic import HOST_TAG
from assetgen.cache import Store
from assetgen.cli import main
from assetgen.emulator.testing import run_emulator


def _project(root: Path, prefix: str) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(tiles(3, prompt=f"{prefix} tile"))
    return root


def _build(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _gc(root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *extra: str, code: int = 0) -> tuple[str, str]:
    monkeypatch.chdir(root)
    capsys.readouterr()
    assert main(["gc", *extra]) == code
    return capsys.readouterr()


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    cache = tmp_path / "shared-cache"
    monkeypatch.setenv("ASSETGEN_CACHE_DIR", str(cache))
    return Store(cache)


def test_gc_keeps_what_another_project_sharing_the_cache_reaches(
        tmp_path: Path, capsys, monkeypatch, shared: Store) -> None:
    a = _project(tmp_path / "a", "Red")
    b = _project(tmp_path / "b", "Blue")
    _build(a, capsys)
    _build(b, capsys)
    assert len(list(shared.record_keys())) == 12      # 2 projects x 3 tiles x (generate + render)

    out, _ = _gc(a, capsys, monkeypatch)
    assert out == ("removed 0 images and 0 action records, freed 0 B\n"
                   f"kept what 1 other project sharing this cache reach: {b.resolve()}\n")
    shutil.rmtree(b / "out")
    (b / ".assetgen" / "build-stamp.json").unlink(missing_ok=True)
    again = _build(b, capsys)
    assert (again["actions_run"], again["outputs_written"]) == (0, 3)


def test_gc_forgets_a_project_that_is_gone_and_drops_what_only_it_reached(
        tmp_path: Path, capsys, monkeypatch, shared: Store) -> None:
    a = _project(tmp_path / "a", "Red")
    b = _project(tmp_path / "b", "Blue")
    _build(a, capsys)
    _build(b, capsys)
    shutil.rmtree(b)
    out, _ = _gc(a, capsys, monkeypatch, "--dry-run")
    assert out.startswith("would remove 3 images and 6 action records, would free ")
    assert len(list((shared.root / "projects").glob("*.json"))) == 2
    out, _ = _gc(a, capsys, monkeypatch)
    assert out.startswith("removed 3 images and 6 action records, freed ")
    assert len(list((shared.root / "projects").glob("*.json"))) == 1
    assert _build(a, capsys)["actions_run"] == 0


def test_gc_removes_nothing_when_a_project_sharing_the_cache_cannot_be_loaded(
        tmp_path: Path, capsys, monkeypatch, shared: Store) -> None:
    a = _project(tmp_path / "a", "Red")
    b = _project(tmp_path / "b", "Blue")
    _build(a, capsys)
    _build(b, capsys)
    (a / "recipes" / "r.yaml").write_text(tiles(3, prompt="Green tile"))   # a's old tiles: garbage
    (b / "recipes" / "r.yaml").write_text("version: 1\nasets: {}\n")
    before = sorted(shared.record_keys())
    _, err = _gc(a, capsys, monkeypatch, code=1)
    assert err.startswith(
        f"gc: {b.resolve()} shares this cache and cannot be loaded, so nothing was removed:\n")
    assert "unknown key 'asets'" in err
    assert sorted(shared.record_keys()) == before


def test_gc_keeps_paid_results_of_a_provider_other_than_the_projects_own(
        tmp_path: Path, capsys, monkeypatch) -> None:
    # The project's provider is local; a build with --provider azure paid for a generate whose
    # edit was refused, so no lock entry names it: gc must still keep it.
    root = tmp_path / "p"
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text("provider: local\nproviders: {azure: {rpm: {gpt-image-1: 60000}}}\n")
    (root / "recipes" / "r.yaml").write_text(
        "version: 1\n"
        "defaults: {model: gpt-image-1, size: 1024x1024, quality: low}\n"
        "assets:\n"
        "  poster:\n"
        "    steps:\n"
        "      - generate: \"A castle\"\n"
        "      - edit: \"Add a forbidden sign\"\n"
        "    output: out/poster.png\n")
    with run_emulator(api_key="gc-key") as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", "gc-key")
        monkeypatch.setenv("OPENAI_API_VERSION", "2025-04-01-preview")
        capsys.readouterr()
        assert main(["build", str(root), "--provider", "azure", "--json"]) == 1
        first = json.loads(capsys.readouterr().out)
        assert first["actions_run"] == 1
        out, _ = _gc(root, capsys, monkeypatch)
        assert out == "removed 0 images and 0 action records, freed 0 B\n"
        recipe = root / "recipes" / "r.yaml"
        recipe.write_text(recipe.read_text().replace("forbidden", "wooden"))
        again = _build(root, capsys, "--provider", "azure")
        assert again["actions_run"] == 1
        assert sum(1 for r in emu.records if r.status == 200 and r.op == "generate") == 1


def _plant(folder: Path, name: str, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"half an image")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def _dead_pid() -> int:
    """The id of a process that has ended (and, just now, was not reused)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_gc_removes_temp_files_a_killed_build_left_in_the_cache(tmp_path: Path, capsys, monkeypatch) -> None:
    root = _project(tmp_path / "p", "Red")
    _build(root, capsys)
    cache = root / ".assetgen" / "cache"
    alive, dead = os.getppid(), _dead_pid()
    old = _plant(cache / "objects" / "ab", f".tmp-ab12.{alive}.deadbeef", 7200)
    young = _plant(cache / "actions", f".tmp-k.json.{alive}.deadbeef", 60)   # its writer may still be at it
    killed = _plant(cache / "actions", f".tmp-j.json.{dead}.deadbeef", 60)   # its writer is gone
    out, _ = _gc(root, capsys, monkeypatch, "--dry-run")
    assert out == ("would remove 0 images, 0 action records and 2 temp files left by interrupted builds, "
                   "would free 26 B\n"
                   f"  actions/.tmp-j.json.{dead}.deadbeef  13 B  (temp file)\n"
                   f"  objects/ab/.tmp-ab12.{alive}.deadbeef  13 B  (temp file)\n")
    _gc(root, capsys, monkeypatch)
    assert (old.exists(), young.exists(), killed.exists()) == (False, True, False)


def test_a_build_removes_stale_temp_files_beside_its_outputs(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path / "p", "Red")
    _build(root, capsys)
    out = root / "out"
    alive, dead = os.getppid(), _dead_pid()
    old = _plant(out, f".tmp-tile-0.png.{alive}.deadbeef", 7200)
    young = _plant(out, f".tmp-tile-1.png.{alive}.deadbeef", 60)
    killed = _plant(out, f".tmp-tile-2.png.{dead}.deadbeef", 5)
    here = _plant(out, f".tmp-tile-2.png.{dead}-{HOST_TAG}.deadbeef", 5)
    # a process id of another machine (a shared folder) says nothing here: the hour decides
    elsewhere = _plant(out, f".tmp-tile-2.png.{dead}-{'0' * 8 if HOST_TAG != '0' * 8 else '1' * 8}.feed", 5)
    other = _plant(out, f".tmp-notes.txt.{dead}.deadbeef", 7200)     # not an output's: not ours to remove
    (root / "out" / "tile-2.png").unlink()
    assert _build(root, capsys)["outputs_written"] == 1
    assert (old.exists(), young.exists(), killed.exists(), other.exists()) == (False, True, False, True)
    assert (here.exists(), elsewhere.exists()) == (False, True)


def test_a_temp_name_with_a_superscript_digit_for_a_process_id_is_left_alone(tmp_path: Path, capsys) -> None:
    """'¹'.isdigit() is true and int('¹') fails: such a name is not one assetgen wrote."""
    root = _project(tmp_path / "p", "Red")
    _build(root, capsys)
    odd = _plant(root / "out", f".tmp-tile-2.png.\u00b9-{HOST_TAG}.deadbeef", 5)
    (root / "out" / "tile-2.png").unlink()
    assert _build(root, capsys)["outputs_written"] == 1
    assert odd.exists()


PAID = tiles(4, "gpt-image-1", "1024x1024", quality="low")


def test_gc_removes_nothing_while_a_build_is_using_the_cache(
        tmp_path: Path, capsys, monkeypatch, shared: Store) -> None:
    # A build stores each image before the record naming it: a gc between the two would remove a
    # paid image, so gc waits for no build and refuses while one runs; the build's work all stays.
    old = _project(tmp_path / "old", "Red")
    _build(old, capsys)
    shutil.rmtree(old)                                  # its 3 images and 6 records are garbage
    root = _project(tmp_path / "p", "Red")
    (root / "recipes" / "r.yaml").write_text(PAID)
    (root / "assetgen.yaml").write_text("provider: azure\nproviders: {azure: {rpm: {gpt-image-1: 60000}}}\n")
    with run_emulator(api_key="k", latency=2.0) as emu:     # about 0.5 s a call
        env = {**os.environ, "AZURE_OPENAI_ENDPOINT": emu.url, "AZURE_OPENAI_API_KEY": "k",
               "OPENAI_API_VERSION": "2025-04-01-preview"}
        proc = subprocess.Popen([sys.executable, "-m", "assetgen", "build", "--json", "-j", "1", str(root)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not emu.records and proc.poll() is None:      # until the build has made a call
            time.sleep(0.02)
        before = (sorted(shared.record_keys()), sorted(shared.object_shas()))
        _, err = _gc(root, capsys, monkeypatch, code=1)
        assert err == ("gc: a build is using this cache, so nothing was removed (it may have stored images "
                       "that no record names yet); run gc again when no build is running\n")
        records, objects = before            # nothing removed (the build may have added more)
        assert set(records) <= set(shared.record_keys()) and set(objects) <= set(shared.object_shas())
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and json.loads(out)["actions_run"] == 4
    out, _ = _gc(root, capsys, monkeypatch)
    assert out.startswith("removed 3 images and 6 action records, freed ")
    assert _build(root, capsys)["actions_run"] == 0     # every paid image is still there
