"""The azure and openai providers against the real emulator over loopback."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from PIL import Image

from assetgen import placeholder
from assetgen.emulator.testing import EmulatorHandle, run_emulator
from assetgen.errors import UserError
from assetgen.providers.azure import AzureProvider
from assetgen.providers.base import ImageRequest, ImageResult, InputImage, NotSent, ProviderError
from assetgen.providers.openai import OpenAIProvider
from assetgen.recipe.model import AzureConfig, Op, OpenAIConfig, ProjectConfig
from assetgen.run.retry import RetryPolicy

KEY = "sk-test-secret-0123456789"
FAST = RetryPolicy(base=0.01, cap=0.05)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(api_key=KEY, deployments=(("img15", "gpt-image-1.5"), ("dalle", "dall-e-3"))) as handle:
        yield handle


def azure(url: str, *, key: str | None = KEY, credential: Any = None, policy: RetryPolicy = FAST,
          **cfg: Any) -> AzureProvider:
    cfg.setdefault("deployments", (("gpt-image-1.5", "img15"), ("dall-e-3", "dalle")))
    cfg.setdefault("rpm", (("img15", 6000), ("dalle", 6000)))
    config = ProjectConfig(azure=AzureConfig(endpoint=url, **cfg))
    env = {"AZURE_OPENAI_API_KEY": key} if key else {}
    return AzureProvider.from_config(config, env=env, credential=credential, policy=policy)


def run(provider: Any, *requests: ImageRequest) -> list[ImageResult | ProviderError | NotSent]:
    async def go() -> list[ImageResult | ProviderError | NotSent]:
        try:
            return await asyncio.gather(*(provider.run(r) for r in requests), return_exceptions=True)
        finally:
            await provider.aclose()

    results = asyncio.run(go())
    for result in results:
        if not isinstance(result, ImageResult | ProviderError | NotSent):
            raise result
    return results


def gen(prompt: str = "a red potion", model: str = "gpt-image-1.5", **params: Any) -> ImageRequest:
    params.setdefault("size", "1024x1024")
    params.setdefault("quality", "low")
    return ImageRequest(Op.GENERATE, model, prompt, params)


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def since(emu: EmulatorHandle, mark: int) -> list[Any]:
    return emu.records[mark:]


def test_generate_on_the_deployment_path(emu: EmulatorHandle) -> None:
    mark = len(emu.records)
    [result] = run(azure(emu.url), gen(background="transparent"))
    assert isinstance(result, ImageResult)
    assert decoded(result.images[0]).size == (1024, 1024)
    assert result.requests == 1
    assert result.usage["output_tokens"] == 272
    [rec] = since(emu, mark)
    assert rec.path == "/openai/deployments/img15/images/generations"
    assert (rec.status, rec.deployment) == (200, "img15")
    assert rec.fields == {"model": "img15", "prompt": "a red potion", "background": "transparent",
                          "quality": "low", "size": "1024x1024"}


def test_edit_sends_image_parts_and_mask(emu: EmulatorHandle) -> None:
    base = placeholder.encode(placeholder.generate(1024, 1024, "base", "b"))
    logo = placeholder.encode(placeholder.generate(256, 256, "logo", "l"), "jpeg")
    mask_img = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask_img.paste((0, 0, 0, 0), (0, 0, 512, 512))
    buf = io.BytesIO()
    mask_img.save(buf, "PNG")
    request = ImageRequest(Op.EDIT, "gpt-image-1.5", "add a storm", {"size": "1024x1024", "quality": "low"},
                           images=(InputImage("banner.png", base, "image/png"),
                                   InputImage("logo.jpg", logo, "image/jpeg")),
                           mask=InputImage("sky.png", buf.getvalue(), "image/png"))
    mark = len(emu.records)
    [result] = run(azure(emu.url), request)
    assert isinstance(result, ImageResult), result
    assert decoded(result.images[0]).size == (1024, 1024)
    [rec] = since(emu, mark)
    assert (rec.path, rec.op, rec.status) == ("/openai/deployments/img15/images/edits", "edit", 200)
    assert rec.fields["image[]"] == [
        {"filename": "banner.png", "content_type": "image/png", "bytes": len(base)},
        {"filename": "logo.jpg", "content_type": "image/jpeg", "bytes": len(logo)}]
    assert rec.fields["mask"] == {"filename": "sky.png", "content_type": "image/png",
                                  "bytes": len(buf.getvalue())}
    assert rec.fields["prompt"] == "add a storm"


def test_dall_e_3_urls_are_downloaded(emu: EmulatorHandle) -> None:
    [result] = run(azure(emu.url), gen(model="dall-e-3", quality="standard"))
    assert isinstance(result, ImageResult), result
    assert decoded(result.images[0]).size == (1024, 1024)
    assert result.requests == 2


def test_content_filter_is_not_retried_and_says_filtered(emu: EmulatorHandle) -> None:
    mark = len(emu.records)
    [error] = run(azure(emu.url), gen("a forbidden potion"))
    assert isinstance(error, ProviderError)
    assert str(error) == ('the Azure OpenAI safety system refused the prompt (content_policy_violation: '
                          'violence): "a forbidden potion"')
    assert (error.cause, error.detail, error.about_recipe) == (
        "the Azure OpenAI safety system refused the prompt (content_policy_violation: violence)",
        '"a forbidden potion"', True)
    assert (error.retryable, error.fatal, error.requests, error.status) == (False, False, 1, 400)
    assert len(since(emu, mark)) == 1


def test_bad_parameter_names_it_and_is_not_retried(emu: EmulatorHandle) -> None:
    mark = len(emu.records)
    [error] = run(azure(emu.url), gen(quality="ultra"))
    assert isinstance(error, ProviderError)
    assert str(error) == ("Azure OpenAI rejected parameter 'quality' (invalid_value): Invalid value: "
                          "'ultra'. Supported values are: 'low', 'medium', 'high', and 'auto'.")
    assert (error.retryable, error.requests) == (False, 1)
    assert len(since(emu, mark)) == 1


def test_refused_key_is_fatal_and_never_echoed(emu: EmulatorHandle) -> None:
    wrong = "sk-wrong-secret-key-987"
    [error] = run(azure(emu.url, key=wrong), gen())
    assert isinstance(error, ProviderError)
    assert str(error) == ("Azure OpenAI refused the credentials (HTTP 401); check the API key in "
                          "$AZURE_OPENAI_API_KEY")
    assert error.fatal and wrong not in str(error)


def test_unknown_deployment_names_it_and_its_model(emu: EmulatorHandle) -> None:
    provider = azure(emu.url, deployments=(("gpt-image-1.5", "img-missing"),))
    [error] = run(provider, gen())
    assert isinstance(error, ProviderError)
    assert str(error) == (f"Azure OpenAI deployment 'img-missing' does not exist at {emu.url} (model "
                          "'gpt-image-1.5' maps to it; set providers.azure.deployments in assetgen.yaml)")
    assert not error.retryable


def test_a_missing_deployment_is_asked_once(emu: EmulatorHandle) -> None:
    """After DeploymentNotFound the calls queued for that deployment fail without a request."""
    mark = len(emu.records)
    provider = azure(emu.url, deployments=(("gpt-image-1.5", "img-missing"), ("dall-e-3", "dalle")),
                     rpm=(("img-missing", 60), ("dalle", 6000)))
    lamp = gen("a lamp", model="dall-e-3", quality="standard")
    results = run(provider, *(gen(f"potion {i}") for i in range(5)), lamp)
    *missing, other = results
    assert [r.deployment for r in since(emu, mark)].count("img-missing") == 1
    assert all(isinstance(r, ProviderError) for r in missing), missing
    assert {str(r) for r in missing} == {
        f"Azure OpenAI deployment 'img-missing' does not exist at {emu.url} (model 'gpt-image-1.5' maps "
        "to it; set providers.azure.deployments in assetgen.yaml)"}
    assert sum(r.requests for r in missing if isinstance(r, ProviderError)) == 1
    assert isinstance(other, ImageResult)


def test_rate_limits_are_waited_out_and_retried() -> None:
    with run_emulator(api_key=KEY, rpm=120, deployments=(("img15", "gpt-image-1.5"),)) as emu:
        # the project claims far more quota than the deployment has: 429s must be waited out
        [*results] = run(azure(emu.url, rpm=(("img15", 6000),)), *(gen(f"potion {i}") for i in range(4)))
        assert all(isinstance(r, ImageResult) for r in results), results
        stats = emu.stats()
    assert stats["generations"] == 4
    assert stats["throttled"] >= 1
    assert sum(r.requests for r in results) == stats["requests"]


def test_faults_are_retried_and_no_call_succeeds_twice() -> None:
    with run_emulator(api_key=KEY, fault_rate=0.2, seed=7, deployments=(("img15", "gpt-image-1.5"),)) as emu:
        results = run(azure(emu.url), *(gen(f"potion {i}") for i in range(30)))
        records = emu.records
    failed = [(i, r) for i, r in enumerate(results) if not isinstance(r, ImageResult)]
    assert not failed, (failed, [(r.status, r.fault, r.fields.get("prompt")) for r in records])
    ok = [r.fields["prompt"] for r in records if r.status == 200]
    assert sorted(ok) == sorted(f"potion {i}" for i in range(30))
    assert sum(1 for r in records if r.fault) >= 3
    assert sum(r.requests for r in results) == len(records)


class StaticCredential:
    """A real TokenCredential: returns one token and counts the calls."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.extend(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


