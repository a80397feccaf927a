"""Placeholders a person can read: the variant's name large enough for a 96 px thumbnail, one
colour per matrix value, a chain of edits drawn as nested steps, reference images pasted in,
candidates numbered from 0, and the emulator's images titled with the prompt's first words."""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image, ImageChops

from assetgen import placeholder
from assetgen.emulator.testing import run_emulator
from assetgen.providers.base import ImageRequest, InputImage
from assetgen.providers.local import draw
from assetgen.recipe.model import Op


def _png(img: Image.Image) -> bytes:
    return placeholder.encode(img)


def _count(img: Image.Image, colour: tuple[int, int, int]) -> int:
    """How many pixels have exactly this colour."""
    split = zip(img.convert("RGB").split(), colour, strict=True)
    bands = [band.point(lambda v, c=c: 255 if v == c else 0) for band, c in split]
    both = ImageChops.multiply(ImageChops.multiply(bands[0], bands[1]), bands[2])
    return both.histogram()[255]


def test_the_name_is_at_least_9_px_tall_in_a_96_px_thumbnail() -> None:
    for name, (w, h) in [("icon-sword-poison", (1024, 1024)), ("banner-square", (1536, 1024)),
                         ("potion-stamina-blue-large", (1024, 1536))]:
        lines, size = placeholder._fit(name, w - 2 * (min(w, h) // 24), h * 2 // 5)
        assert size * 96 / max(w, h) >= 9, (name, lines, size)


def test_a_matrix_value_has_one_colour_in_every_variant() -> None:
    fire = placeholder.token_colour("fire")
    sword = placeholder.generate(512, 512, "A fire sword", "icon-sword-fire")
    shield = placeholder.generate(512, 512, "A fire shield", "icon-shield-fire")
    ice = placeholder.generate(512, 512, "An ice shield", "icon-shield-ice")
    assert _count(sword, fire) > 300 and _count(shield, fire) > 300
    assert _count(ice, fire) < 30
    assert placeholder.token_colour("fire") == fire != placeholder.token_colour("ice")


def test_an_edit_without_a_mask_holds_the_step_before_as_an_inset() -> None:
    base = Image.new("RGBA", (512, 512), (250, 20, 20, 255))
    edited = placeholder.edit(base, "Make it night", "scene")
    margin = 512 // 24
    inset = edited.crop((margin + 8, margin + 8, margin + 120, margin + 120)).convert("RGB")
    assert _count(inset, (250, 20, 20)) == inset.width * inset.height
    twice = placeholder.edit(edited, "Add stars", "scene")     # a chain nests: both steps are visible
    assert _count(twice, (250, 20, 20)) > 3000


def test_reference_images_are_pasted_in_and_masked_edits_keep_the_rest() -> None:
    base = placeholder.generate(512, 512, "A knight", "banner")
    logo = Image.new("RGBA", (64, 64), (0, 0, 255, 255))
    no_mask = placeholder.edit(base, "Add the logo", "banner", references=[logo])
    assert _count(no_mask, (0, 0, 255)) > 1000
    mask = Image.new("RGBA", (512, 512), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 512, 256))
    masked = placeholder.edit(base, "Add the logo", "banner", mask, references=[logo])
    assert _count(masked.crop((0, 0, 512, 256)), (0, 0, 255)) > 1000
    assert masked.crop((0, 256, 512, 512)).tobytes() == base.crop((0, 256, 512, 512)).tobytes()


def test_local_candidates_are_numbered_from_0() -> None:
    params = {"n": 3, "size": "256x256"}
    result = draw(ImageRequest(Op.GENERATE, "gpt-image-1.5", "A gem", params, label="gem"))
    expected = [_png(placeholder.generate(256, 256, "A gem", "gem", False, f"#{k}")) for k in range(3)]
    assert list(result.images) == expected
    logo = Image.new("RGBA", (32, 32), (0, 0, 255, 255))
    base = placeholder.generate(256, 256, "A gem", "gem")
    edit = draw(ImageRequest(Op.EDIT, "gpt-image-1.5", "Add a logo", {"size": "256x256"}, label="gem",
                             images=(InputImage("b.png", _png(base), "image/png"),
                                     InputImage("logo.png", _png(logo), "image/png"))))
    with Image.open(io.BytesIO(edit.images[0])) as img:
        assert _count(img, (0, 0, 255)) > 100


def test_the_emulator_titles_its_images_with_the_prompts_first_words() -> None:
    with run_emulator(api_key="k") as emu:
        response = httpx.post(f"{emu.url}/openai/v1/images/generations", headers={"api-key": "k"},
                              params={"api-version": "preview"},
                              json={"model": "gpt-image-1.5", "prompt": "A lion emblem on a red shield, gold",
                                    "size": "1024x1024", "quality": "low", "n": 2})
    images = [base64.b64decode(d["b64_json"]) for d in response.json()["data"]]
    prompt = "A lion emblem on a red shield, gold"
    assert placeholder.first_words(prompt) == "A lion emblem on …"
    for k, data in enumerate(images):
        title = placeholder.first_words(prompt)
        expected = placeholder.generate(1024, 1024, prompt, title, False, f"gpt-image-1.5 #{k}")
        with Image.open(io.BytesIO(data)) as img:
            assert img.convert("RGB").tobytes() == expected.convert("RGB").tobytes()
