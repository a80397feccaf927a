"""`build --shard I/N`: disjoint parts of the calls, chains kept whole, paced at 1/N of each quota;
parts fill the (remote) cache and write no outputs or lock; a later build assembles with 0 calls."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator
from assetgen.providers.azure import AzureProvider
from assetgen.providers.base import ImageRequest
from assetgen.recipe.model import AzureConfig, Op, ProjectConfig
from assetgen.run.prepare import prepare
from assetgen.run.shard import Shard, chains, part

API_KEY = "shard-test-key"
RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  tile:
    matrix: {i: [0, 1, 2, 3, 4]}
    prompt: "Tile {{ i }}"
    output: "out/{{ name }}.png"
  poster:
    steps:
      - generate: "A poster"
      - edit: "Add a frame"
    output: out/poster.png
  square:
    steps:
      - edit: "Make it square"
        image: {asset: poster}
    output: out/square.png
"""
CALLS = 8
PROJECT = 'recipes: ["recipes/*.yaml"]\nprovider: azure\nproviders: {azure: {rpm: {gpt-image-1.5: 6000}}}\n'


def make_project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    (root / "assetgen.yaml").write_text(PROJECT)
    return root


def test_parts_are_disjoint_cover_every_call_and_keep_chains_whole(tmp_path: Path) -> None:
    prep = prepare([str(make_project(tmp_path / "p"))], tmp_path)
    calls = {a.id for a in prep.plan.actions if a.is_call}
    for n in (1, 2, 3, 8):
        parts = [part(prep.plan, Shard(i, n)) for i in range(1, n + 1)]
        assert sum(len(p) for p in parts) == len(calls) == CALLS
        assert set().union(*parts) == calls
        for chain in chains(prep.plan):
            assert sum(bool(set(chain) & p) for p in parts) == 1      # a chain is in one part
    assert sorted(len(c) for c in chains(prep.plan)) == [1, 1, 1, 1, 1, 3]
    assert sorted(len(part(prep.plan, Shard(i, 2))) for i in (1, 2)) == [4, 4]


def test_shards_fill_a_shared_remote_then_one_build_assembles_with_no_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_project(tmp_path / "src")
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{tmp_path / 'shared'}")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", API_KEY)
    with run_emulator(api_key=API_KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        monkeypatch.setenv("ASSETGEN_REMOTE_CACHE_MODE", "write")
        made = 0
        for i in (1, 2, 3):     # each on its own runner: a fresh clone
            clone = shutil.copytree(src, tmp_path / f"shard{i}")
            capsys.readouterr()
            assert main(["build", str(clone), "--shard", f"{i}/3", "--json"]) == 0
            report = json.loads(capsys.readouterr().out)
            assert report["actions_failed"] == 0 and report["actions_total"] == report["actions_run"] > 0
            assert not (clone / "out").exists() and not (clone / "assetgen.lock").exists()
            made += report["actions_run"]
        assert made == len(emu.records) == CALLS
        monkeypatch.setenv("ASSETGEN_REMOTE_CACHE_MODE", "read")
        final = shutil.copytree(src, tmp_path / "final")
        capsys.readouterr()
        assert main(["build", str(final), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert len(emu.records) == CALLS
    assert (report["requests"], report["actions_run"], report["outputs_written"]) == (0, 0, 7)
    assert (final / "out/square.png").is_file() and (final / "assetgen.lock").is_file()


def test_a_shard_with_no_remote_to_write_to_says_its_calls_stay_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # on a CI runner its results would be lost with the runner, and the assembling build pays again
    src = make_project(tmp_path / "src")
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{tmp_path / 'shared'}")
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE_MODE", "read")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", API_KEY)
    with run_emulator(api_key=API_KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        capsys.readouterr()
        assert main(["build", str(src), "--shard", "1/2", "--json"]) == 0
    assert ("warning: this shard's calls are in this machine's cache only: with no remote cache in write mode"
            in capsys.readouterr().err)


def test_a_shard_paces_at_its_share_of_the_quota() -> None:
    config = ProjectConfig(azure=AzureConfig(rpm=(("gpt-image-1.5", 120),)))
    request = ImageRequest(Op.GENERATE, "gpt-image-1.5", "A tile", {"size": "1024x1024", "quality": "low"})

    async def one(share: float) -> float:
        with run_emulator(api_key=API_KEY) as emu:
            env = {"AZURE_OPENAI_ENDPOINT": emu.url, "AZURE_OPENAI_API_KEY": API_KEY}
            provider = AzureProvider.from_config(config, env, share=share)
            try:
                await provider.run(request)
            finally:
                await provider.aclose()
            return provider.pacers.get("gpt-image-1.5", 1).rpm

    assert asyncio.run(one(1.0)) == 120
    assert asyncio.run(one(0.25)) == 30


@pytest.mark.parametrize("value", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["build", "--shard", value])
    assert exc.value.code == 2
    assert "--shard: expected I/N with 1 <= I <= N" in capsys.readouterr().err


def test_a_shard_writes_no_outputs_so_it_cannot_go_with_frozen(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "p")
    assert main(["build", str(root), "--shard", "1/2", "--frozen"]) == 2
    assert "--shard writes no outputs, so it cannot go with --frozen" in capsys.readouterr().err
