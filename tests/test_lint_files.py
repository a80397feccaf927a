"""File checks on real images made with Pillow in a temp project."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from assetgen.lint import lint

CHAIN = """\
defaults: {{model: gpt-image-1.5}}
assets:
  x:
    size: 1536x1024
    steps:
      - generate: a castle
      - edit: a storm
        mask: {mask}
      - edit: add the logo
        images: [{logo}]
    output: x.png
"""


def _save(root: Path, rel: str, mode: str, size: tuple[int, int], fmt: str = "PNG", pad: int = 0) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size).save(path, fmt)
    if pad:
        with path.open("ab") as f:
            f.write(b"\0" * pad)
    return rel


def _lint(root: Path, mask: str, logo: str) -> list[str]:
    (root / "recipes").mkdir(exist_ok=True)
    (root / "recipes" / "a.yaml").write_text(CHAIN.format(mask=mask, logo=logo), encoding="utf-8")
    return [str(d) for d in lint([], root)]


def test_good_mask_and_logo_pass(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.png", "RGBA", (1536, 1024))
    logo = _save(tmp_path, "b/logo.jpg", "RGB", (64, 64), "JPEG")
    assert _lint(tmp_path, mask, logo) == []


def test_mask_without_alpha(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.png", "RGB", (1536, 1024))
    logo = _save(tmp_path, "b/logo.png", "RGBA", (64, 64))
    assert _lint(tmp_path, mask, logo) == [
        "recipes/a.yaml:8:15: error: mask 'm/sky.png' has no alpha channel; alpha 0 marks what may change"]


def test_mask_must_be_png(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.jpg", "RGB", (1536, 1024), "JPEG")
    logo = _save(tmp_path, "b/logo.png", "RGBA", (64, 64))
    assert _lint(tmp_path, mask, logo) == [
        "recipes/a.yaml:8:15: error: mask 'm/sky.jpg' is JPEG; a mask must be a PNG"]


def test_mask_size_must_match_the_image_it_masks(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.png", "RGBA", (1024, 1024))
    logo = _save(tmp_path, "b/logo.png", "RGBA", (64, 64))
    assert _lint(tmp_path, mask, logo) == [
        "recipes/a.yaml:8:15: error: mask 'm/sky.png' is 1024x1024 but the image it masks is 1536x1024"]


def test_mask_over_4_mb(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.png", "RGBA", (1536, 1024), pad=4 * 1024 * 1024)
    logo = _save(tmp_path, "b/logo.png", "RGBA", (64, 64))
    assert _lint(tmp_path, mask, logo) == [
        "recipes/a.yaml:8:15: error: mask 'm/sky.png' is 4.01 MB; masks must be at most 4 MB"]


def test_input_must_be_png_or_jpeg_on_azure(tmp_path: Path) -> None:
    (tmp_path / "assetgen.yaml").write_text("provider: azure\n", encoding="utf-8")
    mask = _save(tmp_path, "m/sky.png", "RGBA", (1536, 1024))
    gif = _save(tmp_path, "b/logo.gif", "P", (64, 64), "GIF")
    webp = _save(tmp_path, "b/logo.webp", "RGB", (64, 64), "WEBP")
    assert _lint(tmp_path, mask, f"{gif}, {webp}") == [
        "recipes/a.yaml:10:18: error: input image 'b/logo.gif' is GIF; expected PNG or JPEG",
        "recipes/a.yaml:10:30: error: input image 'b/logo.webp' is WEBP; expected PNG or JPEG",
    ]


def test_input_over_the_size_limit(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.png", "RGBA", (1536, 1024))
    logo = _save(tmp_path, "b/logo.png", "RGBA", (64, 64), pad=50 * 1024 * 1024)
    assert _lint(tmp_path, mask, logo) == [
        "recipes/a.yaml:10:18: error: input image 'b/logo.png' is 50.00 MB; the limit is 50 MB"]


def test_not_an_image(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.png", "RGBA", (1536, 1024))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "logo.png").write_text("not a png", encoding="utf-8")
    assert _lint(tmp_path, mask, "b/logo.png") == [
        "recipes/a.yaml:10:18: error: input image 'b/logo.png' is not an image Pillow can read"]


def test_a_folder_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "m" / "sky.png").mkdir(parents=True)
    logo = _save(tmp_path, "b/logo.png", "RGBA", (64, 64))
    assert _lint(tmp_path, "m/sky.png", logo) == [
        "recipes/a.yaml:8:15: error: mask 'm/sky.png' is a folder, not an image file"]


def test_mask_size_known_from_the_first_image_file(tmp_path: Path) -> None:
    _save(tmp_path, "in/photo.png", "RGB", (800, 600))
    _save(tmp_path, "m/mask.png", "RGBA", (600, 800))
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "defaults: {model: gpt-image-1}\nassets:\n  x:\n    steps:\n"
        "      - edit: a hat\n        image: in/photo.png\n        mask: m/mask.png\n    output: x.png\n",
        encoding="utf-8")
    assert [str(d) for d in lint([], tmp_path)] == [
        "recipes/a.yaml:7:15: error: mask 'm/mask.png' is 600x800 but the image it masks is 800x600"]


def test_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    root = tmp_path / "project"
    _save(outside, "secret.png", "RGBA", (1536, 1024))
    (root / "m").mkdir(parents=True)
    (root / "m" / "link").symlink_to(outside)
    logo = _save(root, "b/logo.png", "RGBA", (64, 64))
    assert _lint(root, "m/link/secret.png", logo) == [
        "recipes/a.yaml:8:15: error: path 'm/link/secret.png' in steps[1].mask escapes the project root "
        "through a symlink"]


def test_azure_takes_edit_inputs_under_25_mb_openai_under_50(tmp_path: Path) -> None:
    mask = _save(tmp_path, "m/sky.png", "RGBA", (1536, 1024))
    logo = _save(tmp_path, "b/logo.png", "RGBA", (64, 64), pad=30 * 1024 * 1024)
    (tmp_path / "assetgen.yaml").write_text("provider: openai\n", encoding="utf-8")
    assert _lint(tmp_path, mask, logo) == []
    (tmp_path / "assetgen.yaml").write_text("provider: azure\n", encoding="utf-8")
    assert _lint(tmp_path, mask, logo) == [
        "recipes/a.yaml:10:18: error: input image 'b/logo.png' is 30.00 MB; the limit is 25 MB"]


def test_a_mask_another_asset_makes_is_checked_as_a_file_would_be(tmp_path: Path) -> None:
    # its format, alpha and size are known from the recipe: the build would pay for the images
    # before the edit, and the edit would be refused
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text("""\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  mk: {prompt: "a mask", output_format: jpeg}
  wide: {prompt: "a wide mask", size: 1536x1024, background: transparent}
  flat: {prompt: "a flat mask", background: opaque}
  good: {prompt: "a good mask", background: transparent}
  a: {steps: [{generate: base}, {edit: e, mask: {asset: mk}}], output: out/a.png}
  b: {steps: [{generate: base}, {edit: e, mask: {asset: wide}}], output: out/b.png}
  c: {steps: [{generate: base}, {edit: e, mask: {asset: flat}}], output: out/c.png}
  d: {steps: [{generate: base}, {edit: e, mask: {asset: good}}], output: out/d.png}
""", encoding="utf-8")
    assert [str(d) for d in lint([], tmp_path)] == [
        "recipes/a.yaml:8:49: error: mask {asset: mk} is made as JPEG (output_format: jpeg); a mask must be "
        "a PNG",
        "recipes/a.yaml:9:49: error: mask {asset: wide} is 1536x1024 but the image it masks is 1024x1024",
        "recipes/a.yaml:10:49: error: mask {asset: flat} is made with background: opaque, so it has no alpha "
        "channel; alpha 0 marks what may change"]
