"""The `openai` provider: the same wire format against `{base_url}/images/{op}` with a Bearer key.

`base_url` comes from `providers.openai.base_url`, else $OPENAI_BASE_URL, else the public API;
the key from $OPENAI_API_KEY. Pacing is per model (`providers.openai.rpm`, else the catalog).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from assetgen.catalog import rpm_for
from assetgen.errors import UserError
from assetgen.providers import conversation
from assetgen.providers.auth import Auth, KeyAuth, clean_key
from assetgen.providers.base import ImageRequest
from assetgen.providers.http import ApiFailure
from assetgen.providers.remote import RemoteProvider, Target, check_url
from assetgen.recipe.model import Op, ProjectConfig

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "OPENAI_BASE_URL"
KEY_ENV = "OPENAI_API_KEY"


def resolve_base_url(config: ProjectConfig, env: Mapping[str, str],
                     flag: str | None = None) -> tuple[str, str]:
    """(base URL, where it came from), checked: `--endpoint`, else providers.openai.base_url, else
    $OPENAI_BASE_URL, else the public API."""
    for value, source in ((flag, "--endpoint"), (config.openai.base_url, "providers.openai.base_url"),
                          (env.get(BASE_URL_ENV), f"${BASE_URL_ENV}")):
        if value:
            return check_url(value, "openai", "base URL", source, DEFAULT_BASE_URL), source
    return DEFAULT_BASE_URL, "the default"


class OpenAIProvider(RemoteProvider):
    kind = "openai"
    service = "OpenAI"

    def __init__(self, base_url: str, auth: Auth, *, rpm: Mapping[str, int] | None = None,
                 **options: Any) -> None:
        super().__init__(auth, **options)
        self.base_url = base_url.rstrip("/")
        self.rpm = dict(rpm or {})

    @classmethod
    def from_config(cls, config: ProjectConfig, env: Mapping[str, str] | None = None,
                    endpoint: str | None = None, **options: Any) -> OpenAIProvider:
        """The provider for a project; `endpoint` (the `--endpoint` flag) is the base URL, and wins
        over the project file and the environment."""
        env = os.environ if env is None else env
        base_url, source = resolve_base_url(config, env, endpoint)
        key = clean_key(env.get(KEY_ENV), "openai", f"${KEY_ENV}")
        if not key:
            raise UserError(f"openai provider: ${KEY_ENV} is not set")
        provider = cls(base_url, KeyAuth(key, f"${KEY_ENV}", bearer=True), rpm=dict(config.openai.rpm),
                       **options)
        provider.source = source
        return provider

    def target(self, request: ImageRequest) -> Target:
        rpm = rpm_for(request.model, self.rpm, request.model)
        if conversation.is_turn(request):
            return Target(f"{self.base_url}/responses", request.model, str(request.params.get("text_model")),
                          rpm, tool_model=request.model)
        op = "generations" if request.op is Op.GENERATE else "edits"
        return Target(f"{self.base_url}/images/{op}", request.model, request.model, rpm)

    def not_found(self, failure: ApiFailure, request: ImageRequest, target: Target) -> str:
        return (f"OpenAI answered 404 for {target.url} (model '{request.model}'): "
                f"{failure.message or 'not found'}; check providers.openai.base_url")