class AsyncStaticCredential(StaticCredential):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        return super().get_token(*scopes, **kwargs)


@pytest.mark.parametrize("kind", [StaticCredential, AsyncStaticCredential])
def test_entra_token_is_sent_as_bearer_and_reused(kind: type[StaticCredential]) -> None:
    credential = kind("entra-token-abc")
    with run_emulator(api_key="entra-token-abc", deployments=(("img15", "gpt-image-1.5"),)) as emu:
        provider = azure(emu.url, key=None, credential=credential, auth="entra")
        results = run(provider, gen("one"), gen("two"), gen("three"))
        statuses = [r.status for r in emu.records]
    assert all(isinstance(r, ImageResult) for r in results), results
    assert statuses == [200, 200, 200]      # the emulator accepts only this token
    assert credential.calls == ["https://cognitiveservices.azure.com/.default"]


def test_v1_path_sends_the_deployment_as_model(emu: EmulatorHandle) -> None:
    mark = len(emu.records)
    [result] = run(azure(emu.url, api="v1"), gen())
    assert isinstance(result, ImageResult), result
    [rec] = since(emu, mark)
    assert (rec.path, rec.status, rec.fields["model"]) == ("/openai/v1/images/generations", 200, "img15")


def test_openai_provider_on_v1(emu: EmulatorHandle) -> None:
    config = ProjectConfig(openai=OpenAIConfig(base_url=f"{emu.url}/v1", rpm=(("gpt-image-1.5", 6000),)))
    provider = OpenAIProvider.from_config(config, env={"OPENAI_API_KEY": KEY}, policy=FAST)
    mark = len(emu.records)
    [result] = run(provider, gen())
    assert isinstance(result, ImageResult), result
    [rec] = since(emu, mark)
    assert (rec.path, rec.status, rec.fields["model"]) == ("/v1/images/generations", 200, "gpt-image-1.5")


