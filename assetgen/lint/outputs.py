"""Output checks: renditions that lose what the recipe asked for."""

from __future__ import annotations

from assetgen.errors import Diagnostic
from assetgen.recipe.model import Project

_NO_ALPHA = frozenset({"jpeg", "bmp"})
_LOSSY = frozenset({"jpeg", "webp", "avif"})


def check_outputs(project: Project) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for variant in project.variants():
        transparent = variant.steps[-1].param("background") == "transparent"
        for output in variant.outputs:
            if transparent and output.format in _NO_ALPHA:
                out.append(Diagnostic.warning(output.location, f"output '{output.path}' is {output.format}: "
                                                               "the transparent background becomes opaque"))
            if output.quality is not None and output.format not in _LOSSY:
                out.append(Diagnostic.warning(output.location, f"'quality' has no effect on {output.format} "
                                                               f"output '{output.path}'"))
    return out
