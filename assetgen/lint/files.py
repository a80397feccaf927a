"""File checks: inputs exist, are PNG/JPEG within the size limit; masks are PNG with alpha,
at most 4 MB, and the size of the image they mask when that size is known.

Image facts come from Pillow's header read (no decoding) and are cached per path.
"""

from __future__ import annotations

from pathlib import Path

from msgspec import Struct

from assetgen import catalog
from assetgen.errors import Diagnostic
from assetgen.recipe.model import ImageRef, Op, Project, ProviderKind, Step, Variant

MASK_MAX_BYTES = 4 * 1024 * 1024
INPUT_MAX_BYTES = 50 * 1024 * 1024
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


class Facts(Struct, frozen=True):
    format: str          # PNG, JPEG, WEBP ... as Pillow names it
    size: tuple[int, int]
    has_alpha: bool
    bytes: int


class _Facts:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, Facts | str] = {}

    def get(self, path: str) -> Facts | str:
        """The file's facts, or a problem ('missing', 'folder' or 'unreadable')."""
        if path not in self.cache:
            self.cache[path] = self._read(path)
        return self.cache[path]

    def _read(self, path: str) -> Facts | str:
        full = self.root / path
        if full.is_dir():
            return "folder"
        if not full.is_file():
            return "missing"
        from PIL import Image, UnidentifiedImageError  # only when there is an input to read

        try:
            with Image.open(full) as image:
                alpha = image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
                return Facts(image.format or "?", image.size, alpha, full.stat().st_size)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
                Image.DecompressionBombWarning):
            return "unreadable"


def check_files(project: Project) -> list[Diagnostic]:
    facts = _Facts(project.root)
    by_name = {v.name: v for v in project.variants()}
    out: list[Diagnostic] = []
    for variant in project.variants():
        for i, step in enumerate(variant.steps):
            for ref in _inputs(step):
                out.extend(_input(ref, facts, step, project.config.provider))
            if step.mask is not None and step.mask.path is not None:
                out.extend(_mask(step.mask, facts, _working_size(variant, i, facts, by_name)))
            elif step.mask is not None and step.mask.asset is not None:
                upstream = by_name.get(step.mask.asset)
                if upstream is not None:
                    out.extend(_made_mask(step.mask, upstream.steps[-1],
                                          _working_size(variant, i, facts, by_name)))
    return out


def _made_mask(ref: ImageRef, made_by: Step, working: tuple[int, int] | None) -> list[Diagnostic]:
    """A mask that another asset makes: what its call is asked for must make a mask the edit takes
    (else the build pays for that image and the images before the edit, and the edit is refused)."""
    name = f"mask {{asset: {ref.asset}}}"
    fmt = str(made_by.param("output_format") or "png").lower()
    if fmt != "png":
        return [Diagnostic.error(ref.location, f"{name} is made as {fmt.upper()} (output_format: {fmt}); "
                                               "a mask must be a PNG")]
    out = []
    if made_by.param("background") == "opaque":
        out.append(Diagnostic.error(ref.location, f"{name} is made with background: opaque, so it has no "
                                                  "alpha channel; alpha 0 marks what may change"))
    size = _produced_size(made_by)
    if working is not None and size is not None and size != working:
        out.append(Diagnostic.error(ref.location, f"{name} is {_wxh(size)} but the image it masks is "
                                                  f"{_wxh(working)}"))
    return out


def _inputs(step: Step) -> list[ImageRef]:
    return [r for r in (step.image, *step.images) if r is not None and r.path is not None]


def _input(ref: ImageRef, facts: _Facts, step: Step, provider: ProviderKind) -> list[Diagnostic]:
    assert ref.path is not None
    found = facts.get(ref.path)
    if isinstance(found, str):
        return [_problem(ref, "input image", found)]
    spec = catalog.get(step.model)
    allowed = ["PNG", "JPEG"]
    takes_webp = bool(spec and spec.edit_inputs and "webp" in spec.edit_inputs.formats)
    if provider is not ProviderKind.AZURE and takes_webp:
        allowed.append("WEBP")
    limit = spec.edit_inputs.max_bytes_for(provider.value) if spec and spec.edit_inputs else INPUT_MAX_BYTES
    out = []
    if found.format not in allowed:
        out.append(Diagnostic.error(ref.location, f"input image '{ref.path}' is {found.format}; "
                                                  f"expected {' or '.join(allowed)}"))
    if found.bytes > limit:
        out.append(Diagnostic.error(ref.location, f"input image '{ref.path}' is {_mb(found.bytes)}; "
                                                  f"the limit is {_mb(limit)}"))
    return out


def _mask(ref: ImageRef, facts: _Facts, working: tuple[int, int] | None) -> list[Diagnostic]:
    assert ref.path is not None
    found = facts.get(ref.path)
    if isinstance(found, str):
        return [_problem(ref, "mask", found)]
    if found.format != "PNG":
        return [Diagnostic.error(ref.location, f"mask '{ref.path}' is {found.format}; a mask must be a PNG")]
    out = []
    if not found.has_alpha:
        out.append(Diagnostic.error(ref.location, f"mask '{ref.path}' has no alpha channel; "
                                                  "alpha 0 marks what may change"))
    if found.bytes > MASK_MAX_BYTES:
        out.append(Diagnostic.error(ref.location, f"mask '{ref.path}' is {_mb(found.bytes)}; "
                                                  "masks must be at most 4 MB"))
    if working is not None and found.size != working:
        out.append(Diagnostic.error(ref.location, f"mask '{ref.path}' is {_wxh(found.size)} but the image "
                                                  f"it masks is {_wxh(working)}"))
    return out


def _working_size(
    variant: Variant, i: int, facts: _Facts, by_name: dict[str, Variant],
) -> tuple[int, int] | None:
    """The size of the image step `i` works on, when it can be known without calling an API."""
    step = variant.steps[i]
    if i > 0:
        return _produced_size(variant.steps[i - 1])
    if step.image is None:
        return None
    if step.image.path is not None:
        found = facts.get(step.image.path)
        return None if isinstance(found, str) else found.size
    upstream = by_name.get(step.image.asset or "")
    return _produced_size(upstream.steps[-1]) if upstream else None


def _produced_size(step: Step) -> tuple[int, int] | None:
    size = step.param("size")
    if size is None and step.op is Op.GENERATE:
        spec = catalog.get(step.model)
        size = spec.default_size if spec else None
    return catalog.parse_size(str(size)) if size else None


def _problem(ref: ImageRef, what: str, problem: str) -> Diagnostic:
    if problem == "missing":
        return Diagnostic.error(ref.location, f"{what} '{ref.path}' does not exist")
    if problem == "folder":
        return Diagnostic.error(ref.location, f"{what} '{ref.path}' is a folder, not an image file")
    return Diagnostic.error(ref.location, f"{what} '{ref.path}' is not an image Pillow can read")


def _mb(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb.is_integer() else f"{mb:.2f} MB"


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"