def test_openai_refused_key_is_not_echoed(emu: EmulatorHandle) -> None:
    wrong = "sk-not-the-right-one-42"
    config = ProjectConfig(openai=OpenAIConfig(base_url=f"{emu.url}/v1"))
    [error] = run(OpenAIProvider.from_config(config, env={"OPENAI_API_KEY": wrong}, policy=FAST), gen())
    assert isinstance(error, ProviderError)
    assert str(error) == "OpenAI refused the credentials (HTTP 401); check the API key in $OPENAI_API_KEY"


@pytest.mark.parametrize("op", [Op.GENERATE, Op.EDIT])
def test_streaming_saves_partials_and_takes_the_completed_image(emu: EmulatorHandle, op: Op) -> None:
    partials: list[tuple[int, tuple[int, int]]] = []

    async def on_partial(index: int, data: bytes) -> None:
        partials.append((index, decoded(data).size))

    base = placeholder.encode(placeholder.generate(1024, 1024, "base", "b"))
    images = (InputImage("base.png", base, "image/png"),) if op is Op.EDIT else ()
    request = ImageRequest(op, "gpt-image-1.5", "a blue potion", {"size": "1024x1024", "quality": "low"},
                           images=images, partial_images=2, on_partial=on_partial)
    mark = len(emu.records)
    [result] = run(azure(emu.url, api="v1"), request)
    assert isinstance(result, ImageResult), result
    assert decoded(result.images[0]).size == (1024, 1024)
    assert result.usage["output_tokens"] > 0
    assert partials == [(0, (1024, 1024)), (1, (1024, 1024))]
    [rec] = since(emu, mark)
    assert str(rec.fields["stream"]).lower() == "true" and int(rec.fields["partial_images"]) == 2


