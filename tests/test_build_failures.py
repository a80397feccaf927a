"""How a build that fails against a real service explains itself, through the CLI: an endpoint
nobody listens on fails fast naming host:port, a missing key is one line, and a cause that hits
many assets is said once with the assets it hit (a refused prompt with its FILE:LINE and text)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from tiles import tiles

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator

KEY = "failures-test-key-8086"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released: connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def project(root: Path, recipe: str, config: str = "") -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "t.yaml").write_text(recipe)
    (root / "assetgen.yaml").write_text("provider: azure\n" + config)
    return root


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_an_unreachable_endpoint_fails_the_build_at_once_naming_host_and_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the catalog's quota (9 a minute): calls that wait for a slot fail with the endpoint, unsent
    root = project(tmp_path / "p", tiles(8, model="gpt-image-1.5", size="1024x1024", quality="low"))
    port = closed_port()
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    assert main(["build", str(root), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    message = (f"cannot connect to 127.0.0.1:{port}, the Azure OpenAI endpoint http://127.0.0.1:{port} "
               f"($AZURE_OPENAI_ENDPOINT): connection refused; gave up after 4 attempts in ")
    assert [f["asset"] for f in out["failures"]] == [f"tile-{i}" for i in range(8)]
    assert all(f["message"].startswith(message) for f in out["failures"])
    assert len({f["message"] for f in out["failures"]}) == 1
    assert (out["requests"], out["actions_run"], out["actions_failed"]) == (4, 0, 16)

    assert main(["build", str(root)]) == 1
    text = lines(capsys.readouterr().out)
    assert text[0] == "16 actions, 16 to run"
    assert text[1].startswith(f"[1/16] FAILED generate tile-0: {message}")
    assert text[2:9] == [f"[{i + 1}/16] FAILED generate tile-{i} (as tile-0)" for i in range(1, 8)]
    assert text[9].startswith(f"failed: {message}")
    assert text[10:] == ["  8 assets: tile-0, tile-1, tile-2, tile-3, tile-4, tile-5, tile-6, tile-7",
                         "16 actions (8 calls, 8 renditions): 0 calls made, 0 outputs written, 16 failed; "
                         "4 requests"]


def test_a_host_that_does_not_resolve_is_named_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", tiles(2, model="gpt-image-1.5", size="1024x1024", quality="low"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    args = ["build", str(root), "--json", "--provider", "openai", "--endpoint", "http://no-such-host.invalid/v1"]
    assert main(args) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["requests"] == 4
    assert out["failures"][0]["message"].startswith(
        "cannot connect to no-such-host.invalid:80, the OpenAI endpoint http://no-such-host.invalid "
        "(--endpoint): host name not found (")


def test_a_missing_key_without_entra_id_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", tiles(14, model="gpt-image-1.5", size="1024x1024", quality="low"))
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")     # developer sign-ins only: no network probe
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))   # no az, azd or pwsh to ask
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        assert main(["build", str(root), "--json"]) == 1
        out, err = capsys.readouterr()
        assert main(["build", str(root)]) == 1
        text = capsys.readouterr()
        assert emu.records == []
    cause = ("no credentials: $AZURE_OPENAI_API_KEY is not set, and Entra ID (DefaultAzureCredential) "
             "found none (az login: Azure CLI not found on path); set $AZURE_OPENAI_API_KEY, or sign in "
             "with `az login`")
    assert lines(err) == [f"failed: {cause}", "  14 assets: " + ", ".join(
        f"tile-{i}" for i in range(12)) + " and 2 more"]       # in the recipe's order
    assert json.loads(out)["failures"][0] == {"asset": "tile-0", "message": cause}
    assert text.err == ""
    assert len(lines(text.out)) == 5
    assert [line for line in lines(text.out) if "AZURE_OPENAI_API_KEY" in line] == [
        f"[1/28] FAILED generate tile-0: {cause}", f"failed: {cause}"]


def test_a_missing_deployment_is_said_once_for_every_asset_it_hit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", tiles(14, model="gpt-image-1.5", size="1024x1024", quality="low"),
                   "providers:\n  azure:\n    deployments: {gpt-image-1.5: images-prod}\n"
                   "    rpm: {images-prod: 6000}\n")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        assert main(["build", str(root)]) == 1
        text = lines(capsys.readouterr().out)
        sent = len(emu.records)
    missing = (f"Azure OpenAI deployment 'images-prod' does not exist at {emu.url} (model 'gpt-image-1.5' "
               "maps to it; set providers.azure.deployments in assetgen.yaml)")
    assert sum(missing in line for line in text) == 2      # once as it happens, once in the summary
    assert text[-3:] == [
        f"failed: {missing}",
        "  14 assets: tile-0, tile-1, tile-2, tile-3, tile-4, tile-5, tile-6, tile-7, tile-8, tile-9, "
        "tile-10, tile-11 and 2 more",
        "28 actions (14 calls, 14 renditions): 0 calls made, 0 outputs written, 28 failed; 1 request"]
    assert sent == 1


CURSED = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  relic:
    matrix:
      metal: [gold, silver, iron, bronze]
    prompt: >-
      A forbidden {{ metal }} relic, glowing runes carved deep into its surface, on a dark velvet
      cushion, studio light
    output: "out/{{ name }}.png"
  key:
    prompt: "A golden key"
    output: out/key.png
"""


