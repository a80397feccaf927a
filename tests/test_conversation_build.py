"""`api: responses`: a three-turn conversation builds through the Responses API image tool against
the emulator, on the openai provider and on azure, with keys from content only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "conversation-key-4711"
LOGO = Path(__file__).resolve().parent.parent / "recipes" / "brand" / "logo.png"
PROJECTS = {
    "openai": ("provider: openai\ndefaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}\n"
               "providers:\n  openai:\n    rpm: {gpt-image-1.5: 6000, gpt-5.1: 6000}\n"),
    "azure": ("provider: azure\ndefaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}\n"
              "providers:\n  azure:\n    deployments: {gpt-image-1.5: img15, gpt-5.1: chat51}\n"
              "    rpm: {img15: 6000, chat51: 6000}\n"),
}
RECIPE = """\
version: 1
assets:
  mascot:
    api: responses
    text_model: gpt-5.1
    instructions: "You draw a friendly mascot for a game studio."
    steps:
      - generate: "A round blue robot mascot, flat vector"
      - edit: "{wave}"
      - edit: "Put the logo from the attached image on its chest"
        images: [brand/logo.png]
        input_fidelity: high
    output: art/mascot.png
"""
WAVE = "Make it wave with the left arm"


def project(root: Path, provider: str, wave: str = WAVE) -> Path:
    (root / "recipes").mkdir(parents=True, exist_ok=True)
    (root / "brand").mkdir(exist_ok=True)
    shutil.copy(LOGO, root / "brand" / "logo.png")
    (root / "assetgen.yaml").write_text(PROJECTS[provider])
    (root / "recipes" / "mascot.yaml").write_text(RECIPE.format(wave=wave))
    return root


def build(root: Path, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{emu.url}/v1")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def emulator() -> object:
    return run_emulator(api_key=KEY, deployments=(("img15", "gpt-image-1.5"),))


def turns(emu: EmulatorHandle) -> list[tuple[str, str, int, int]]:
    """(path, prompt, earlier turns replayed, input images) of each successful request."""
    return [(r.path, r.fields["prompt"], r.fields["turns"] - 1, r.fields["input_images"])
            for r in emu.records if r.status == 200]


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_three_turns_build_then_rebuild_with_no_request(provider: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", provider)
    with emulator() as emu:
        first = build(root, emu, monkeypatch, capsys)
        sent = turns(emu)
        second = build(root, emu, monkeypatch, capsys)
        assert len(emu.records) == 3
        records = list(emu.records)
    path = "/v1/responses" if provider == "openai" else "/openai/v1/responses"
    assert sent == [
        (path, "A round blue robot mascot, flat vector", 0, 0),
        (path, WAVE, 1, 1),                                                 # the working image
        (path, "Put the logo from the attached image on its chest", 2, 2),  # working image + logo
    ]
    assert (first["actions_run"], first["requests"], first["actions_failed"]) == (3, 3, 0)
    assert (second["actions_run"], second["requests"], second["outputs_written"]) == (0, 0, 0)
    assert [r.fields["tool"]["action"] for r in records] == ["generate", "edit", "edit"]
    assert records[2].fields["tool"]["input_fidelity"] == "high"
    assert {r.fields["model"] for r in records} == {"gpt-5.1" if provider == "openai" else "chat51"}
    if provider == "azure":    # the header names the image deployment; the tool has no model there
        assert {r.deployment for r in records} == {"img15"}
        assert all("model" not in r.fields["tool"] for r in records)
    with Image.open(root / "art" / "mascot.png") as img:
        assert img.size == (1024, 1024)
    lock = (root / "assetgen.lock").read_text()
    assert "resp_" not in lock and "ig_" not in lock      # no server-side id anywhere


def test_a_change_to_turn_two_reruns_turns_two_and_three_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "openai")
    with emulator() as emu:
        build(root, emu, monkeypatch, capsys)
        project(root, "openai", wave="Make it wave with the right arm")
        capsys.readouterr()
        assert main(["plan", str(root)]) == 0
        plan = capsys.readouterr().out
        again = build(root, emu, monkeypatch, capsys)
        sent = turns(emu)[3:]
    assert plan.count("run     edit") == 2 and "cached  generate mascot" in plan
    assert again["actions_run"] == 2
    assert [(prompt, earlier) for _, prompt, earlier, _ in sent] == [
        ("Make it wave with the right arm", 1), ("Put the logo from the attached image on its chest", 2)]


def test_a_fresh_clone_with_lock_and_outputs_makes_no_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "azure")
    with emulator() as emu:
        build(root, emu, monkeypatch, capsys)
        clone = tmp_path / "clone"
        shutil.copytree(root, clone, ignore=shutil.ignore_patterns(".assetgen"))
        fresh = build(clone, emu, monkeypatch, capsys)
        assert len(emu.records) == 3
    assert (fresh["actions_run"], fresh["requests"], fresh["outputs_written"]) == (0, 0, 0)


def test_previews_stream_on_openai_and_not_on_azure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for provider in ("openai", "azure"):
        root = project(tmp_path / provider, provider)
        with emulator() as emu:
            build(root, emu, monkeypatch, capsys, "--previews", "2")
            streamed = [r.fields["stream"] for r in emu.records]
        previews = sorted(p.name for p in (root / ".assetgen" / "previews").rglob("*.png"))
        if provider == "openai":
            assert streamed == [True] * 3 and previews == ["partial-0.png", "partial-1.png"]
        else:
            assert streamed == [False] * 3 and previews == []


def test_a_filtered_turn_fails_its_asset_and_keeps_the_turns_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "openai", wave="Make it hold a forbidden relic")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with run_emulator(api_key=KEY, block_word="forbidden") as emu:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{emu.url}/v1")
        assert main(["build", str(root), "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert [r.status for r in emu.records] == [200, 400]
    assert report["actions_run"] == 1 and report["actions_failed"] == 3   # the turn, its dependants
    assert "safety system" in report["failures"][0]["message"]
    assert len(list((root / ".assetgen" / "cache").rglob("*.json"))) >= 1   # turn 1 is kept


def test_lint_on_azure_allows_only_the_gpt_image_1_series(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "azure")
    recipe = root / "recipes" / "mascot.yaml"
    text = recipe.read_text().replace("api: responses\n", "api: responses\n    model: gpt-image-2\n")
    recipe.write_text(text)
    monkeypatch.chdir(root)
    assert main(["lint"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "recipes/mascot.yaml:5:5: error: model 'gpt-image-2' does not back the Responses API image tool on "
        "azure; expected one of gpt-image-1, gpt-image-1-mini, gpt-image-1.5"]


def test_keys_come_from_content_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A second project elsewhere, with the same recipe and a shared cache, finds every turn cached:
    a turn's key is made of the conversation's content, not of anything a server or a folder gave it."""
    monkeypatch.setenv("ASSETGEN_CACHE_DIR", str(tmp_path / "shared-cache"))
    with emulator() as emu:
        build(project(tmp_path / "a", "openai"), emu, monkeypatch, capsys)
        other = build(project(tmp_path / "elsewhere" / "b", "openai"), emu, monkeypatch, capsys)
        assert len(emu.records) == 3
    assert (other["actions_run"], other["requests"], other["outputs_written"]) == (0, 0, 1)