def test_streamed_candidates_add_up_to_the_usage_of_the_whole_call(emu: EmulatorHandle) -> None:
    params = {"size": "1024x1024", "quality": "low", "n": 2}
    plain = ImageRequest(Op.GENERATE, "gpt-image-1.5", "two red cats", params)
    streamed = ImageRequest(Op.GENERATE, "gpt-image-1.5", "two red cats", params, partial_images=1)
    [whole, parts] = run(azure(emu.url), plain, streamed)
    assert isinstance(whole, ImageResult) and isinstance(parts, ImageResult), (whole, parts)
    assert len(parts.images) == 2
    assert whole.usage["output_tokens"] == 544
    assert parts.usage == whole.usage


def test_previews_are_not_asked_of_a_model_that_cannot_stream(emu: EmulatorHandle) -> None:
    partials: list[int] = []
    params = {"size": "1024x1024", "quality": "standard"}
    request = ImageRequest(Op.GENERATE, "dall-e-3", "a lighthouse", params, partial_images=2,
                           on_partial=lambda index, data: partials.append(index))
    mark = len(emu.records)
    [result] = run(azure(emu.url), request)
    assert isinstance(result, ImageResult), result
    assert decoded(result.images[0]).size == (1024, 1024)
    assert partials == []
    [rec] = since(emu, mark)
    assert (rec.status, "stream" in rec.fields, "partial_images" in rec.fields) == (200, False, False)


def test_missing_endpoint_and_key_are_user_errors() -> None:
    with pytest.raises(UserError, match=r"^azure provider: no endpoint: pass --endpoint, set "
                       r"providers.azure.endpoint in assetgen.yaml or \$AZURE_OPENAI_ENDPOINT$"):
        AzureProvider.from_config(ProjectConfig(), env={})
    config = ProjectConfig(azure=AzureConfig(endpoint="http://127.0.0.1:9", auth="key"))
    with pytest.raises(UserError, match=r"^azure provider: providers.azure.auth is 'key' but "
                       r"\$AZURE_OPENAI_API_KEY is not set$"):
        AzureProvider.from_config(config, env={})
    with pytest.raises(UserError, match=r"^openai provider: \$OPENAI_API_KEY is not set$"):
        OpenAIProvider.from_config(ProjectConfig(), env={})


@pytest.mark.parametrize("endpoint", ["my-resource.openai.azure.com", "127.0.0.1:8765", "http://", "ftp://x",
                                      "http://[bad", "http://host:99999"])
def test_an_endpoint_that_is_not_an_http_url_is_a_user_error(endpoint: str) -> None:
    env = {"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": KEY}
    with pytest.raises(UserError) as azure_error:
        AzureProvider.from_config(ProjectConfig(), env=env)
    assert str(azure_error.value) == (
        f"azure provider: the endpoint {endpoint!r} ($AZURE_OPENAI_ENDPOINT) is not an http(s) URL; "
        "expected e.g. https://my-resource.openai.azure.com")
    with pytest.raises(UserError) as openai_error:
        OpenAIProvider.from_config(ProjectConfig(openai=OpenAIConfig(base_url=endpoint)),
                                   env={"OPENAI_API_KEY": KEY})
    assert str(openai_error.value) == (
        f"openai provider: the base URL {endpoint!r} (providers.openai.base_url) is not an http(s) URL; "
        "expected e.g. https://api.openai.com/v1")


