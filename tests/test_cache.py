"""The cache store: atomic writes, concurrent builds on one cache, and gc."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from tiles import tiles

from assetgen.cache import Store
from assetgen.cli import main
from assetgen.emulator.testing import run_emulator

RECIPE = tiles(8)


def _project(root: Path, recipe: str = RECIPE) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(recipe)
    return root


def test_store_round_trip_and_verification(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    sha = store.put_object(b"image bytes")
    assert sha == hashlib.sha256(b"image bytes").hexdigest()
    assert store.get_object(sha) == b"image bytes"
    store.object_path(sha).write_bytes(b"torn")
    assert store.get_object(sha) is None            # a damaged object is never served
    key = hashlib.sha256(b"a request").hexdigest()
    store.put_record(key, "generate", "local", "m", (sha,), {"total_tokens": 3})
    fresh = Store(tmp_path / "cache")
    rec = fresh.record(key)
    assert rec is not None and (rec.results, rec.usage) == ((sha,), {"total_tokens": 3})
    assert not list((tmp_path / "cache").rglob(".tmp-*"))


def test_two_builds_at_once_on_one_cache_never_tear_a_file(tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "ASSETGEN_CACHE_DIR": str(cache)}
    roots = [_project(tmp_path / name) for name in ("a", "b")]
    command = [sys.executable, "-m", "assetgen", "build", "--json", "-j", "4"]
    procs = [subprocess.Popen([*command, str(r)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for r in roots]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    for path in (cache / "objects").rglob("*"):
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    for path in (cache / "actions").glob("*.json"):
        json.loads(path.read_text())
    assert not list(cache.rglob(".tmp-*"))
    assert (roots[0] / "out" / "tile-0.png").read_bytes() == (roots[1] / "out" / "tile-0.png").read_bytes()


def test_gc_removes_what_nothing_reaches(tmp_path: Path, capsys, monkeypatch) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root), "--json"]) == 0
    recipe = root / "recipes" / "r.yaml"
    recipe.write_text(tiles(2))
    assert main(["build", str(root), "--json"]) == 0
    capsys.readouterr()
    monkeypatch.chdir(root)
    assert main(["gc", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert dry.startswith("would remove 6 images and 12 action records, would free ")
    store = Store(root / ".assetgen" / "cache")
    assert len(list(store.record_keys())) == 16
    assert main(["gc"]) == 0
    assert capsys.readouterr().out.startswith("removed 6 images and 12 action records, freed ")
    assert len(list(store.record_keys())) == 4
    assert main(["gc"]) == 0
    assert capsys.readouterr().out == "removed 0 images and 0 action records, freed 0 B\n"
    assert main(["build", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["actions_run"] == 0


PAID = tiles(6, "gpt-image-1", "1024x1024", quality="low")


def test_two_builds_at_once_on_one_cache_pay_for_each_call_once(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "shared-cache"
    roots = [_project(tmp_path / name, PAID) for name in ("a", "b")]
    for root in roots:
        (root / "assetgen.yaml").write_text(
            "provider: azure\nproviders: {azure: {rpm: {gpt-image-1: 60000}}}\n")
    with run_emulator(api_key="k", latency=2.0) as emu:     # about 0.5 s a call: the builds overlap
        env = {**os.environ, "ASSETGEN_CACHE_DIR": str(cache), "AZURE_OPENAI_ENDPOINT": emu.url,
               "AZURE_OPENAI_API_KEY": "k"}
        command = [sys.executable, "-m", "assetgen", "build", "--json", "-j", "3"]
        procs = [subprocess.Popen([*command, str(r)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for r in roots]
        results = [p.communicate(timeout=120) for p in procs]
        made = [r.fields["prompt"] for r in emu.records if r.status == 200]
    assert [p.returncode for p in procs] == [0, 0], results
    assert sorted(made) == [f"Tile {i}" for i in range(6)]               # each call made once
    runs = [json.loads(out)["actions_run"] for out, _ in results]
    assert sum(runs) == 6
    for i in range(6):
        name = f"tile-{i}.png"
        assert (roots[0] / "out" / name).read_bytes() == (roots[1] / "out" / name).read_bytes()

    assert len(list((cache / "locks").glob("*.lock"))) == 6
    held = Store(cache).claim(sorted((cache / "locks").glob("*.lock"))[0].stem)
    assert held.try_acquire()
    monkeypatch.setenv("ASSETGEN_CACHE_DIR", str(cache))
    monkeypatch.chdir(roots[0])
    assert main(["gc"]) == 0
    held.release()
    assert [p.name for p in (cache / "locks").glob("*.lock")] == [held.path.name]   # a claim in use stays
