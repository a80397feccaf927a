"""The typed recipe model: what every stage after loading consumes.

Loading (YAML with positions), schema validation, template rendering and matrix expansion turn
files into these frozen values, once, at the edge. Templates are already rendered here: the
planner never sees a Jinja2 string or a dict from a file.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from assetgen.catalog import ProjectModels
from assetgen.errors import Location


class Op(enum.Enum):
    GENERATE = "generate"
    EDIT = "edit"


class Fit(enum.Enum):
    CONTAIN = "contain"
    COVER = "cover"
    STRETCH = "stretch"


class ProviderKind(enum.Enum):
    LOCAL = "local"
    AZURE = "azure"
    OPENAI = "openai"


class ImageRef(Struct, frozen=True):
    """An input image, mask or reference: a project file, or another asset's final image."""

    location: Location
    path: str | None = None   # project-relative POSIX path, already rendered and checked
    asset: str | None = None  # an expanded variant name, or an asset key without a matrix

    def __post_init__(self) -> None:
        if (self.path is None) == (self.asset is None):
            raise ValueError("ImageRef needs exactly one of path and asset")


@dataclass(frozen=True, slots=True)
class Step:
    op: Op
    prompt: str                          # rendered
    params: tuple[tuple[str, Any], ...]  # request params (step > asset > file > project), sorted
    location: Location                   # where the step (or the asset's `prompt:` shorthand) stands
    image: ImageRef | None = None        # only on a first `edit` step
    mask: ImageRef | None = None
    images: tuple[ImageRef, ...] = ()    # extra reference images, sent after the working image
    pick: int | None = None              # with n > 1: the candidate that continues (this variant's)
    pick_missing: bool = False           # `pick` is a mapping without an entry for this variant
    shorthand: bool = field(default=False, compare=False)   # the asset's `prompt:`, not a `steps` entry
    # where each merged parameter was set (step, asset, file or project defaults): for messages only
    param_locations: tuple[tuple[str, Location], ...] = field(default=(), compare=False)

    def param_location(self, name: str) -> Location:
        return dict(self.param_locations).get(name, self.location)

    def param(self, name: str, default: Any = None) -> Any:
        for key, value in self.params:
            if key == name:
                return value
        return default

    @property
    def model(self) -> str | None:
        return self.param("model")

    @property
    def n(self) -> int:
        return int(self.param("n", 1))


class Output(Struct, frozen=True):
    """One file written from a final image, encoded locally."""

    path: str                         # project-relative POSIX path, rendered (with `index` filled in)
    format: str                       # png | jpeg | webp | avif ... (from `format:` or the extension)
    location: Location
    index: int = 0                    # the candidate of the final step this output renders
    quality: int | None = None        # 1-100 for lossy encoders
    resize: tuple[int, int] | None = None
    fit: Fit = Fit.CONTAIN


class Variant(Struct, frozen=True):
    """One expanded asset: a matrix combination (or the asset itself when it has no matrix)."""

    name: str                              # unique across the project
    asset: str                             # the asset key
    values: tuple[tuple[str, Any], ...]    # matrix values, in matrix order
    steps: tuple[Step, ...]
    outputs: tuple[Output, ...]
    location: Location                     # the asset key's line (the include entry's for includes)


@dataclass(frozen=True, slots=True)
class Recipe:
    path: str                      # project-relative POSIX path of the recipe file
    variants: tuple[Variant, ...]
    # of a large matrix file as loaded (its data without the matrix value lists: `recipe.reuse`)
    definition: str | None = field(default=None, compare=False)


class DeploymentSpec(Struct, frozen=True):
    """One of several deployments serving a model: its own endpoint (else the provider's) and quota."""

    name: str
    endpoint: str | None = None
    rpm: int | None = None


class AzureConfig(Struct, frozen=True):
    endpoint: str | None = None          # else $AZURE_OPENAI_ENDPOINT
    api_version: str | None = None       # else $OPENAI_API_VERSION
    api: str = "deployments"             # deployments | v1
    auth: str = "auto"                   # key | entra | auto
    deployments: tuple[tuple[str, str], ...] = ()   # model -> deployment (the first, for several)
    rpm: tuple[tuple[str, int], ...] = ()            # deployment (or its model) -> requests per minute
    pools: tuple[tuple[str, tuple[DeploymentSpec, ...]], ...] = ()   # model -> its several deployments

    def deployment_for(self, model: str) -> str:
        return dict(self.deployments).get(model, model)

    def pool_for(self, model: str) -> tuple[DeploymentSpec, ...]:
        """Every deployment that serves `model` (one, unless the project lists several)."""
        return dict(self.pools).get(model) or (DeploymentSpec(self.deployment_for(model)),)

    def quotas(self) -> dict[str, int]:
        """Requests per minute by deployment name (the project file never sets one twice). In a list
        of deployments, one's own `rpm` wins, else the `rpm:` entry of its name, else of its model."""
        found: dict[str, int] = {}
        for _, deployment, value in rpm_targets(dict(self.deployments), self.rpm):
            found.setdefault(deployment, value)
        by_key = dict(self.rpm)
        for model, specs in self.pools:
            for spec in specs:
                if spec.rpm is not None:
                    found[spec.name] = spec.rpm
                elif spec.name in by_key:
                    found[spec.name] = by_key[spec.name]
                elif model in by_key:
                    found[spec.name] = by_key[model]
        return found


def rpm_targets(deployments: Mapping[str, str],
                rpm: Iterable[tuple[str, int]]) -> Iterator[tuple[str, str, int]]:
    """(key, deployment, rpm) for each `providers.azure.rpm` entry: a key names a deployment, or a
    model that `deployments` maps to one; a name that is both is taken as the deployment."""
    names = set(deployments.values())
    for key, value in rpm:
        yield key, key if key in names else deployments.get(key, key), value


class OpenAIConfig(Struct, frozen=True):
    base_url: str | None = None          # else $OPENAI_BASE_URL, else https://api.openai.com/v1
    rpm: tuple[tuple[str, int], ...] = ()


class CacheConfig(Struct, frozen=True):
    remote: str | None = None            # else $ASSETGEN_REMOTE_CACHE
    remote_mode: str | None = None       # read | write | off; else $ASSETGEN_REMOTE_CACHE_MODE, else read


RECIPE_GLOBS = ("recipes/**/*.yaml",)     # where recipe files are searched when the project file does not say


class ProjectConfig(Struct, frozen=True):
    recipes: tuple[str, ...] = RECIPE_GLOBS
    provider: ProviderKind = ProviderKind.LOCAL
    defaults: tuple[tuple[str, Any], ...] = ()
    azure: AzureConfig = msgspec.field(default_factory=AzureConfig)
    openai: OpenAIConfig = msgspec.field(default_factory=OpenAIConfig)
    pricing: tuple[tuple[str, Any], ...] = ()      # model -> override dict (see catalog.estimate_cost)
    models: ProjectModels = msgspec.field(default_factory=ProjectModels)   # the project's own model rows
    cache: CacheConfig = msgspec.field(default_factory=CacheConfig)
    file: str | None = None                        # "assetgen.yaml" when there is one


class Project(Struct, frozen=True):
    root: Path                         # absolute; every recipe path resolves against it
    config: ProjectConfig
    recipes: tuple[Recipe, ...]
    # recipe globs that match no file: a typo there would drop the assets of the files it was meant
    # to match, their outputs and their lock entries
    unmatched_globs: tuple[str, ...] = ()

    def variants(self) -> tuple[Variant, ...]:
        return tuple(v for r in self.recipes for v in r.variants)
