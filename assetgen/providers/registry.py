"""Provider kinds -> constructors. Imports are lazy: a build pays only for the provider it uses."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from assetgen.errors import UserError
from assetgen.providers.base import Provider
from assetgen.recipe.model import ProjectConfig, ProviderKind


def _local(config: ProjectConfig, root: Path, endpoint: str | None, share: float) -> Provider:
    from assetgen.providers.local import LocalProvider

    return LocalProvider()


def _azure(config: ProjectConfig, root: Path, endpoint: str | None, share: float) -> Provider:
    from assetgen.providers.azure import AzureProvider

    return AzureProvider.from_config(config, endpoint=endpoint, share=share)


def _openai(config: ProjectConfig, root: Path, endpoint: str | None, share: float) -> Provider:
    from assetgen.providers.openai import OpenAIProvider

    return OpenAIProvider.from_config(config, endpoint=endpoint, share=share)


FACTORIES: dict[ProviderKind, Callable[[ProjectConfig, Path, str | None, float], Provider]] = {
    ProviderKind.LOCAL: _local,
    ProviderKind.AZURE: _azure,
    ProviderKind.OPENAI: _openai,
}


def create_provider(kind: ProviderKind, config: ProjectConfig, root: Path,
                    endpoint: str | None = None, share: float = 1.0) -> Provider:
    """The provider of `kind`; `endpoint` (`--endpoint`) overrides where a remote one sends; `share`
    is the fraction of each deployment's quota this build may use (1/N for a shard)."""
    factory = FACTORIES.get(kind)
    if factory is None:
        raise UserError(f"the {kind.value} provider is not available in this build")
    return factory(config, root, endpoint, share)


def where_calls_go(kind: ProviderKind, config: ProjectConfig, endpoint: str | None = None,
                   env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(URL, where it came from) a remote provider sends to, checked; None for `local` or when no
    endpoint is set. A `--endpoint` for the local provider is a usage error."""
    env = os.environ if env is None else env
    if kind is ProviderKind.AZURE:
        from assetgen.providers.azure import resolve_endpoint

        return resolve_endpoint(config, env, endpoint)
    if kind is ProviderKind.OPENAI:
        from assetgen.providers.openai import resolve_base_url

        return resolve_base_url(config, env, endpoint)
    if endpoint is not None:
        raise UserError(f"--endpoint applies to the azure and openai providers; this build uses "
                        f"{kind.value} (pass --provider azure or --provider openai)")
    return None
