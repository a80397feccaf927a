"""Azure's v1 path sends api-version=preview (image operations exist only there) and the emulator
refuses v1 image calls without it; the emulator answers the content filter in each shape the
services send, and the providers read every one of them as filtered."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest
from openai import AzureOpenAI, OpenAI

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator
from assetgen.providers.azure import AzureProvider
from assetgen.providers.base import ImageRequest, ProviderError
from assetgen.providers.openai import OpenAIProvider
from assetgen.recipe.model import AzureConfig, Op, OpenAIConfig, ProjectConfig
from assetgen.run.retry import RetryPolicy

KEY = "v1-test-key"
FAST = RetryPolicy(base=0.01, cap=0.05)
MESSAGE = ("Your request was rejected as a result of our safety system. Your prompt may contain text that is "
           "not allowed by our safety system.")


def azure(url: str, **cfg: Any) -> AzureProvider:
    config = ProjectConfig(azure=AzureConfig(endpoint=url, rpm=(("gpt-image-1.5", 6000),), **cfg))
    env = {"AZURE_OPENAI_API_KEY": KEY, "OPENAI_API_VERSION": "2025-04-01-preview"}
    return AzureProvider.from_config(config, env=env, policy=FAST)


def call(provider: Any, prompt: str = "a red potion") -> Any:
    async def go() -> Any:
        try:
            return await provider.run(ImageRequest(Op.GENERATE, "gpt-image-1.5", prompt, {"quality": "low"}))
        except ProviderError as exc:
            return exc
        finally:
            await provider.aclose()
    return asyncio.run(go())


def test_v1_sends_api_version_preview_unless_set() -> None:
    with run_emulator(api_key=KEY) as emu:
        default = azure(emu.url, api="v1")
        assert default.target(ImageRequest(Op.GENERATE, "gpt-image-1.5", "x", {})).query == (
            ("api-version", "preview"),)      # not $OPENAI_API_VERSION: it names a deployment-path version
        result = call(default)
        assert not isinstance(result, ProviderError), result
        assert emu.records[-1].path == "/openai/v1/images/generations" and emu.records[-1].status == 200
        pinned = azure(emu.url, api="v1", api_version="2026-09-01-preview")
        assert pinned.target(ImageRequest(Op.GENERATE, "gpt-image-1.5", "x", {})).query == (
            ("api-version", "2026-09-01-preview"),)
        asyncio.run(pinned.aclose())


def test_emulator_refuses_v1_image_calls_without_api_version_preview() -> None:
    with run_emulator(api_key=KEY) as emu:
        with OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=KEY, max_retries=0) as client:
            with pytest.raises(openai.BadRequestError) as info:
                client.images.generate(model="gpt-image-1.5", prompt="x", quality="low")
        assert info.value.body == {"code": "BadRequest", "type": "error", "message": (
            "Image operations of the v1 API exist only in its preview flavour: add the query "
            "api-version=preview (no api-version was sent).")}
        wrong = httpx.post(f"{emu.url}/openai/v1/images/generations?api-version=v1", headers={"api-key": KEY},
                           json={"model": "gpt-image-1.5", "prompt": "x"})
        assert wrong.status_code == 400 and "api-version 'v1' was sent" in wrong.json()["error"]["message"]
        with OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=KEY, max_retries=0,
                    default_query={"api-version": "preview"}) as client:
            assert client.images.generate(model="gpt-image-1.5", prompt="x", quality="low").data
        [_, _, ok] = emu.records
        assert (ok.status, [r.status for r in emu.records]) == (200, [400, 400, 200])


def test_content_filter_shapes_on_each_path() -> None:
    bodies: dict[str, Any] = {}
    for code in ("content_policy_violation", "contentFilter", "moderation_blocked"):
        with run_emulator(api_key=KEY, filter_code=code) as emu:
            with AzureOpenAI(azure_endpoint=emu.url, api_key=KEY, api_version="2025-04-01-preview",
                             max_retries=0) as client:
                with pytest.raises(openai.BadRequestError) as info:
                    client.images.generate(model="gpt-image-1.5", prompt="a forbidden relic")
            bodies[code] = info.value.response.json()
            v1 = httpx.post(f"{emu.url}/openai/v1/images/generations?api-version=preview",
                            headers={"api-key": KEY}, json={"model": "gpt-image-1.5", "prompt": "forbidden"})
            bodies[f"v1 {code}"] = v1.json()
            oai = httpx.post(f"{emu.url}/v1/images/generations", headers={"authorization": f"Bearer {KEY}"},
                             json={"model": "gpt-image-1.5", "prompt": "forbidden"})
            bodies[f"openai {code}"] = oai.json()
    policy = bodies["content_policy_violation"]["error"]
    assert (policy["code"], policy["type"], policy["message"]) == (
        "content_policy_violation", "invalid_request_error", MESSAGE)
    assert policy["inner_error"]["code"] == "ResponsibleAIPolicyViolation"
    assert bodies["v1 content_policy_violation"]["error"]["type"] == "error"    # the v1 spec's Azure type
    legacy = bodies["contentFilter"]
    assert set(legacy) == {"created", "error"} and isinstance(legacy["created"], int)
    assert legacy["error"] == {"code": "contentFilter",
                               "message": "Your task failed as a result of our safety system."}
    assert bodies["v1 contentFilter"]["error"]["code"] == "contentFilter"
    assert bodies["openai contentFilter"]["error"] == {
        "code": "content_policy_violation", "type": "invalid_request_error", "param": None,
        "message": MESSAGE}
    blocked = bodies["moderation_blocked"]["error"]
    assert (blocked["code"], blocked["type"]) == ("moderation_blocked", "image_generation_user_error")


@pytest.mark.parametrize("code", ["content_policy_violation", "contentFilter", "moderation_blocked"])
def test_providers_read_every_shape_as_filtered(code: str) -> None:
    with run_emulator(api_key=KEY, filter_code=code) as emu:
        errors = [call(azure(emu.url), "a forbidden relic"),
                  call(azure(emu.url, api="v1"), "a forbidden relic")]
        config = ProjectConfig(openai=OpenAIConfig(base_url=f"{emu.url}/v1", rpm=(("gpt-image-1.5", 6000),)))
        errors.append(call(OpenAIProvider.from_config(config, env={"OPENAI_API_KEY": KEY}, policy=FAST),
                           "a forbidden relic"))
        assert len(emu.records) == 3                     # one request each: never retried
    shown = "content_policy_violation" if code == "contentFilter" else code
    for error, service, said in zip(errors, ("Azure OpenAI", "Azure OpenAI", "OpenAI"), (code, code, shown),
                                    strict=True):
        assert isinstance(error, ProviderError) and not error.retryable
        assert str(error).startswith(f"the {service} safety system refused the prompt ({said}"), str(error)
        assert str(error).endswith(': "a forbidden relic"'), str(error)


def test_filter_code_option_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["emulator", "--filter-code", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err
