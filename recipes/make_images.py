"""Make the example project's mask and logo (run once; the PNGs are committed).

    ../.venv/bin/python make_images.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent


def sky_mask() -> Image.Image:
    """1536x1024 RGBA: alpha 0 over the sky (the top 45 %), opaque below, as the banner expects."""
    mask = Image.new("RGBA", (1536, 1024), (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((0, 0, 1535, 460), fill=(0, 0, 0, 0))
    return mask


def logo() -> Image.Image:
    """256x256 RGBA: a gold shield with a dark outline on a transparent background."""
    image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.polygon([(32, 24), (224, 24), (224, 128), (128, 236), (32, 128)],
                 fill=(222, 170, 40, 255), outline=(40, 30, 20, 255), width=8)
    draw.line([(128, 40), (128, 210)], fill=(40, 30, 20, 255), width=10)
    draw.line([(56, 96), (200, 96)], fill=(40, 30, 20, 255), width=10)
    return image


if __name__ == "__main__":
    sky_mask().save(HERE / "masks" / "banner-sky.png", optimize=True)
    logo().save(HERE / "brand" / "logo.png", optimize=True)
