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


def _azure(config: ProjectConfig, root: Path) -> Provider:
    from assetgen.providers.azure import AzureProvider

    return AzureProvider.from_config(config)


def _openai(config: ProjectConfig, root: Path) -> Provider:
    from assetgen.providers.openai import OpenAIProvider

    return OpenAIProvider.from_config(config)


FACTORIES: dict[ProviderKind, Callable[[ProjectConfig, Path], Provider]] = {
    ProviderKind.LOCAL: _local,
    ProviderKind.AZURE: _azure,
    ProviderKind.OPENAI: _openai,
}


def create_provider(kind: ProviderKind, config: ProjectConfig, root: Path) -> Provider:
    factory = FACTORIES.get(kind)
    if factory is None:
        raise UserError(f"the {kind.value} provider is not available in this build")
    return factory(config, root)
