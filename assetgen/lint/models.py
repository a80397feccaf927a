"""Model capability checks, from the one catalog table (`assetgen.catalog`).

A parameter the model does not take is an error naming the model. An unknown model is an error
with the nearest known name; a project declares a model the catalog lacks under `models:` in
assetgen.yaml, and its row is checked like the table's. Messages point at the line that set
the parameter (step, asset, file defaults or project defaults). What depends on the service
(a model retired there, a feature it lacks or has only in preview, a minimum size) is checked for
the project's provider.
"""

from __future__ import annotations

import datetime
import difflib
import functools
from typing import Any

from assetgen import catalog
from assetgen.errors import Diagnostic, Location
from assetgen.recipe.model import Op, Project, ProviderKind, Step


def check_models(project: Project) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    provider = project.config.provider
    own = project.config.models
    today = datetime.date.today()
    for variant in project.variants():
        for step in variant.steps:
            out.extend(_step_params(step.op, step.params, step.param_locations, step.location, provider, own))
            out.extend(_lifecycle(step.model, step.param_locations, step.location, provider, today, own))
            out.extend(_prompt(step, own))
    return out


SERVICES = {ProviderKind.OPENAI: "OpenAI", ProviderKind.AZURE: "Azure OpenAI"}


@functools.lru_cache(maxsize=1024)
def _lifecycle(model: str | None, locations: tuple[tuple[str, Location], ...], where: Location,
               provider: ProviderKind, today: datetime.date,
               own: catalog.ProjectModels | None = None) -> tuple[Diagnostic, ...]:
    """A model retired (or deprecated) on the project's provider, with its replacement."""
    spec = catalog.get(model, own)
    life = spec.life(provider.value) if spec is not None else None
    if spec is None or life is None:
        return ()
    at = dict(locations).get("model", where)
    service = SERVICES.get(provider, provider.value)
    use = f"; use {life.replacement}" if life.replacement else ""
    others = [SERVICES[p] for p in SERVICES if p is not provider and _serves(spec, p, today)]
    still = f" ({' and '.join(others)} still serves it)" if others else ""
    if life.is_retired(today):
        when = f" on {life.retired.isoformat()}" if life.retired else ""
        return (Diagnostic.error(at, f"model '{model}' was retired on {service}{when}{use}{still}"),)
    if life.retired is not None:
        return (Diagnostic.warning(at, f"model '{model}' retires on {service} on {life.retired.isoformat()}"
                                       f"{use}"),)
    if life.deprecated:
        return (Diagnostic.warning(at, f"model '{model}' is deprecated on {service}{use}"),)
    return ()


def _prompt(step: Step, own: catalog.ProjectModels | None = None) -> list[Diagnostic]:
    spec = catalog.get(step.model, own)
    if spec is None or len(step.prompt) <= spec.prompt_max:
        return []
    return [Diagnostic.error(step.location, f"prompt is {len(step.prompt)} characters; "
                                            f"{spec.name} takes at most {spec.prompt_max}")]


@functools.lru_cache(maxsize=4096)
def _step_params(
    op: Op, params: tuple[tuple[str, Any], ...], locations: tuple[tuple[str, Location], ...],
    where: Location, provider: ProviderKind, own: catalog.ProjectModels | None = None,
) -> tuple[Diagnostic, ...]:
    values = dict(params)
    locs = dict(locations)
    return _conversation(values, locs, where, provider) + _model_params(op, params, values, locs, where,
                                                                        provider, own)


def _model_params(op: Op, params: tuple[tuple[str, Any], ...], values: dict[str, Any],
                  locs: dict[str, Location], where: Location,
                  provider: ProviderKind, own: catalog.ProjectModels | None = None) -> tuple[Diagnostic, ...]:
    model = values.get("model")
    if model is None:
        return (Diagnostic.warning(where, "no model set for this step: set 'model' in defaults, "
                                          "on the asset or on the step"),)
    spec = catalog.get(model, own)
    at = locs.get("model", where)
    if spec is None:
        return (Diagnostic.error(at, unknown_model(str(model), own)),)
    responses = values.get("api") == catalog.RESPONSES
    if op is Op.EDIT and not spec.edit and not responses:
        return (Diagnostic.error(where, f"model '{model}' cannot edit images"),)
    out: list[Diagnostic] = []
    allowed = spec.params_for(op.value)
    if responses:
        allowed = catalog.responses_tool().tool_params | {"model", "user"}
    for name, value in params:
        loc = locs.get(name, where)
        if name in catalog.CONVERSATION_PARAMS:
            continue
        if name not in allowed:
            what = "the Responses API image tool" if responses else f"model '{model}'"
            out.append(Diagnostic.error(loc, f"{what} does not take '{name}' for {op.value}"))
            continue
        problem = _value_problem(spec, name, value, values, provider)
        if problem:
            out.append(Diagnostic.error(loc, problem))
            continue
        caution = _value_caution(spec, name, value, provider)
        if caution:
            out.append(Diagnostic.warning(loc, caution))
    return tuple(out)


