"""The recipe several cache, gc and quota tests share: one asset, a matrix of numbered tiles."""

from __future__ import annotations


def tiles(count: int, model: str = "test-model", size: str = "96x96", prompt: str = "Tile",
          quality: str | None = None) -> str:
    """A recipe of `count` tiles, `tile-0` ... written to out/tile-N.png. The default model is one
    the catalog does not know (any size, no quota); a catalog model suits the paid providers."""
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
