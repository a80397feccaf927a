"""Model capability checks that depend on the project's provider or on free sizes."""

from __future__ import annotations

from pathlib import Path

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
