"""Model capability checks that depend on the project's provider or on free sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.lint import lint


def _lint(root: Path, recipe: str, project: str | None = None) -> list[str]:
    if project is not None:
        (root / "assetgen.yaml").write_text(project, encoding="utf-8")
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(recipe, encoding="utf-8")
    return [str(d) for d in lint([], root)]


WEBP = ("defaults: {model: gpt-image-1.5, output_format: webp}\n"
        "assets:\n  a:\n    prompt: x\n    output: a.png\n")


def test_azure_has_no_webp_output_format(tmp_path: Path) -> None:
    assert _lint(tmp_path, WEBP, "provider: azure\n") == [
        "recipes/a.yaml:1:34: error: output_format 'webp' is not available from the azure provider for "
        "gpt-image-1.5; expected one of png, jpeg"]


def test_openai_and_local_have_webp(tmp_path: Path) -> None:
    assert _lint(tmp_path, WEBP, "provider: openai\n") == []


def test_free_sizes_of_gpt_image_2(tmp_path: Path) -> None:
    recipe = ("defaults: {model: gpt-image-2}\nassets:\n  ok:\n    size: 2048x1152\n    prompt: x\n"
              "    output: a.png\n  odd:\n    size: 1000x1000\n    prompt: x\n    output: b.png\n")
    assert _lint(tmp_path, recipe) == [
        "recipes/a.yaml:8:5: error: size '1000x1000' is not supported by gpt-image-2; expected one of "
        "1024x1024, 1536x1024, 1024x1536, auto, or WIDTHxHEIGHT in multiples of 16 with the long edge "
        "at most 3840, at most 8294400 pixels and a ratio within 3:1"]


def test_project_defaults_are_reported_in_the_project_file(tmp_path: Path) -> None:
    recipe = "assets:\n  a:\n    prompt: x\n    output: a.png\n"
    assert _lint(tmp_path, recipe, "defaults:\n  model: dall-e-3\n  quality: low\n") == [
        "assetgen.yaml:3:3: error: quality 'low' is not supported by dall-e-3; expected one of standard, hd"]


def test_no_model_is_a_warning(tmp_path: Path) -> None:
    assert _lint(tmp_path, "assets:\n  a:\n    prompt: x\n    output: a.png\n") == [
        "recipes/a.yaml:3:5: warning: no model set for this step: set 'model' in defaults, on the asset "
        "or on the step"]


def test_output_compression_needs_a_lossy_output_format(tmp_path: Path) -> None:
    recipe = ("defaults: {model: gpt-image-1.5}\nassets:\n  a:\n    output_compression: 50\n    prompt: x\n"
              "    output: a.png\n  b:\n    output_compression: 50\n    output_format: jpeg\n    prompt: x\n"
              "    output: b.jpg\n  c:\n    output_compression: 100\n    prompt: x\n    output: c.png\n")
    assert _lint(tmp_path, recipe) == [
        "recipes/a.yaml:4:5: error: output_compression 50 needs output_format jpeg or webp, not png"]


RETIRED = """\
version: 1
defaults: {size: 1024x1024}
assets:
  one:
    model: gpt-image-1
    prompt: x
    output: one.png
  three:
    model: dall-e-3
    prompt: x
    output: three.png
  two:
    model: dall-e-2
    prompt: x
    output: two.png
"""


def test_each_retired_pair_is_an_error_naming_the_replacement(tmp_path: Path) -> None:
    assert _lint(tmp_path, RETIRED, "provider: openai\n") == [
        "recipes/a.yaml:5:5: error: model 'gpt-image-1' was retired on OpenAI on 2026-10-23; use "
        "gpt-image-1.5 (Azure OpenAI still serves it)",
        "recipes/a.yaml:9:5: error: model 'dall-e-3' was retired on OpenAI on 2026-05-12; use "
        "gpt-image-1.5 (Azure OpenAI still serves it)",
        "recipes/a.yaml:13:5: error: model 'dall-e-2' was retired on OpenAI on 2026-05-12; use "
        "gpt-image-2.5-sunburst"]


def test_azure_still_serves_gpt_image_1_and_dall_e_3(tmp_path: Path) -> None:
    assert _lint(tmp_path, RETIRED, "provider: azure\n") == [
        "recipes/a.yaml:13:5: error: model 'dall-e-2' was retired on Azure OpenAI; use gpt-image-1.5"]


MINI_AND_TWO = """\
version: 1
assets:
  mini:
    model: gpt-image-1-mini
    steps:
      - generate: a cat
      - edit: a dog
    output: mini.png
  two:
    model: gpt-image-2
    steps:
      - generate: a cat
        size: 2576x1440
        background: transparent
      - edit: a dog
        input_fidelity: high
    output: two.png
  small:
    model: gpt-image-2
    size: 800x800
    prompt: a cat
    output: small.png
