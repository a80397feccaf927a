"""Find the project root and read `assetgen.yaml` into a ProjectConfig.

The root is the folder of `assetgen.yaml`, found by walking up from the given path (or the
current directory); without one it is the given folder (or the current directory).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from assetgen import catalog
from assetgen.errors import Diagnostic, Location
from assetgen.recipe import limits, yamlpos
from assetgen.recipe.model import (
    RECIPE_GLOBS,
    AzureConfig,
    CacheConfig,
    DeploymentSpec,
    OpenAIConfig,
    ProjectConfig,
    ProviderKind,
    rpm_targets,
)

PROJECT_FILE = "assetgen.yaml"


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `assetgen.yaml`."""
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return None


def root_for(path: Path | None, cwd: Path) -> Path:
    """The project root for a command-line path (None: the current project)."""
    start = (cwd / path) if path is not None else cwd
    start = start.resolve()
    found = find_root(start)
    if found is not None:
        return found
    return start if start.is_dir() else cwd.resolve()


class ConfigResult(Struct, frozen=True):
    config: ProjectConfig
    diagnostics: tuple[Diagnostic, ...]
    positions: yamlpos.Positions | None = None


def read_config(root: Path, checked: bool = False) -> ConfigResult:
    """The project configuration at `root` (defaults when there is no project file). `checked`: the
    file passed the schema before, unchanged since (a build after a small change: the build stamp
    says so), so it is not validated again (nor is JSON Schema imported)."""
    file = root / PROJECT_FILE
    if not file.is_file():
        return ConfigResult(ProjectConfig(), ())
    try:
        size = file.stat().st_size
        if size > limits.MAX_FILE_BYTES:
            return ConfigResult(ProjectConfig(file=PROJECT_FILE), (Diagnostic.error(
                Location(PROJECT_FILE), f"the file is {limits.count(size)} bytes; at most "
                                        f"{limits.count(limits.MAX_FILE_BYTES)}"),))
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return ConfigResult(ProjectConfig(file=PROJECT_FILE),
                            (Diagnostic.error(Location(PROJECT_FILE), f"cannot read: {exc}"),))
    doc = yamlpos.load(text, PROJECT_FILE)
    data = {} if doc.data is None else doc.data
    diags = list(doc.diagnostics)
    if not checked:
        from assetgen.recipe import schema

        diags += schema.validate(data, doc.positions, schema.PROJECT)
    if not diags and isinstance(data, dict):
        diags += _rpm_clashes((data.get("providers") or {}).get("azure") or {}, doc.positions)
        diags += _bad_globs(data.get("recipes") or [], doc.positions)
    own = catalog.ProjectModels()
    if not diags and isinstance(data, dict):
        diags += _own_models(data.get("models") or {}, doc.positions, own)
    if diags or not isinstance(data, dict):
        return ConfigResult(ProjectConfig(file=PROJECT_FILE), tuple(diags), doc.positions)
    return ConfigResult(msgspec.structs.replace(_config(data), models=own), (), doc.positions)


def _own_models(rows: dict[str, Any], positions: yamlpos.Positions,
                own: catalog.ProjectModels) -> list[Diagnostic]:
    """`models:` rows as ModelSpecs (into `own`): `like` names a catalog row to start from, the
    row makes a ModelSpec, and a model a paid provider runs has a price."""
    diags = []
    for name, fields in rows.items():
        where = positions.key(("models", name))
        base: dict[str, Any] = {}
        if "like" in fields:
            found = catalog.row(fields["like"])
            if found is None:
                known = sorted(catalog.models())
                close = difflib.get_close_matches(fields["like"], known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(known)})"
                diags.append(Diagnostic.error(positions.value(("models", name, "like")),
                                              f"models.{name}.like: unknown model '{fields['like']}'{hint}"))
                continue
            base = found
        row = {**base, **{k: v for k, v in fields.items() if k != "like"}}
        if not row.get("price_per_mtok") and not row.get("price_per_image"):
            diags.append(Diagnostic.error(where, f"models.{name} needs a price (price_per_image or "
                                                 "price_per_mtok): a paid call is never estimated at $0"))
            continue
        try:
            own[name] = catalog.spec_from_row(name, row)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            diags.append(Diagnostic.error(where, f"models.{name} is not a model row: {type(exc).__name__}: "
                                                 f"{exc}"))
    return diags


