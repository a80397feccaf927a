"""Build one Variant: render its name, prompts, image paths and outputs.

Any error drops the variant (it is reported once per location and message by the caller's
deduplication); the planner only ever sees complete variants.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from pathlib import Path
from typing import Any

from msgspec import Struct

from assetgen.errors import Diagnostic, Location
from assetgen.recipe import expand, template
from assetgen.recipe.model import Fit, ImageRef, Op, Output, Step, Variant
from assetgen.recipe.paths import PathEscape, project_path
from assetgen.recipe.yamlpos import Path_, Positions, template_place

EXTENSION_FORMATS = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".avif": "avif",
    ".gif": "gif", ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp",
}

# The largest rendition: WebP's side limit, and the most pixels Pillow opens without calling the
# file a decompression bomb (a recovered output is read back). Far larger sizes would take the
# machine's memory while rendering.
MAX_RESIZE_SIDE = 16383
_DIMENSION = re.compile(r"[0-9]{1,9}")   # ASCII digits ('²'.isdigit() is true), short enough for int()
MAX_RESIZE_PIXELS = 89_478_485


class StepPlan(Struct, frozen=True):
    """What every variant of an asset shares for one step: templates and merged parameters."""

    op: Op
    prompt: str
    prompt_path: Path_
    what: str
    location: Location
    params: tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Location], ...]]
    raw: dict[str, Any]


class _Drop(Exception):
    """The variant has an error; it was already reported."""


class VariantBuilder:
    def __init__(self, root: Path, positions: Positions, diagnostics: list[Diagnostic]) -> None:
        self.root = root
        self.positions = positions
        self.diagnostics = diagnostics
        self._paths: dict[str, str | PathEscape] = {}
        self.dropped: set[str] = set()   # names of variants dropped for their errors (already reported)
        self._text: list[str] = []       # the file's text, read when a template error is placed

    def build(self, key: str, asset: dict[str, Any], combo: expand.Combination, context: dict[str, Any],
              plans: list[StepPlan], where: Location) -> Variant | None:
        base = ("assets", key)
        ctx = {**context, **dict(combo), "asset": key}
        name = expand.default_name(key, combo)   # what a reference most likely names if `name` fails
        try:
            name = self._name(key, asset, combo, ctx, base)
        except _Drop:
            self.dropped.add(name)
            return None
        ctx["name"] = name
        failed = False          # every step and output is checked, so one lint run lists every error
        steps: list[Step] = []
        for i, plan in enumerate(plans):
            try:
                steps.append(self._step(i, plan, ctx))
            except _Drop:
                failed = True
        n = steps[-1].n if steps and not failed else int(dict(plans[-1].params[0]).get("n", 1) or 1)
        pick = steps[-1].pick if steps and not failed else None
        outputs: list[Output] = []
        for entry, path, what in self._output_entries(asset, base):
            try:
                outputs.extend(self._output(entry, path, what, ctx, n, pick, said=failed))
            except _Drop:
                failed = True
        if failed:
            self.dropped.add(name)
            return None
        return Variant(name=name, asset=key, values=combo, steps=tuple(steps), outputs=tuple(outputs),
                       location=where)

    # -- pieces -----------------------------------------------------------------------------

    def _fail(self, location: Location, message: str) -> _Drop:
        self.diagnostics.append(Diagnostic.error(location, message))
        return _Drop()

    def _render(self, text: str, ctx: dict[str, Any], path: Path_, what: str) -> str:
        try:
            return template.render(text, ctx, what)
        except template.TemplateError as exc:
            message = str(exc)
            if message.startswith("undefined variable 'index' in "):
                message += " ({{ index }} numbers the candidates in output paths only)"
            raise self._fail(self.within(path, exc), message) from None

    def within(self, path: Path_, exc: template.TemplateError) -> Location:
        """Where in the value at `path` its template error lies (else where the value starts)."""
        if exc.name is None and exc.line is None:
            return self.positions.value(path)
        if not self._text:
            try:
                self._text.append((self.root / self.positions.file).read_bytes().decode("utf-8"))
            except (OSError, UnicodeDecodeError):
                self._text.append("")
        place = template_place(self._text[0], path, exc.name, exc.line) if self._text[0] else None
        return Location(self.positions.file, *place) if place is not None else self.positions.value(path)

    def _name(self, key: str, asset: dict[str, Any], combo: expand.Combination, ctx: dict[str, Any],
              base: Path_) -> str:
        if "name" not in asset:
            return expand.default_name(key, combo)
        name = self._render(asset["name"], ctx, (*base, "name"), "name").strip()
        if not name:
            raise self._fail(self.positions.value((*base, "name")), "variant name renders empty")
        return name

    def _step(self, i: int, plan: StepPlan, ctx: dict[str, Any]) -> Step:
        prompt = self._render(plan.prompt, ctx, plan.prompt_path, plan.what)
        if not prompt.strip():
            raise self._fail(self.positions.value(plan.prompt_path), f"empty prompt in {plan.what}")
        base = plan.prompt_path[:-1]
        raw = plan.raw
        image = None
        if "image" in raw:
            image = self._ref(raw["image"], ctx, (*base, "image"), f"steps[{i}].image")
        if image is not None and i > 0:
            raise self._fail(self.positions.key((*base, "image")),
                             f"'image' is only allowed on the first step (steps[{i}])")
        for field_name in ("image", "mask", "images"):
            if field_name in raw and plan.op is Op.GENERATE:
                raise self._fail(self.positions.key((*base, field_name)),
                                 f"'{field_name}' needs an edit step, not generate (steps[{i}])")
        if i == 0 and plan.op is Op.EDIT and image is None:
            raise self._fail(plan.location,
                             "the first step is an edit without 'image': name the image it edits")
        mask = self._ref(raw["mask"], ctx, (*base, "mask"), f"steps[{i}].mask") if "mask" in raw else None
        images = tuple(self._ref(r, ctx, (*base, "images", j), f"steps[{i}].images[{j}]")
                       for j, r in enumerate(raw.get("images") or ()))
        values, locations = plan.params
        step = Step(op=plan.op, prompt=prompt, params=values, location=plan.location, image=image,
                    mask=mask, images=images, param_locations=locations, shorthand=plan.what == "prompt")
        return self._picked(step, i, raw.get("pick"), (*base, "pick"), ctx["name"])

    def _picked(self, step: Step, i: int, raw: Any, path: Path_, variant: str) -> Step:
        """The step with this variant's pick: the number, or the variant's entry in a mapping (a
        variant the mapping leaves out has none; lint says so where one is needed)."""
        if isinstance(raw, dict):
            if variant not in raw:
                return dataclasses.replace(step, pick_missing=True)
            raw, path = raw[variant], (*path, variant)
        if raw is None:
            return step
        if raw >= step.n:
            raise self._fail(self.positions.value(path), f"pick {raw} is out of range: steps[{i}] makes "
                                                         f"{step.n} candidate(s), 0 to {step.n - 1}")
        return dataclasses.replace(step, pick=raw)

    def _ref(self, raw: Any, ctx: dict[str, Any], path: Path_, what: str) -> ImageRef:
        if isinstance(raw, dict):
            name = self._render(raw["asset"], ctx, (*path, "asset"), what).strip()
            return ImageRef(self.positions.value(path), asset=name)
        return ImageRef(self.positions.value(path), path=self._path(raw, ctx, path, what))

    def _path(self, raw: str, ctx: dict[str, Any], path: Path_, what: str) -> str:
        text = self._render(raw, ctx, path, what)
        cached = self._paths.get(text)
        if cached is None:
            try:
                cached = project_path(self.root, text)
            except PathEscape as exc:
                cached = exc
            self._paths[text] = cached
        if isinstance(cached, PathEscape):
            shown = text.strip() if len(text.strip()) <= 100 else text.strip()[:60] + "..."
            raise self._fail(self.positions.value(path), f"path '{shown}' in {what} {cached}")
        return cached

    @staticmethod
    def _output_entries(asset: dict[str, Any], base: Path_) -> list[tuple[dict[str, Any], Path_, str]]:
        if "output" in asset:
            return [({"path": asset["output"]}, (*base, "output"), "output")]
        return [(o, (*base, "outputs", i), f"outputs[{i}]") for i, o in enumerate(asset.get("outputs") or ())]

    def _output(
        self, entry: dict[str, Any], path: Path_, what: str, ctx: dict[str, Any], n: int, pick: int | None,
        said: bool = False,
    ) -> list[Output]:
        """The output's files: one per candidate when its path uses `{{ index }}`, else one of the
        picked candidate. `said`: a step's error was reported (a pick out of range), so a missing
        pick is not said again."""
        where = self.positions.key(path) if what == "output" else self.positions.value(path)
        path_key = path if what == "output" else (*path, "path")
        path_what = what if what == "output" else f"{what}.path"
        rendered = [self._path(entry["path"], {**ctx, "index": i}, path_key, path_what) for i in range(n)]
        indexes = list(range(n))
        if n > 1 and len(set(rendered)) not in (1, n):     # some candidates, not all, share a file
            seen: dict[str, int] = {}
            for i, text in enumerate(rendered):
                if text in seen:
                    raise self._fail(self.positions.value(path_key),
                                     f"output path '{text}' is the same for candidates {seen[text]} and {i}: "
                                     f"each candidate needs its own file (use {{{{ index }}}} as it is), or "
                                     f"every candidate one path and a 'pick' ({path_what})")
                seen[text] = i
        if n > 1 and rendered[0] == rendered[1]:
            if pick is None and said:
                pick = 0        # (the variant is dropped: its step's error says what is wrong)
            if pick is None:
                raise self._fail(self.positions.value(path_key),
                                 f"output path '{rendered[0]}' must use {{{{ index }}}} when n is {n}, or "
                                 f"the asset needs 'pick' (the candidate it writes) ({path_what})")
            rendered, indexes = [rendered[pick]], [pick]
        fmt = entry.get("format") or EXTENSION_FORMATS.get(posixpath.splitext(rendered[0])[1].lower())
        if fmt is None:
            raise self._fail(self.positions.value(path_key),
                             f"cannot tell the image format of '{rendered[0]}' from its extension; "
                             f"set 'format' ({path_what})")
        resize = self._resize(entry, path, what, ctx) if "resize" in entry else None
        fit = Fit(entry.get("fit", "contain"))
        return [Output(path=p, format=fmt, location=where, index=i, quality=entry.get("quality"),
                       resize=resize, fit=fit) for i, p in zip(indexes, rendered, strict=True)]

    def _resize(self, entry: dict[str, Any], path: Path_, what: str, ctx: dict[str, Any]) -> tuple[int, int]:
        text = self._render(entry["resize"], ctx, (*path, "resize"), f"{what}.resize").strip()
        w, sep, h = text.partition("x")
        if not (sep and _DIMENSION.fullmatch(w) and _DIMENSION.fullmatch(h) and int(w) > 0 and int(h) > 0):
            raise self._fail(self.positions.value((*path, "resize")),
                             f"invalid resize '{text}' in {what}.resize: expected WIDTHxHEIGHT")
        if max(int(w), int(h)) > MAX_RESIZE_SIDE or int(w) * int(h) > MAX_RESIZE_PIXELS:
            raise self._fail(self.positions.value((*path, "resize")),
                             f"resize '{text}' in {what}.resize is too large: at most {MAX_RESIZE_SIDE} "
                             f"pixels a side and {MAX_RESIZE_PIXELS} pixels in all")
        return int(w), int(h)
