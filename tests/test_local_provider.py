"""The `local` provider: sized, deterministic placeholders; edits keep every pixel the mask protects."""

from __future__ import annotations

import asyncio
import io

from PIL import Image, ImageChops

from assetgen.providers.base import ImageRequest, InputImage
from assetgen.providers.local import LocalProvider
from assetgen.recipe.model import Op


def _run(request: ImageRequest) -> list[Image.Image]:
    result = asyncio.run(LocalProvider().run(request))
    assert result.requests == 0
    images = []
    for data in result.images:
        img = Image.open(io.BytesIO(data))
        img.load()
        images.append(img)
    return images


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_generate_has_the_requested_size_and_is_deterministic() -> None:
    req = ImageRequest(Op.GENERATE, "gpt-image-1.5", "A red gem", {"size": "96x64"}, label="gem-red")
    first, again = _run(req)[0], _run(req)[0]
    assert (first.format, first.size) == ("PNG", (96, 64))
    assert ImageChops.difference(first.convert("RGBA"), again.convert("RGBA")).getbbox() is None


def test_transparent_background_has_clear_corners() -> None:
    req = ImageRequest(Op.GENERATE, "gpt-image-1.5", "A gem", {"size": "64x64", "background": "transparent"},
                       label="gem")
    img = _run(req)[0].convert("RGBA")
    assert img.getpixel((0, 0))[3] == 0
    assert img.getpixel((32, 40))[3] == 255


def test_the_label_and_prompt_change_the_picture() -> None:
    base = ImageRequest(Op.GENERATE, "m", "A gem", {"size": "64x64"}, label="a")
    other = ImageRequest(Op.GENERATE, "m", "A gem", {"size": "64x64"}, label="b")
    assert _png(_run(base)[0]) != _png(_run(other)[0])


def test_n_candidates_differ_and_output_format_is_honoured() -> None:
    params = {"size": "64x64", "n": 3, "output_format": "jpeg"}
    req = ImageRequest(Op.GENERATE, "m", "A gem", params, label="g")
    images = _run(req)
    assert [i.format for i in images] == ["JPEG"] * 3
    assert len({_png(i) for i in images}) == 3


def test_unknown_model_without_size_uses_1024_square() -> None:
    assert _run(ImageRequest(Op.GENERATE, "mystery", "x", {}, label="g"))[0].size == (1024, 1024)


def test_edit_changes_only_the_pixels_the_mask_allows() -> None:
    base = Image.new("RGBA", (64, 64), (10, 200, 30, 255))
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 20, 64))
    req = ImageRequest(Op.EDIT, "m", "Paint the left", {}, label="e",
                       images=(InputImage("base.png", _png(base), "image/png"),),
                       mask=InputImage("mask.png", _png(mask), "image/png"))
    out = _run(req)[0].convert("RGBA")
    assert out.size == (64, 64)
    diff = ImageChops.difference(out.convert("RGB"), base.convert("RGB")).getbbox()
    assert diff is not None and diff[2] <= 20          # changes stay left of x = 20
    assert out.crop((20, 0, 64, 64)).tobytes() == base.crop((20, 0, 64, 64)).tobytes()


def test_drawings_in_worker_processes_are_the_drawings_of_a_thread() -> None:
    """After the first POOL_AFTER drawings a build draws in one process per core: the same bytes,
    and a refused request is the same error."""
    from assetgen.providers import local
    from assetgen.providers.base import ProviderError

    requests = [ImageRequest(Op.GENERATE, "gpt-image-1.5", f"Gem {i}", {"size": "32x32", "n": 1 + i % 2},
                             label=f"gem-{i}") for i in range(local.POOL_AFTER + 8)]

    async def run_all(provider: LocalProvider) -> list[tuple[bytes, ...]]:
        try:
            results = await asyncio.gather(*(provider.run(r) for r in requests))
            bad = ImageRequest(Op.GENERATE, "gpt-image-1.5", "Gem", {"size": "big"}, label="gem")
            try:
                await provider.run(bad)
            except ProviderError as exc:
                assert (str(exc), exc.status) == ("invalid size 'big'", 400)
            else:
                raise AssertionError("no error")
            return [r.images for r in results]
        finally:
            await provider.aclose()

    pooled = LocalProvider(workers=2)
    in_processes = asyncio.run(run_all(pooled))
    assert pooled._calls > local.POOL_AFTER
    assert in_processes == [local.draw(r).images for r in requests]
    assert asyncio.run(run_all(LocalProvider(workers=1))) == in_processes


SCRIPT = """\
from pathlib import Path
from assetgen.run.build import BuildOptions, build

with open("ran.txt", "a") as fh:      # no `if __name__ == "__main__"`: a worker process would run it again
    fh.write("ran\\n")
report = build(BuildOptions(cwd=Path.cwd()))
print(report.actions_run, report.outputs_written)
"""


def test_a_script_that_builds_at_import_builds_once(tmp_path) -> None:
    """Worker processes import the program's main module again: for a script that builds without
    `if __name__ == "__main__"` the drawings stay in this process."""
    import subprocess
    import sys

    from assetgen.providers import local

    n = local.POOL_AFTER + 8
    (tmp_path / "recipes").mkdir()
    (tmp_path / "assetgen.yaml").write_text(
        "version: 1\nprovider: local\ndefaults: {model: gpt-image-2, size: 16x16}\n")
    values = ", ".join(str(i) for i in range(n))
    (tmp_path / "recipes" / "r.yaml").write_text(
        f"version: 1\nassets:\n  a:\n    matrix: {{i: [{values}]}}\n    prompt: \"Asset {{{{ i }}}}\"\n"
        "    output: \"out/{{ name }}.png\"\n")
    (tmp_path / "script.py").write_text(SCRIPT)
    proc = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(n), str(n)]
    assert (tmp_path / "ran.txt").read_text() == "ran\n"


def test_an_edit_without_a_mask_draws_at_tiny_sizes() -> None:
    """Below ~32 px there is no room for the name beside the inset: it is left out (it raised)."""
    for side in (8, 16, 24):
        base = Image.new("RGBA", (side, side), (10, 200, 30, 255))
        req = ImageRequest(Op.EDIT, "gpt-image-2", "Make it night", {"size": f"{side}x{side}"}, label="chain",
                           images=(InputImage("base.png", _png(base), "image/png"),))
        assert _run(req)[0].size == (side, side)
