"""The recipe several cache, gc and quota tests share: one asset, a matrix of numbered tiles."""

from __future__ import annotations


def tiles(count: int, model: str = "gpt-image-2", size: str = "96x96", prompt: str = "Tile",
          quality: str | None = None) -> str:
    """A recipe of `count` tiles, `tile-0` ... written to out/tile-N.png. The default model takes
    small free sizes (multiples of 16), which the local provider draws fast; the paid providers
    want a catalog model and size they serve."""
    values = ", ".join(str(i) for i in range(count))
    also = f", quality: {quality}" if quality else ""
    return (
        "version: 1\n"
        f"defaults: {{model: {model}, size: {size}{also}}}\n"
        "assets:\n"
        "  tile:\n"
        "    matrix:\n"
        f"      i: [{values}]\n"
        f'    prompt: "{prompt} {{{{ i }}}}"\n'
        '    output: "out/{{ name }}.png"\n'
    )
