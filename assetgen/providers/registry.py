"""Provider kinds -> constructors. Imports are lazy: a build pays only for the provider it uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assetgen.errors import UserError
from assetgen.providers.base import Provider
from assetgen.recipe.model import ProjectConfig, ProviderKind


def _local(config: ProjectConfig, root: Path) -> Provider:
    from assetgen.providers.local import LocalProvider

    return LocalProvider()


FACTORIES: dict[ProviderKind, Callable[[ProjectConfig, Path], Provider]] = {
    ProviderKind.LOCAL: _local,
}


def create_provider(kind: ProviderKind, config: ProjectConfig, root: Path) -> Provider:
    factory = FACTORIES.get(kind)
    if factory is None:
        raise UserError(f"the {kind.value} provider is not available in this build")
    return factory(config, root)