def test_filtered_prompts_name_their_recipe_line_and_prompt_once_per_cause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", CURSED, "providers: {azure: {rpm: {gpt-image-1.5: 6000}}}\n")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        assert main(["build", str(root), "--json", "-j", "1"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert main(["build", str(root), "-j", "1", "--force", "relic"]) == 1     # refusals are remembered
        text = lines(capsys.readouterr().out)
        sent = len(emu.records)
        assert main(["build", str(root), "-j", "1"]) == 1
        again = lines(capsys.readouterr().out)
        assert len(emu.records) == sent
    assert [line.split(": ")[1] for line in again if line.startswith("failed: ")] == [
        f"relic-{m}" for m in ("gold", "silver", "iron", "bronze")]
    cause = ("recipes/t.yaml:7: the Azure OpenAI safety system refused the prompt "
             "(content_policy_violation: violence)")
    prompts = {"gold": "on", "silver": "o", "iron": "on", "bronze": "o"}   # 72 characters at most
    prompt = {m: f'"A forbidden {m} relic, glowing runes carved deep into its surface, {end}…"'
              for m, end in prompts.items()}
    metals = list(prompts)
    assert out["failures"] == [{"asset": f"relic-{m}", "message": f"{cause}: {prompt[m]}"} for m in metals]
    assert (out["actions_run"], out["requests"]) == (1, 5)
    assert text[-6:] == [f"failed: {cause}"] + [f"  relic-{m}: {prompt[m]}" for m in metals] + [
        "10 actions (5 calls, 5 renditions): 0 calls made, 0 outputs written, 8 failed; 4 requests"]
    assert text[1:5] == [f"[1/8] FAILED generate relic-gold: {cause}: {prompt['gold']}"] + [
        f"[{i}/8] FAILED generate relic-{m} (as relic-gold): {prompt[m]}"
        for i, m in enumerate(metals[1:], 2)]


SHARED = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  twin-a: {prompt: "A forbidden twin", output: out/twin-a.png}
  twin-b: {prompt: "A forbidden twin", output: out/twin-b.png}
  relic: {prompt: "A forbidden relic", output: out/relic.png}
  after-relic:
    steps: [{edit: "Add a glow", image: {asset: relic}}]
    output: out/after-relic.png
  fine: {prompt: "A fine shield", output: out/fine.png}
"""


def test_every_asset_not_built_is_its_own_failure_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # two assets of one shared call, and one that waits for a refused image: SPEC's {"asset": str}
    root = project(tmp_path / "p", SHARED)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        assert main(["build", str(root), "--json", "-j", "1"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert main(["build", str(root), "-j", "1"]) == 1
        text = lines(capsys.readouterr().out)
    assert [f["asset"] for f in out["failures"]] == ["relic", "twin-a", "twin-b", "after-relic"]
    waits = "not built: it needs the image of relic, which failed"
    assert out["failures"][-1] == {"asset": "after-relic", "message": waits}
    assert (root / "out" / "fine.png").is_file()
    assert f"failed: after-relic: {waits}" in text
