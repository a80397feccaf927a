"""The `azure` provider: Azure OpenAI image deployments over httpx.

Two path forms (`providers.azure.api`): `deployments` sends to
`{endpoint}/openai/deployments/{deployment}/images/{op}?api-version=V`; `v1` sends to
`{endpoint}/openai/v1/images/{op}?api-version=preview` with the deployment as the body's `model`
(image operations exist only in the preview flavour of v1; `api_version` overrides). Credentials: the
`api-key` header from $AZURE_OPENAI_API_KEY, or an Entra ID token (azure-identity's
DefaultAzureCredential, or any TokenCredential given to `from_config`).
"""

from __future__ import annotations

import enum
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

from assetgen import catalog
from assetgen.catalog import rpm_for
from assetgen.errors import UserError
from assetgen.providers import conversation
from assetgen.providers.auth import Auth, KeyAuth, TokenAuth, clean_key, default_credential
from assetgen.providers.base import ImageRequest
from assetgen.providers.http import ApiFailure
from assetgen.providers.remote import RemoteProvider, Target, check_url
from assetgen.recipe.model import AzureConfig, Op, ProjectConfig

DEFAULT_API_VERSION = "2025-04-01-preview"
V1_API_VERSION = "preview"      # the v1 API's image operations are in its preview flavour only
ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
KEY_ENV = "AZURE_OPENAI_API_KEY"
VERSION_ENV = "OPENAI_API_VERSION"


class ApiStyle(enum.Enum):
    DEPLOYMENTS = "deployments"
    V1 = "v1"


class AuthMode(enum.Enum):
    KEY = "key"
    ENTRA = "entra"
    AUTO = "auto"


def op_path(op: Op) -> str:
    return "generations" if op is Op.GENERATE else "edits"


class AzureProvider(RemoteProvider):
    kind = "azure"
    service = "Azure OpenAI"

    def __init__(self, endpoint: str, auth: Auth, *, api: ApiStyle = ApiStyle.DEPLOYMENTS,
                 api_version: str | None = DEFAULT_API_VERSION, config: AzureConfig | None = None,
                 **options: Any) -> None:
        super().__init__(auth, **options)
        self.endpoint = endpoint.rstrip("/")
        self.api = api
        self.api_version = api_version
        self.config = config or AzureConfig()

    @classmethod
    def from_config(cls, config: ProjectConfig, env: Mapping[str, str] | None = None,
                    credential: Any = None, endpoint: str | None = None, **options: Any) -> AzureProvider:
        """The provider for a project; `credential` is any TokenCredential (sync or async);
        `endpoint` (the `--endpoint` flag) wins over the project file and the environment."""
        env = os.environ if env is None else env
        azure = config.azure
        found = resolve_endpoint(config, env, endpoint)
        if found is None:
            raise UserError(f"azure provider: no endpoint: pass --endpoint, set providers.azure.endpoint "
                            f"in assetgen.yaml or ${ENDPOINT_ENV}")
        endpoint, source = found
        for model, specs in azure.pools:
            for spec in specs:
                if spec.endpoint:
                    check_url(spec.endpoint, "azure", "endpoint", f"providers.azure.deployments.{model}",
                              "https://my-resource.openai.azure.com")
        api = _enum(ApiStyle, azure.api, "providers.azure.api")
        version = azure.api_version
        if api is ApiStyle.DEPLOYMENTS:
            version = version or env.get(VERSION_ENV) or DEFAULT_API_VERSION
        else:       # $OPENAI_API_VERSION names a deployment-path version: it is not used on v1
            version = version or V1_API_VERSION
        auth = make_auth(_enum(AuthMode, azure.auth, "providers.azure.auth"), env, credential)
        provider = cls(endpoint, auth, api=api, api_version=version, config=azure, **options)
        provider.source = source
        return provider

    def target(self, request: ImageRequest) -> Target:
        return self.targets(request)[0]

    def targets(self, request: ImageRequest) -> list[Target]:
        """Each deployment of the model (`providers.azure.deployments` may list several, each on its
        own endpoint): one on another endpoint is paced and named as `NAME@HOST`."""
        quotas = self.config.quotas()
        found = []
        for spec in self.config.pool_for(request.model):
            endpoint = (spec.endpoint or self.endpoint).rstrip("/")
            label = spec.name if endpoint == self.endpoint else f"{spec.name}@{_host(endpoint)}"
            found.append(self._target(request, spec.name, endpoint, label,
                                      rpm_for(request.model, quotas, spec.name)))
        return found

    def _target(self, request: ImageRequest, deployment: str, endpoint: str, label: str,
                rpm: float) -> Target:
        query = (("api-version", self.api_version),) if self.api_version else ()
        if conversation.is_turn(request):
            # the Responses API is on the v1 path only; a header names the image deployment
            text = self.config.deployment_for(str(request.params.get("text_model")))
            return Target(f"{endpoint}/openai/v1/responses", label, text, rpm,
                          headers=((conversation.AZURE_IMAGE_DEPLOYMENT_HEADER, deployment),),
                          can_stream=catalog.responses_tool().streaming.get(self.kind, False))
        if self.api is ApiStyle.V1:
            url = f"{endpoint}/openai/v1/images/{op_path(request.op)}"
        else:
            url = f"{endpoint}/openai/deployments/{deployment}/images/{op_path(request.op)}"
        return Target(url, label, deployment, rpm, query)

    def not_found(self, failure: ApiFailure, request: ImageRequest, target: Target) -> str:
        if failure.code == "DeploymentNotFound":
            return (f"Azure OpenAI deployment '{target.deployment}' does not exist at {self.endpoint} "
                    f"(model '{request.model}' maps to it; set providers.azure.deployments in assetgen.yaml)")
        version = f" with api-version {self.api_version}" if self.api_version else ""
        return (f"Azure OpenAI answered 404 for {target.url}{version}: {failure.message or 'not found'}; "
                f"check the endpoint, providers.azure.api and the api-version")


def resolve_endpoint(config: ProjectConfig, env: Mapping[str, str],
                     flag: str | None = None) -> tuple[str, str] | None:
    """(endpoint, where it came from), checked: `--endpoint`, else providers.azure.endpoint, else
    $AZURE_OPENAI_ENDPOINT; None when none is set."""
    for value, source in ((flag, "--endpoint"), (config.azure.endpoint, "providers.azure.endpoint"),
                          (env.get(ENDPOINT_ENV), f"${ENDPOINT_ENV}")):
        if value:
            check_url(value, "azure", "endpoint", source, "https://my-resource.openai.azure.com")
            return value, source
    return None


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def make_auth(mode: AuthMode, env: Mapping[str, str], credential: Any = None) -> Auth:
    key = clean_key(env.get(KEY_ENV), "azure", f"${KEY_ENV}")
    if mode is AuthMode.KEY and not key:
        raise UserError(f"azure provider: providers.azure.auth is 'key' but ${KEY_ENV} is not set")
    if mode is AuthMode.KEY or (mode is AuthMode.AUTO and key and credential is None):
        return KeyAuth(str(key), f"${KEY_ENV}")
    if credential is not None:
        return TokenAuth(credential)
    why = f"${KEY_ENV} is not set" if mode is AuthMode.AUTO else ""
    return TokenAuth(default_credential(), owned=True, why=why)


def _enum(kind: type[enum.Enum], value: str, where: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise UserError(f"{where}: {value!r} is not one of: {allowed}") from None
