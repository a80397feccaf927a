"""`providers.azure.rpm` keyed by a deployment or by the model `deployments` maps to it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from tiles import tiles

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator
from assetgen.project import read_config
from assetgen.providers.azure import AzureProvider
from assetgen.providers.base import ImageRequest
from assetgen.recipe.model import AzureConfig, Op

KEY = "rpm-test-key-2718"
RECIPE = tiles(4, "gpt-image-1.5", "1024x1024", quality="low")


def project(root: Path, azure: str) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "tiles.yaml").write_text(RECIPE)
    (root / "assetgen.yaml").write_text(f"provider: azure\nproviders:\n  azure:\n{azure}")
    return root


def test_rpm_keyed_by_a_model_paces_the_deployment_it_maps_to(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "    deployments: {gpt-image-1.5: img15-prod}\n    rpm: {gpt-image-1.5: 6000}\n")
    config = read_config(root)
    assert config.diagnostics == ()
    provider = AzureProvider.from_config(config.config, env={"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",
                                                             "AZURE_OPENAI_API_KEY": KEY})
    target = provider.target(ImageRequest(Op.GENERATE, "gpt-image-1.5", "a tile", {}))
    asyncio.run(provider.aclose())
    assert (target.deployment, target.rpm) == ("img15-prod", 6000.0)
    with run_emulator(api_key=KEY, deployments=(("img15-prod", "gpt-image-1.5"),)) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        started = time.monotonic()
        assert main(["build", str(root), "--json"]) == 0
        took = time.monotonic() - started
        paths = {r.path for r in emu.records}
    assert json.loads(capsys.readouterr().out)["actions_run"] == 4
    assert paths == {"/openai/deployments/img15-prod/images/generations"}
    assert took < 10, f"paced at the catalog's 9 rpm ({took:.1f} s); 4 calls need 20 s at that rate"


def test_one_deployment_given_two_different_quotas_is_a_project_file_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "    deployments: {gpt-image-1.5: img15-prod}\n"
                             "    rpm:\n      img15-prod: 9\n      gpt-image-1.5: 12\n")
    message = ("assetgen.yaml:7:7: error: providers.azure.rpm sets deployment 'img15-prod' twice, "
               "as 'img15-prod' (9) and as its model 'gpt-image-1.5' (12); keep one\n")
    monkeypatch.chdir(root)
    capsys.readouterr()
    assert main(["lint"]) == 1
    assert capsys.readouterr().out == message
    assert main(["build"]) == 2
    assert capsys.readouterr().err == message
    assert not (root / "out").exists()


def test_the_same_quota_twice_is_fine_and_a_deployment_name_wins_over_a_model_name() -> None:
    same = AzureConfig(deployments=(("gpt-image-1.5", "img15"),), rpm=(("gpt-image-1.5", 9), ("img15", 9)))
    assert same.quotas() == {"img15": 9}
    # 'gpt-image-1.5' names a deployment (of gpt-image-1) and a model deployed as 'img15'
    both = AzureConfig(deployments=(("gpt-image-1", "gpt-image-1.5"), ("gpt-image-1.5", "img15")),
                       rpm=(("gpt-image-1.5", 7),))
    assert both.quotas() == {"gpt-image-1.5": 7}