def _bad_globs(globs: list[str], positions: yamlpos.Positions) -> list[Diagnostic]:
    """Recipe globs are relative to the project root and stay inside it: one that is absolute or
    climbs out with `..` would read another project's recipes (and never matches: it is skipped).
    One that names the root itself (`.`) matches no file."""
    diags = []
    for i, pattern in enumerate(globs):
        text = str(pattern).replace("\\", "/")
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
            why = "is absolute; recipe globs are relative to the project root"
        elif ".." in text.split("/"):
            why = "leaves the project root; recipe files live inside the project"
        elif not parts:
            why = "names the project folder, not recipe files; write e.g. '*.yaml' or 'recipes/**/*.yaml'"
        elif any(len(p.encode("utf-8")) > limits.MAX_NAME_BYTES for p in parts):
            why = f"has a name longer than {limits.MAX_NAME_BYTES} bytes, which no file can have"
        else:
            continue
        diags.append(Diagnostic.error(positions.value(("recipes", i)), f"recipe glob '{pattern}' {why}"))
    return diags


def _rpm_clashes(azure: dict[str, Any], positions: yamlpos.Positions) -> list[Diagnostic]:
    """`providers.azure.rpm` entries that set one deployment's quota twice (by its name and by its
    model's, or by two models), with different values."""
    seen: dict[str, tuple[str, int]] = {}
    diags = []
    entries = (azure.get("rpm") or {}).items()
    for key, deployment, value in rpm_targets(_deployments(azure)[0], entries):
        first, had = seen.setdefault(deployment, (key, value))
        if had != value:
            ways = " and ".join(f"as '{k}' ({v})" if k == deployment else f"as its model '{k}' ({v})"
                                for k, v in ((first, had), (key, value)))
            where = positions.key(("providers", "azure", "rpm", key))
            diags.append(Diagnostic.error(where, f"providers.azure.rpm sets deployment '{deployment}' twice, "
                                                 f"{ways}; keep one"))
    return diags


def _deployments(azure: dict[str, Any]) -> tuple[dict[str, str], dict[str, tuple[DeploymentSpec, ...]]]:
    """`providers.azure.deployments`: model -> its deployment (the first of a list), and model -> the
    list where one is given (names, or {name, endpoint, rpm})."""
    firsts: dict[str, str] = {}
    pools: dict[str, tuple[DeploymentSpec, ...]] = {}
    for model, value in (azure.get("deployments") or {}).items():
        if isinstance(value, str):
            firsts[model] = value
            continue
        specs = tuple(DeploymentSpec(v) if isinstance(v, str) else
                      DeploymentSpec(v["name"], v.get("endpoint"), v.get("rpm")) for v in value)
        firsts[model] = specs[0].name
        pools[model] = specs
    return firsts, pools


def _config(data: dict[str, Any]) -> ProjectConfig:
    providers = data.get("providers") or {}
    azure = providers.get("azure") or {}
    openai = providers.get("openai") or {}
    cache = data.get("cache") or {}
    return ProjectConfig(
        recipes=tuple(data.get("recipes") or RECIPE_GLOBS),
        provider=ProviderKind(data.get("provider", "local")),
        defaults=tuple(sorted((data.get("defaults") or {}).items())),
        azure=AzureConfig(
            endpoint=azure.get("endpoint"),
            api_version=azure.get("api_version"),
            api=azure.get("api", "deployments"),
            auth=azure.get("auth", "auto"),
            deployments=tuple(sorted(_deployments(azure)[0].items())),
            rpm=tuple(sorted((azure.get("rpm") or {}).items())),
            pools=tuple(sorted(_deployments(azure)[1].items())),
        ),
        openai=OpenAIConfig(
            base_url=openai.get("base_url"),
            rpm=tuple(sorted((openai.get("rpm") or {}).items())),
        ),
        pricing=tuple(sorted((data.get("pricing") or {}).items())),
        cache=CacheConfig(remote=cache.get("remote"), remote_mode=cache.get("remote_mode")),
        file=PROJECT_FILE,
    )
