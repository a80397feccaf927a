from __future__ import annotations

import io

from PIL import Image

from assetgen import placeholder


def _decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_generate_is_deterministic_and_sized() -> None:
    a = placeholder.encode(placeholder.generate(320, 192, "a red potion", "potion-red"))
    b = placeholder.encode(placeholder.generate(320, 192, "a red potion", "potion-red"))
    assert a == b
    assert _decode(a).size == (320, 192)


def test_prompt_and_label_change_the_pixels() -> None:
    base = placeholder.generate(256, 256, "a red potion", "potion-red")
    other_prompt = placeholder.generate(256, 256, "a blue potion", "potion-red")
    other_label = placeholder.generate(256, 256, "a red potion", "potion-blue")
    assert base.tobytes() != other_prompt.tobytes()
    assert base.tobytes() != other_label.tobytes()


def test_transparent_background_has_clear_corners_and_opaque_centre() -> None:
    img = _decode(placeholder.encode(placeholder.generate(256, 256, "icon", "x", transparent=True)))
    assert img.mode == "RGBA"
    assert img.getpixel((0, 0))[3] == 0
    assert img.getpixel((128, 200))[3] == 255


def test_opaque_background_has_no_transparent_pixel() -> None:
    img = placeholder.generate(128, 128, "banner", "x")
    assert img.getchannel("A").getextrema() == (255, 255)


def test_mask_edit_keeps_every_protected_pixel_exactly() -> None:
    base = placeholder.generate(256, 128, "knight", "banner", transparent=True)
    mask = Image.new("RGBA", (256, 128), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 256, 40))        # only the top band may change
    edited = _decode(placeholder.encode(placeholder.edit(base, "storm", "banner", mask)))
    kept = (0, 40, 256, 128)
    assert edited.crop(kept).tobytes() == base.crop(kept).tobytes()
    band = (0, 0, 256, 40)
    assert edited.crop(band).tobytes() != base.crop(band).tobytes()


def test_edit_resizes_to_the_requested_size() -> None:
    base = placeholder.generate(256, 256, "p", "x")
    assert placeholder.edit(base, "square poster", "x", size=(128, 64)).size == (128, 64)


def test_encode_formats() -> None:
    img = placeholder.generate(64, 64, "p", "x", transparent=True)
    assert _decode(placeholder.encode(img, "jpeg", 50)).format == "JPEG"
    assert _decode(placeholder.encode(img, "webp", 80)).format == "WEBP"
    png = _decode(placeholder.encode(img, "png"))
    assert (png.format, png.mode) == ("PNG", "RGBA")