"""


def test_mini_edits_and_gpt_image_2_on_openai(tmp_path: Path) -> None:
    assert _lint(tmp_path, MINI_AND_TWO, "provider: openai\n") == [
        "recipes/a.yaml:4:5: warning: model 'gpt-image-1-mini' is deprecated on OpenAI; use gpt-image-1.5",
        "recipes/a.yaml:13:9: warning: size '2576x1440' is above 2560x1440 pixels: gpt-image-2 calls such "
        "sizes experimental",
        "recipes/a.yaml:14:9: warning: a transparent background on gpt-image-2 is in preview on OpenAI",
        "recipes/a.yaml:16:9: error: model 'gpt-image-2' does not take 'input_fidelity' on the openai "
        "provider (leave it out)"]


def test_gpt_image_2_on_azure(tmp_path: Path) -> None:
    assert _lint(tmp_path, MINI_AND_TWO, "provider: azure\n") == [
        "recipes/a.yaml:13:9: warning: size '2576x1440' is above 2560x1440 pixels: gpt-image-2 calls such "
        "sizes experimental",
        "recipes/a.yaml:14:9: warning: a transparent background on gpt-image-2 is not confirmed on Azure "
        "OpenAI (the sources disagree or say nothing)",
        "recipes/a.yaml:20:5: error: size '800x800' is below 655360 pixels, the least gpt-image-2 makes "
        "on the azure provider"]


def test_xhigh_and_max_only_from_gpt_image_2_5(tmp_path: Path) -> None:
    recipe = ("assets:\n  a:\n    model: gpt-image-2.5-sunburst-2026-09-08\n    quality: max\n"
              "    prompt: x\n    output: a.png\n  b:\n    model: gpt-image-2-2026-04-21\n"
              "    quality: xhigh\n    prompt: x\n    output: b.png\n")
    assert _lint(tmp_path, recipe) == [
        "recipes/a.yaml:9:5: error: quality 'xhigh' is not supported by gpt-image-2-2026-04-21; expected one "
        "of low, medium, high, auto"]


def test_a_provider_given_on_the_command_line_is_checked_for_its_own_rules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the project file says openai, which takes webp; `--provider azure` would send a call Azure refuses
    (tmp_path / "recipes").mkdir()
    (tmp_path / "assetgen.yaml").write_text("provider: openai\ndefaults: {model: gpt-image-1.5}\n",
                                            encoding="utf-8")
    (tmp_path / "recipes" / "r.yaml").write_text(
        "version: 1\nassets:\n  gen: {prompt: a gem, output_format: webp, output: gen.webp}\n",
        encoding="utf-8")
    message = ("recipes/r.yaml:3:24: error: output_format 'webp' is not available from the azure provider "
               "for gpt-image-1.5; expected one of png, jpeg\n")
    for command in ("plan", "build"):
        capsys.readouterr()
        assert main([command, str(tmp_path), "--provider", "azure"]) == 2
        assert capsys.readouterr().err.endswith(message)
    assert not (tmp_path / "assetgen.lock").exists()
    assert main(["plan", str(tmp_path), "--provider", "openai"]) == 0


def test_a_small_change_built_with_another_provider_is_checked_for_its_rules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the build after a small change loads only the changed file: it is checked for azure's rules too
    from assetgen.emulator.testing import run_emulator

    (tmp_path / "recipes").mkdir()
    (tmp_path / "assetgen.yaml").write_text(
        "provider: openai\ndefaults: {model: gpt-image-1.5}\n"
        "providers: {azure: {rpm: {gpt-image-1.5: 6000}}}\n", encoding="utf-8")
    recipe = tmp_path / "recipes" / "r.yaml"
    recipe.write_text("version: 1\nassets:\n  gen: {prompt: a gem, output: gen.png}\n", encoding="utf-8")
    with run_emulator(api_key="k") as emu:
        for name, value in {"AZURE_OPENAI_ENDPOINT": emu.url, "AZURE_OPENAI_API_KEY": "k",
                            "AZURE_TOKEN_CREDENTIALS": "dev"}.items():
            monkeypatch.setenv(name, value)
        assert main(["build", str(tmp_path), "--provider", "azure"]) == 0      # stamped
        recipe.write_text("version: 1\nassets:\n  gen: {prompt: a gem, output_format: webp, "
                          "output: gen.webp}\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["build", str(tmp_path), "--provider", "azure"]) == 2
        assert "output_format 'webp' is not available from the azure provider" in capsys.readouterr().err
        assert len(emu.records) == 1        # the first build's call only
