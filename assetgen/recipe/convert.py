"""One validated recipe file -> typed variants: vars, matrix expansion, merged parameters.

Input is the plain data of a file that passed the schema (asset by asset). Request parameters
merge step > asset > file `defaults` > project `defaults`, computed once per asset. Per-variant
work (templates, paths, outputs) lives in `assetgen.recipe.variant`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from assetgen.catalog import REQUEST_PARAMS
from assetgen.errors import Diagnostic, Location
from assetgen.recipe import expand, limits, template
from assetgen.recipe.model import Op, Variant
from assetgen.recipe.variant import StepPlan, VariantBuilder
from assetgen.recipe.yamlpos import Positions

Params = dict[str, tuple[Any, Location]]   # name -> (value, where it was set)
# (asset key, its combinations in order) -> the positions of those to build
Wanted = Callable[[str, Sequence[expand.Combination]], Collection[int]]


class FileResult(Struct):
    variants: list[Variant] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    assets: dict[str, list[str]] = field(default_factory=dict)   # asset key -> variant names
    matrix_assets: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)               # asset keys and variant names dropped
    definition: str | None = None   # of a large matrix file, loaded whole: `recipe.reuse.definition`


def params_from(data: Mapping[str, Any] | None, positions: Positions | None, prefix: tuple) -> Params:
    out: Params = {}
    for name in REQUEST_PARAMS:
        if data and name in data:
            loc = positions.key((*prefix, name)) if positions else Location("assetgen.yaml")
            out[name] = (data[name], loc)
    return out


def convert_file(
    root: Path, data: dict[str, Any], positions: Positions, project_params: Params, bad_assets: set[str],
    wanted: Wanted | None = None,
) -> FileResult:
    """Variants of every asset not in `bad_assets` (those failed the schema and are only recorded).
    `wanted`: build only the variants it accepts (the others are kept from an earlier build:
    `run.partial`); every check of the file and its assets is made all the same."""
    with template.file_budget():
        return _convert_file(root, data, positions, project_params, bad_assets, wanted)


def _convert_file(
    root: Path, data: dict[str, Any], positions: Positions, project_params: Params, bad_assets: set[str],
    wanted: Wanted | None,
) -> FileResult:
    result = FileResult()
    assets = data.get("assets") or {}
    result.skipped |= set(bad_assets)
    builder = VariantBuilder(root, positions, result.diagnostics)
    context = _render_vars(data.get("vars") or {}, builder, result)
    if context is None:
        result.skipped |= set(assets)
        return result
    file_params = {**project_params, **params_from(data.get("defaults"), positions, ("defaults",))}
    made = 0
    for key, asset in assets.items():
        if key in bad_assets:
            continue
        too_many = _too_many(key, asset, made, positions)
        if too_many is not None:
            result.diagnostics.append(too_many)
            result.skipped.add(key)
            continue
        made += expand.size(asset.get("matrix") or {}, asset.get("include") or ())
        if asset.get("matrix") or asset.get("include"):
            result.matrix_assets.add(key)
        names = _convert_asset(key, asset, context, file_params, builder, result, wanted)
        result.assets[key] = names
    result.skipped |= builder.dropped
    return result


def _too_many(key: str, asset: dict[str, Any], made: int, positions: Positions) -> Diagnostic | None:
    """An asset whose matrix would take the file past MAX_VARIANTS (measured before expanding it),
    or with more `exclude` entries than MAX_EXCLUDE."""
    base = ("assets", key)
    matrix = asset.get("matrix") or {}
    include = asset.get("include") or ()
    exclude = asset.get("exclude") or ()
    if len(exclude) > limits.MAX_EXCLUDE:
        return Diagnostic.error(positions.key((*base, "exclude")),
                                f"asset '{key}' has {limits.count(len(exclude))} exclude entries; "
                                f"at most {limits.count(limits.MAX_EXCLUDE)}")
    count = expand.size(matrix, include)
    if made + count <= limits.MAX_VARIANTS:
        return None
    sides = " × ".join(str(len(v)) for v in matrix.values())
    what = f"its matrix makes {limits.count(count - len(include))} combinations ({sides})" if matrix else ""
    if include:
        what += (" and " if what else "") + f"include adds {limits.count(len(include))}"
    before = f" after the {limits.count(made)} of the assets above" if made else ""
    where = positions.key((*base, "matrix" if matrix else "include"))
    return Diagnostic.error(where, f"asset '{key}': {what}; a recipe file makes at most "
                                   f"{limits.count(limits.MAX_VARIANTS)} variants{before} (split the "
                                   "matrix into several assets or files)")


def _render_vars(raw: Mapping[str, Any], builder: VariantBuilder,
                 result: FileResult) -> dict[str, Any] | None:
    context: dict[str, Any] = {}
    failed: list[str] = []
    for name, value in raw.items():
        if isinstance(value, str):
            try:
                value = template.render(value, context, f"vars.{name}")
            except template.TemplateError as exc:
                if not any(str(exc).startswith(f"undefined variable '{f}' ") for f in failed):
                    result.diagnostics.append(Diagnostic.error(builder.within(("vars", name), exc), str(exc)))
                failed.append(name)   # a var using it fails too, without a second message
                continue
        context[name] = value
    return None if failed else context


def _convert_asset(
    key: str, asset: dict[str, Any], context: dict[str, Any], file_params: Params,
    builder: VariantBuilder, result: FileResult, wanted: Wanted | None,
) -> list[str]:
    base = ("assets", key)
    asset_params = {**file_params, **params_from(asset, builder.positions, base)}
    plans = _step_plans(key, asset, asset_params, builder.positions)
    names: list[str] = []
    matrix = asset.get("matrix") or {}
    exclude, include = asset.get("exclude") or (), asset.get("include") or ()
    combos: list[tuple[expand.Combination, int | None]]
    if wanted is not None and matrix and not exclude and not include:
        # a plain product, whose combinations are made only where wanted (a build after a change
        # to a large matrix keeps most of them)
        every = expand.Product(matrix)
        combos = [(every[i], None) for i in sorted(wanted(key, every))]
        none = not every
    else:
        combos = expand.combinations(matrix, exclude, include)
        none = not combos
        if wanted is not None:
            combos = [combos[i] for i in sorted(wanted(key, [combo for combo, _ in combos]))]
    result.diagnostics += _check_exclude(asset, base, builder.positions)
    result.diagnostics += _check_matrix_keys(matrix, base, builder.positions)
    if "pick" in asset and "steps" in asset:
        result.diagnostics.append(Diagnostic.error(
            builder.positions.key((*base, "pick")),
            "'pick' on an asset goes with the 'prompt' shorthand; with 'steps', set it on the step that "
            "makes the candidates"))
    if none:
        result.diagnostics.append(Diagnostic.warning(
            builder.positions.key((*base, "exclude")),
            f"asset '{key}' makes no variant: exclude drops every combination of the matrix"))
    key_loc = builder.positions.key(base)
    dropped_before = set(builder.dropped)
    for combo, include_index in combos:
        where = key_loc if include_index is None else builder.positions.value(
            (*base, "include", include_index))
        variant = builder.build(key, asset, combo, context, plans, where)
        if variant is None:
            result.skipped.add(key)
            continue
        names.append(variant.name)
        result.variants.append(variant)
    made = [*names, *sorted(builder.dropped - dropped_before)]
    result.diagnostics += _check_pick_names(key, plans, made, builder.positions)
    return names


def _check_pick_names(key: str, plans: list[StepPlan], made: list[str],
                      positions: Positions) -> list[Diagnostic]:
    """A `pick` mapping entry naming no variant of its asset is a typo (or a variant since removed):
    the variant it meant gets no pick."""
    out = []
    for plan in plans:
        picks = plan.raw.get("pick")
        if not isinstance(picks, dict):
            continue
        for name in picks:
            if name in made:
                continue
            message = f"pick names '{name}', which is not a variant of asset '{key}'"
            close = difflib.get_close_matches(name, made, n=1)
            message += f"; did you mean '{close[0]}'?" if close else f" ({', '.join(made[:5])})"
            out.append(Diagnostic.warning(positions.key((*plan.prompt_path[:-1], "pick", name)), message))
    return out


# the names templates give a variant's values that a matrix key of the same name could not reach
SHADOWED = {"name": "the variant's name", "asset": "the asset's key",
            "index": "the candidate's number in output paths"}


def _check_matrix_keys(matrix: dict[str, Any], base: tuple[str, str],
                       positions: Positions) -> list[Diagnostic]:
    """A matrix key that templates would never see: `{{ name }}` is the variant's name, and so on."""
    return [Diagnostic.error(positions.key((*base, "matrix", key)),
                             f"matrix key '{key}' cannot be used: {{{{ {key} }}}} is {what}; rename the key")
            for key, what in SHADOWED.items() if key in matrix]


