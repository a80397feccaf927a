"""Several deployments for one model (`providers.azure.deployments: {MODEL: [...]}`): calls go to
whichever has a free slot; a 429, an outage or a missing deployment shifts work to the others;
which one served a call is recorded in the cache record, not in its key."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator
from assetgen.project import read_config
from assetgen.recipe.model import DeploymentSpec

API_KEY = "deployments-test-key"
CALLS = 8
RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  tile:
    matrix: {i: [0, 1, 2, 3, 4, 5, 6, 7]}
    prompt: "Tile {{ i }}"
    output: "out/{{ name }}.png"
"""


def make_project(root: Path, azure: str) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    (root / "assetgen.yaml").write_text('recipes: ["recipes/*.yaml"]\nprovider: azure\nproviders:\n  azure:\n'
                                        + azure)
    return root


def build(root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str) -> dict:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", API_KEY)
    monkeypatch.delenv("ASSETGEN_REMOTE_CACHE", raising=False)
    monkeypatch.delenv("ASSETGEN_CACHE_DIR", raising=False)
    capsys.readouterr()
    code = main(["build", str(root), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (root / ".assetgen/cache/actions").glob("*.json")
            if json.loads(p.read_text())["op"] != "render"]


def test_a_model_may_list_deployments_with_their_own_endpoint_and_quota(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", """\
    deployments:
      gpt-image-1.5:
        - img-east
        - {name: img-west, endpoint: https://west.example.com, rpm: 30}
        - img-north
      gpt-image-1: img1
    rpm: {gpt-image-1.5: 9, img1: 12}
""")
    result = read_config(root)
    assert result.diagnostics == ()
    azure = result.config.azure
    assert azure.pool_for("gpt-image-1.5") == (DeploymentSpec("img-east"),
                                                DeploymentSpec("img-west", "https://west.example.com", 30),
                                                DeploymentSpec("img-north"))
    assert azure.pool_for("gpt-image-1") == (DeploymentSpec("img1"),)
    assert azure.deployment_for("gpt-image-1.5") == "img-east"
    assert azure.quotas() == {"img-east": 9, "img-west": 30, "img-north": 9, "img1": 12}


def test_calls_spread_over_two_deployments_and_the_key_does_not_name_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    deployments = (("img-a", "gpt-image-1.5"), ("img-b", "gpt-image-1.5"))
    with run_emulator(api_key=API_KEY, deployments=deployments) as emu:
        two = make_project(tmp_path / "two", "    deployments: {gpt-image-1.5: [img-a, img-b]}\n"
                                             "    rpm: {img-a: 60, img-b: 60}\n")
        report = build(two, monkeypatch, capsys, emu.url)
        served = Counter(r.deployment for r in emu.records if r.status == 200)
        one = make_project(tmp_path / "one",
                           "    deployments: {gpt-image-1.5: img-a}\n    rpm: {img-a: 600}\n")
        build(one, monkeypatch, capsys, emu.url)
    assert report["actions_run"] == CALLS and report["actions_failed"] == 0
    assert served == {"img-a": CALLS // 2, "img-b": CALLS // 2}
    assert Counter(r["deployment"] for r in records(two)) == served
    lock = json.loads((two / "assetgen.lock").read_text())
    assert lock["assets"] == json.loads((one / "assetgen.lock").read_text())["assets"]


def test_a_rate_limited_deployment_shifts_its_work_to_the_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with run_emulator(api_key=API_KEY, rpm=6) as tight, run_emulator(api_key=API_KEY) as free:
        root = make_project(tmp_path / "p", f"""\
    deployments:
      gpt-image-1.5:
        - {{name: gpt-image-1.5, endpoint: "{tight.url}", rpm: 600}}
        - {{name: gpt-image-1.5, endpoint: "{free.url}", rpm: 600}}
""")
        report = build(root, monkeypatch, capsys, tight.url)
        limited = [r for r in tight.records if r.status == 429]
        by_tight = sum(r.status == 200 for r in tight.records)
        by_free = sum(r.status == 200 for r in free.records)
    assert report["actions_run"] == CALLS and report["actions_failed"] == 0
    assert limited and by_tight + by_free == CALLS and by_free > by_tight   # 1 per 10 s on the tight one


def test_a_deployment_that_is_down_or_missing_shifts_its_work_to_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with run_emulator(api_key=API_KEY) as emu:
        import socket

        with socket.socket() as sock:       # a port nothing listens on: an outage
            sock.bind(("127.0.0.1", 0))
            down = f"http://127.0.0.1:{sock.getsockname()[1]}"
        root = make_project(tmp_path / "p", f"""\
    deployments:
      gpt-image-1.5:
        - {{name: gpt-image-1.5, endpoint: "{down}"}}
        - no-such-deployment
        - gpt-image-1.5
    rpm: {{gpt-image-1.5: 600, no-such-deployment: 600}}
""")
        report = build(root, monkeypatch, capsys, emu.url)
        served = Counter(r.deployment for r in emu.records if r.status == 200)
    assert report["actions_run"] == CALLS and report["actions_failed"] == 0
    assert served == {"gpt-image-1.5": CALLS}
    assert Counter(r["deployment"] for r in records(root)) == {"gpt-image-1.5": CALLS}
