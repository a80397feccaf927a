"""Resolve `{asset: NAME}` references across the whole project.

NAME is an expanded variant name, or an asset key without a matrix (resolved here to that
asset's single variant name, so the planner sees variant names only). An unknown name is an
error; a reference to something dropped for its own errors is not reported again, but the
referring variant is dropped too.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable

import msgspec
from msgspec import Struct, field

from assetgen.errors import Diagnostic
from assetgen.recipe.model import ImageRef, Step, Variant

HINT_COMPARISONS = 20_000


class Names(Struct, frozen=True):
    variants: frozenset[str]
    assets: dict[str, list[str]]          # asset key -> its variant names
    matrix_assets: frozenset[str]
    skipped: frozenset[str]               # asset keys and variant names dropped for their own errors
    # name comparisons left for "did you mean" hints: a matrix of unknown references must not
    # compare each of thousands of names with thousands of candidates
    hints_left: list[int] = field(default_factory=lambda: [HINT_COMPARISONS])


def resolve(variants: list[Variant], names: Names) -> tuple[list[Variant], list[Diagnostic], set[str]]:
    """Variants with references resolved, diagnostics, and names dropped here."""
    diags: list[Diagnostic] = []
    dropped: set[str] = set()
    out: list[Variant] = []
    for variant in variants:
        resolved = _variant(variant, names, diags)
        if resolved is None:
            dropped.add(variant.name)
        else:
            out.append(resolved)
    while True:   # a variant that leans on a dropped one cannot be built either
        gone = {v.name for v in out if any(r.asset in dropped for r in refs_of(v))}
        if not gone:
            return out, diags, dropped
        dropped |= gone
        out = [v for v in out if v.name not in gone]


def refs_of(variant: Variant) -> Iterable[ImageRef]:
    for step in variant.steps:
        for ref in (step.image, step.mask, *step.images):
            if ref is not None and ref.asset is not None:
                yield ref


def _variant(variant: Variant, names: Names, diags: list[Diagnostic]) -> Variant | None:
    if not any(True for _ in refs_of(variant)):
        return variant
    steps = []
    ok = True
    for step in variant.steps:
        new = _step(step, names, diags)
        ok = ok and new is not None
        steps.append(new or step)
    return msgspec.structs.replace(variant, steps=tuple(steps)) if ok else None


def _step(step: Step, names: Names, diags: list[Diagnostic]) -> Step | None:
    image = _ref(step.image, names, diags)
    mask = _ref(step.mask, names, diags)
    images = [_ref(r, names, diags) for r in step.images]
    if (step.image and not image) or (step.mask and not mask) or not all(images):
        return None
    return dataclasses.replace(step, image=image, mask=mask, images=tuple(i for i in images if i))


def _ref(ref: ImageRef | None, names: Names, diags: list[Diagnostic]) -> ImageRef | None:
    if ref is None or ref.asset is None:
        return ref
    name = ref.asset
    if name in names.variants:
        return ref
    if name in names.skipped:
        return None
    if name in names.assets and name not in names.matrix_assets and len(names.assets[name]) == 1:
        return msgspec.structs.replace(ref, asset=names.assets[name][0])
    if name in names.matrix_assets:
        example = names.assets[name][0] if names.assets.get(name) else name
        diags.append(Diagnostic.error(ref.location, f"{{asset: {name}}} names an asset with a matrix; "
                                                    f"name one of its variants, e.g. '{example}'"))
        return None
    message = f"unknown asset '{name}' in {{asset: {name}}}"
    close: list[str] = []
    size = len(names.variants) + len(names.assets)
    if size <= names.hints_left[0]:
        names.hints_left[0] -= size
        close = difflib.get_close_matches(name, sorted(names.variants | set(names.assets)), n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    diags.append(Diagnostic.error(ref.location, message))
    return None