def _check_exclude(asset: dict[str, Any], base: tuple[str, str], positions: Positions) -> list[Diagnostic]:
    """An `exclude` entry naming a key the matrix lacks, or matching nothing, is a typo."""
    matrix = asset.get("matrix") or {}
    out = []
    if not matrix and asset.get("exclude"):
        return [Diagnostic.error(positions.key((*base, "exclude")),
                                 "'exclude' needs a 'matrix' to drop combinations from")]
    for i, entry in enumerate(asset.get("exclude") or ()):
        unknown = [k for k in entry if k not in matrix]
        for k in unknown:
            out.append(Diagnostic.error(positions.key((*base, "exclude", i, k)),
                                        f"exclude[{i}] names '{k}', which is not a matrix key "
                                        f"({', '.join(matrix)})"))
        if not unknown and not expand.matches_any(matrix, entry):
            out.append(Diagnostic.warning(positions.value((*base, "exclude", i)),
                                          f"exclude[{i}] matches no combination of the matrix"))
    return out


def _step_plans(
    key: str, asset: dict[str, Any], asset_params: Params, positions: Positions,
) -> list[StepPlan]:
    base = ("assets", key)
    if "prompt" in asset:
        where = positions.key((*base, "prompt"))
        raw = {"pick": asset["pick"]} if "pick" in asset else {}
        return [StepPlan(Op.GENERATE, asset["prompt"], (*base, "prompt"), "prompt", where,
                         _frozen(_inherited(asset_params, Op.GENERATE)), raw)]
    plans = []
    for i, step in enumerate(asset.get("steps") or ()):
        path = (*base, "steps", i)
        op = Op.GENERATE if "generate" in step else Op.EDIT
        merged = {**_inherited(asset_params, op), **params_from(step, positions, path)}
        plans.append(StepPlan(op, step[op.value], (*path, op.value), f"steps[{i}].{op.value}",
                              positions.value(path), _frozen(merged), step))
    return plans


# Parameters of one operation only. Set on an asset or in defaults, they reach only the steps of
# that operation (a chain's generate step does not inherit `input_fidelity`); set on a step of the
# other operation, they stay, and lint reports them.
_ONLY_FOR = {"input_fidelity": Op.EDIT, "moderation": Op.GENERATE}


def _inherited(params: Params, op: Op) -> Params:
    return {k: v for k, v in params.items() if _ONLY_FOR.get(k, op) is op}


Frozen = tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Location], ...]]
# the parameters of every step so far, each once: the steps of many small recipe files mostly have
# the same (the project's defaults), and hold one value for them (cleared by `clear_shared`)
_shared: dict[Frozen, Frozen] = {}


def _frozen(params: Params) -> Frozen:
    names = sorted(params)
    frozen = tuple((n, params[n][0]) for n in names), tuple((n, params[n][1]) for n in names)
    try:
        return _shared.setdefault(frozen, frozen)
    except TypeError:       # a value that cannot be hashed: its own
        return frozen


def clear_shared() -> None:
    """Forget the parameters shared so far (a new load of the project)."""
    _shared.clear()