def test_a_key_with_a_trailing_line_break_or_space_is_sent_without_it(emu: EmulatorHandle) -> None:
    mark = len(emu.records)
    results = run(azure(emu.url, key=KEY + "\r\n"), gen())
    results += run(OpenAIProvider.from_config(ProjectConfig(openai=OpenAIConfig(base_url=f"{emu.url}/v1")),
                                              env={"OPENAI_API_KEY": f" {KEY} "}, policy=FAST), gen())
    assert all(isinstance(r, ImageResult) for r in results), results
    assert [r.status for r in since(emu, mark)] == [200, 200]


@pytest.mark.parametrize("key", ["sk-caf\u00e9-0123", "sk-a\nb-0123", "sk-a\x00b-0123"])
def test_a_key_that_cannot_go_in_a_header_is_a_user_error_that_does_not_show_it(key: str) -> None:
    with pytest.raises(UserError) as error:
        AzureProvider.from_config(ProjectConfig(azure=AzureConfig(endpoint="http://127.0.0.1:9")),
                                  env={"AZURE_OPENAI_API_KEY": key})
    assert str(error.value) == (
        "azure provider: $AZURE_OPENAI_API_KEY holds a character that cannot be sent in an HTTP header (only "
        "printable ASCII can); check how it was set")
    with pytest.raises(UserError, match=r"^openai provider: \$OPENAI_API_KEY holds a character"):
        OpenAIProvider.from_config(ProjectConfig(), env={"OPENAI_API_KEY": key})


def test_endpoint_and_version_come_from_the_environment() -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/", "AZURE_OPENAI_API_KEY": KEY,
           "OPENAI_API_VERSION": "2025-06-01"}
    provider = AzureProvider.from_config(ProjectConfig(), env=env)
    target = provider.target(gen())
    asyncio.run(provider.aclose())
    assert target.url == "https://r.openai.azure.com/openai/deployments/gpt-image-1.5/images/generations"
    assert target.query == (("api-version", "2025-06-01"),)
    assert target.rpm == 9.0


class RefusingCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError("no Azure CLI session; run az login")


def test_a_credential_that_fails_stops_the_build_before_any_request(emu: EmulatorHandle) -> None:
    mark = len(emu.records)
    provider = azure(emu.url, key=None, credential=RefusingCredential(), auth="entra")
    [error] = run(provider, gen())
    assert isinstance(error, ProviderError)
    assert str(error) == ("Entra ID (RefusingCredential) gave no token (no Azure CLI session; run az login); "
                          "sign in with `az login`, or check its settings")
    assert (error.fatal, error.requests) == (True, 0)
    assert since(emu, mark) == []


def test_a_rate_limit_asking_too_long_a_wait_fails_the_call() -> None:
    impatient = RetryPolicy(base=0.01, cap=0.05, max_rate_wait=0.0)
    with run_emulator(api_key=KEY, rpm=60, deployments=(("img15", "gpt-image-1.5"),)) as emu:
        provider = azure(emu.url, rpm=(("img15", 6000),), policy=impatient)
        results = run(provider, gen("first"), gen("second"))
    [error] = [r for r in results if isinstance(r, ProviderError)]
    assert re.fullmatch(r"deployment 'img15' is rate limited and asks to wait \d+\.\d s, longer than this "
                        r"build waits \(0 s\); try again later", str(error)), str(error)
    assert (error.retryable, error.requests, error.status) == (True, 1, 429)


def test_after_refused_credentials_no_more_requests_are_sent() -> None:
    with run_emulator(api_key=KEY, deployments=(("img15", "gpt-image-1.5"),)) as emu:
        provider = azure(emu.url, key="sk-wrong-key-1", rpm=(("img15", 240),))  # one request in 0.25 s
        results = run(provider, *(gen(f"potion {i}") for i in range(3)))
        sent = len(emu.records)
    assert sent == 1
    assert [(type(r).__name__, r.requests) for r in results] == [
        ("ProviderError", 1), ("NotSent", 0), ("NotSent", 0)]
    assert isinstance(results[0], ProviderError) and results[0].fatal


def faulty(**options: Any) -> Any:
    return run_emulator(api_key=KEY, fault_rate=1.0, seed=3, deployments=(("img15", "gpt-image-1.5"),),
                        **options)