def unknown_model(model: str, own: catalog.ProjectModels | None = None) -> str:
    """`unknown model 'x'; did you mean 'y'?`, and how to use a model the catalog lacks."""
    known = sorted({*catalog.models(), *(own or {})})
    close = difflib.get_close_matches(model, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
    return (f"unknown model '{model}'; {hint} (a model the catalog lacks can be declared under "
            "'models:' in assetgen.yaml)")


def _serves(spec: catalog.ModelSpec, provider: ProviderKind, today: datetime.date) -> bool:
    life = spec.life(provider.value)
    return life is None or not life.is_retired(today)


def _feature(spec: catalog.ModelSpec, feature: str, provider: ProviderKind) -> bool | str:
    """What the table says of `feature` on the provider (the local provider draws anything)."""
    if provider is ProviderKind.LOCAL:
        return True
    return spec.supports(feature, provider.value)


def _value_caution(spec: catalog.ModelSpec, name: str, value: Any, provider: ProviderKind) -> str | None:
    """Warnings: what works but is experimental, in preview or not confirmed by the sources."""
    service = SERVICES.get(provider, provider.value)
    if name == "size" and spec.experimental_size(str(value)):
        return f"size '{value}' is above 2560x1440 pixels: {spec.name} calls such sizes experimental"
    feature = {"background": "transparent_background", "input_fidelity": "input_fidelity"}.get(name)
    if feature is None or (name == "background" and value != "transparent"):
        return None
    level = _feature(spec, feature, provider)
    what = "a transparent background" if name == "background" else "input_fidelity"
    if level == "preview":
        return f"{what} on {spec.name} is in preview on {service}"
    if level == "unconfirmed":
        return f"{what} on {spec.name} is not confirmed on {service} (the sources disagree or say nothing)"
    return None


def _conversation(values: dict[str, Any], locs: dict[str, Location], where: Location,
                  provider: ProviderKind) -> tuple[Diagnostic, ...]:
    """`api: responses` needs a text model and an image model that backs the tool on the provider;
    `text_model` and `instructions` mean nothing without it."""
    if values.get("api") != catalog.RESPONSES:
        return tuple(Diagnostic.error(locs.get(name, where), f"'{name}' goes with 'api: responses'")
                     for name in ("text_model", "instructions") if name in values)
    out = []
    if "text_model" not in values:
        out.append(Diagnostic.error(locs.get("api", where), "'api: responses' needs 'text_model': the "
                                    "text model that runs the conversation (e.g. gpt-5.1)"))
    tool = catalog.responses_tool()
    model = values.get("model")
    kinds = [provider.value] if provider.value in tool.image_models else sorted(tool.image_models)
    backed = sorted({m for k in kinds for m in tool.image_models[k]})
    if model is not None and model not in backed:
        on = f" on {provider.value}" if provider.value in tool.image_models else ""
        out.append(Diagnostic.error(locs.get("model", where),
                                    f"model '{model}' does not back the Responses API image tool{on}; "
                                    f"expected one of {', '.join(backed)}"))
    return tuple(out)


def _value_problem(spec: catalog.ModelSpec, name: str, value: Any, values: dict[str, Any],
                   provider: ProviderKind) -> str | None:
    if name == "size" and not spec.size_ok(str(value)):
        return f"size '{value}' is not supported by {spec.name}; expected {_sizes(spec)}"
    if name == "size" and not spec.size_ok(str(value), provider.value):
        least = spec.free_size.min_for(provider.value) if spec.free_size else 0
        return (f"size '{value}' is below {least} pixels, the least {spec.name} makes on the "
                f"{provider.value} provider")
    if name == "input_fidelity" and _feature(spec, "input_fidelity", provider) is False:
        return (f"model '{spec.name}' does not take 'input_fidelity' on the {provider.value} provider "
                f"(leave it out)")
    if name == "quality" and value not in spec.qualities:
        expected = ", ".join(spec.qualities)
        return f"quality '{value}' is not supported by {spec.name}; expected one of {expected}"
    if name == "n" and int(value) > spec.max_n:
        if spec.max_n == 1:
            return f"{spec.name} takes only n: 1, got n: {value}"
        return f"n is {value} but {spec.name} makes at most {spec.max_n} images per call"
    if name == "output_format":
        formats = spec.output_formats.get(provider.value, ())
        if value not in formats:
            return (f"output_format '{value}' is not available from the {provider.value} provider for "
                    f"{spec.name}; expected one of {', '.join(formats) or 'none'}")
    if name == "output_compression" and value != 100 and values.get("output_format", "png") == "png":
        return f"output_compression {value} needs output_format jpeg or webp, not png"
    if name == "background" and value == "transparent":
        fmt = values.get("output_format", "png")
        if fmt not in spec.transparent_formats:
            return (f"background 'transparent' needs output_format "
                    f"{' or '.join(spec.transparent_formats) or 'png'}, not {fmt}")
    return None


def _sizes(spec: catalog.ModelSpec) -> str:
    listed = "one of " + ", ".join(spec.sizes)
    rule = spec.free_size
    if rule is None:
        return listed
    return (f"{listed}, or WIDTHxHEIGHT in multiples of {rule.multiple} with the long edge at most "
            f"{rule.max_long_edge}, at most {rule.max_pixels} pixels and a ratio within {rule.max_ratio:g}:1")
