"""Validate recipes and the project file against `schema/*.json` and report at the key's line.

The JSON Schema files are the one source of truth for structure. The package reaches them as
`assetgen/data/schema/` (a link to the repository's `schema/` folder). Each validation error is
mapped back to the location of the offending key, with the key path and what was expected;
an unknown key names the nearest valid one.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from assetgen.errors import Diagnostic
from assetgen.recipe.yamlpos import Path_, Positions

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

RECIPE = "recipe.schema.json"
PROJECT = "project.schema.json"


def schema_text(name: str) -> str:
    return resources.files("assetgen").joinpath("data/schema", name).read_text(encoding="utf-8")


def recipe_schema_text() -> str:
    return schema_text(RECIPE)


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    return json.loads(schema_text(name))


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    import jsonschema
    import referencing

    registry: referencing.Registry = referencing.Registry().with_resources(
        (n, referencing.Resource.from_contents(_schema(n))) for n in (RECIPE, PROJECT)
    )
    return jsonschema.Draft202012Validator(_schema(name), registry=registry)


def validate(data: Any, positions: Positions, name: str = RECIPE) -> list[Diagnostic]:
    """Every schema error in `data`, as diagnostics sorted by location."""
    return [d for _, d in errors(data, positions, name)]


def passes(data: Any) -> bool:
    """Whether a recipe passes the schema, told by the code fastjsonschema generated from it
    (`schema_check`, a few microseconds, where JSON Schema takes ~50 ms to import): False may also
    mean that code cannot tell, and JSON Schema then decides."""
    from assetgen.recipe import schema_check

    try:
        schema_check.validate_https___assetgen_dev_schema_recipe_schema_json(data)
    except Exception:       # its own error, or a value it cannot handle: JSON Schema says
        return False
    return True


def errors(data: Any, positions: Positions, name: str = RECIPE) -> list[tuple[Path_, Diagnostic]]:
    """Every schema error with the instance path it is about, sorted by location."""
    if name == RECIPE and passes(data):
        return []
    found: dict[Diagnostic, Path_] = {}
    suggested: set[tuple[Path_, str]] = set()
    raw = list(_validator(name).iter_errors(data))
    for error in raw:
        if error.validator == "additionalProperties":
            suggested |= {(tuple(error.absolute_path), s) for s in _suggestions(error)}
    wrong_type = {tuple(e.absolute_path) for e in raw if e.validator == "type"}
    listed = {tuple(e.absolute_path) for e in raw if e.validator in ("enum", "const")}
    for error in raw:
        if error.validator == "required" and (tuple(error.absolute_path), _missing(error)) in suggested:
            continue   # "unknown key 'asets'; did you mean 'assets'?" says it already
        if _said_already(error, wrong_type, listed):
            continue
        for diag in _diagnostics(error, positions):
            found.setdefault(diag, tuple(error.absolute_path))
    return sorted(((p, d) for d, p in found.items()), key=lambda pd: (pd[1].location, pd[1].message))


def _said_already(error: ValidationError, wrong_type: set[Path_], listed: set[Path_]) -> bool:
    """A value of the wrong type gets one message: the list of allowed values if there is one, else
    the expected type; not also what a mapping of the right type would have needed."""
    path = tuple(error.absolute_path)
    if error.validator == "type":
        return path in listed
    return path in wrong_type and error.validator in ("oneOf", "anyOf", "allOf", "not", "required")


def _missing(error: ValidationError) -> str:
    return error.message.split("'")[1] if "'" in error.message else "?"


def _properties(error: ValidationError) -> list[str]:
    """The keys the failing schema allows, sorted."""
    return sorted(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else []


def _suggestions(error: ValidationError) -> list[str]:
    allowed = _properties(error)
    return [m for k in _extra_keys(error) for m in difflib.get_close_matches(k, allowed, n=1)]


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _where(path: Path_) -> str:
    return f"in '{dotted(path)}'" if path else "at top level"


def _diagnostics(error: ValidationError, positions: Positions) -> list[Diagnostic]:
    path: Path_ = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties":
        return [_unknown_key(path, key, error, positions) for key in _extra_keys(error)]
    if kind == "required":
        message = f"missing required key '{_missing(error)}' {_where(path)}"
        return [Diagnostic.error(positions.key(path), message)]
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        hint = error.schema.get("x-message", "invalid key") if isinstance(error.schema, dict) else "bad key"
        where = positions.key((*path, error.instance))
        return [Diagnostic.error(where, f"invalid key '{error.instance}' {_where(path)}: {hint}")]
    custom = (error.schema.get("x-messages") or {}).get(kind) if isinstance(error.schema, dict) else None
    if custom:
        prefix = f"in '{dotted(path)}': " if path else ""
        return [Diagnostic.error(positions.key(path), f"{prefix}{custom}")]
    message = _expected(error)
    name = dotted(path) or "document"
    return [Diagnostic.error(positions.key(path), f"invalid value for '{name}': {message}")]


def _extra_keys(error: ValidationError) -> list[str]:
    allowed = set(_properties(error))
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [k for k in instance if k not in allowed]


def _unknown_key(path: Path_, key: str, error: ValidationError, positions: Positions) -> Diagnostic:
    allowed = _properties(error)
    message = f"unknown key '{key}' {_where(path)}"
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        message += f"; did you mean '{close[0]}'?"
    return Diagnostic.error(positions.key((*path, key)), message)


_TYPES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
          "object": "a mapping", "array": "a list", "null": "nothing"}


def _expected(error: ValidationError) -> str:
    kind, value, schema = error.validator, error.validator_value, error.schema
    got = _show(error.instance)
    if kind == "type":
        types = value if isinstance(value, list) else [value]
        text = "expected " + " or ".join(_TYPES.get(str(t), str(t)) for t in types) + f", got {got}"
        number = isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool)
        if "string" in types and number:   # `size: 0x10` is hex 16 in YAML 1.2, `version: 1.10` is 1.1
            text += " (YAML read it as a number: put the value in quotes)"
        return text
    if kind == "enum":
        choices = value if isinstance(value, list) else []
        return f"expected one of {', '.join(repr(v) for v in choices)}, got {got}"
    if kind == "const":
        return f"expected {value!r}, got {got}"
    if kind in ("minimum", "maximum"):
        word = "at least" if kind == "minimum" else "at most"
        return f"expected {word} {value}, got {got}"
    if kind == "minItems":
        return "expected a list with at least one item" if value == 1 else f"expected at least {value} items"
    if kind in ("minProperties",):
        return "expected a mapping with at least one key"
    if kind == "minLength":
        return "expected a non-empty string"
    if kind == "pattern":
        hint = schema.get("description") if isinstance(schema, dict) else None
        return f"expected {hint.rstrip('.') if hint else 'a value matching ' + repr(value)}, got {got}"
    if kind == "oneOf" and isinstance(schema, dict) and schema.get("x-message"):
        return f"{schema['x-message']}, got {got}"
    return error.message


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