def test_a_call_stopped_while_on_the_wire_is_not_retried_after_a_server_error() -> None:
    providers: list[AzureProvider] = []

    async def stop_as_it_is_sent(request: httpx.Request) -> None:
        providers[0].stop()

    with faulty() as emu:
        config = ProjectConfig(azure=AzureConfig(endpoint=emu.url, deployments=(("gpt-image-1.5", "img15"),),
                                                 rpm=(("img15", 6000),)))
        client = httpx.AsyncClient(event_hooks={"request": [stop_as_it_is_sent]})
        providers.append(AzureProvider.from_config(config, env={"AZURE_OPENAI_API_KEY": KEY}, policy=FAST,
                                                   client=client))
        [result] = run(providers[0], gen())
        records = emu.records
    assert [r.fault is not None for r in records] == [True]
    assert isinstance(result, NotSent) and result.requests == 1


def test_a_stop_during_a_backoff_ends_the_call_unsent() -> None:
    providers: list[AzureProvider] = []

    async def stop_while_backing_off(seconds: float) -> None:
        providers[0].stop()
        await asyncio.sleep(30)

    with faulty() as emu:
        config = ProjectConfig(azure=AzureConfig(endpoint=emu.url, deployments=(("gpt-image-1.5", "img15"),),
                                                 rpm=(("img15", 6000),)))
        providers.append(AzureProvider.from_config(config, env={"AZURE_OPENAI_API_KEY": KEY}, policy=FAST,
                                                   sleep=stop_while_backing_off))
        [result] = run(providers[0], gen())
        sent = len(emu.records)
    assert sent == 1
    assert isinstance(result, NotSent) and result.requests == 1


def test_timeouts_are_retried_a_bounded_number_of_times() -> None:
    policy = RetryPolicy(max_attempts=2, base=0.01, cap=0.02)
    with run_emulator(api_key=KEY, latency=2.0, deployments=(("img15", "gpt-image-1.5"),)) as emu:
        config = ProjectConfig(azure=AzureConfig(endpoint=emu.url, deployments=(("gpt-image-1.5", "img15"),),
                                                 rpm=(("img15", 6000),)))
        client = httpx.AsyncClient(timeout=httpx.Timeout(0.05))   # an image takes 0.54 s here
        provider = AzureProvider.from_config(config, env={"AZURE_OPENAI_API_KEY": KEY}, policy=policy,
                                             client=client)
        [error] = run(provider, gen())
    assert isinstance(error, ProviderError)
    assert str(error) == "Azure OpenAI failed 2 times (last: no answer: ReadTimeout)"
    assert (error.retryable, error.fatal, error.requests, error.status) == (True, False, 2, None)


def test_without_a_key_the_default_entra_credential_is_tried_and_fails_in_words(
        emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    # DefaultAzureCredential limited to managed identity, whose token endpoint answers 404 at once
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{emu.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "h")
    mark = len(emu.records)
    provider = azure(emu.url, key=None)
    [error] = run(provider, gen())
    assert isinstance(error, ProviderError)
    assert str(error).startswith(
        "no credentials: $AZURE_OPENAI_API_KEY is not set, and Entra ID (DefaultAzureCredential) found none "
        "(ManagedIdentityCredential: "), str(error)
    assert str(error).endswith("); set $AZURE_OPENAI_API_KEY, or sign in with `az login`")
    assert "\n" not in str(error)
    assert (error.fatal, error.requests) == (True, 0)
    assert since(emu, mark) == []


@pytest.mark.parametrize("endpoint", ["http://user:s3cr3t-pw@127.0.0.1:8765", "https://s3cr3t-pw@host",
                                      "https://host/?api-key=s3cr3t-pw", "https://host/#s3cr3t-pw",
                                      "s3cr3t-pw@host"])
def test_an_endpoint_with_credentials_in_it_is_refused_without_showing_them(endpoint: str) -> None:
    env = {"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": KEY}
    with pytest.raises(UserError) as azure_error:
        AzureProvider.from_config(ProjectConfig(), env=env)
    with pytest.raises(UserError) as openai_error:
        OpenAIProvider.from_config(ProjectConfig(openai=OpenAIConfig(base_url=endpoint)),
                                   env={"OPENAI_API_KEY": KEY})
    for error in (azure_error, openai_error):
        assert "s3cr3t-pw" not in str(error.value) and "***" in str(error.value)
