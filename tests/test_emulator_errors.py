"""The emulator's refusals: real status codes, envelopes and messages, seen through the `openai` client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import AzureOpenAI, OpenAI
from PIL import Image

from assetgen.emulator.testing import EmulatorHandle, run_emulator

API_VERSION = "2025-04-01-preview"
V1_QUERY = {"api-version": "preview"}    # Azure's v1 path has image operations in its preview flavour only
KEY = "secret-key"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(api_key=KEY, block_word="forbidden") as handle:
        yield handle


@pytest.fixture
def azure(emu: EmulatorHandle) -> Iterator[AzureOpenAI]:
    with AzureOpenAI(azure_endpoint=emu.url, api_key=KEY, api_version=API_VERSION, max_retries=0) as client:
        yield client


def png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def bad_request(call: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as info:
        call()
    assert info.value.status_code == 400
    assert isinstance(info.value.body, dict)
    return info.value.body


def test_bad_size(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x", size="512x512"))
    assert body == {"message": "Invalid value: '512x512'. Supported values are: '1024x1024', '1536x1024', "
                    "'1024x1536', and 'auto'.", "type": "invalid_request_error", "param": "size",
                    "code": "invalid_value"}


def test_response_format_on_gpt_image(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x",
                                                     response_format="b64_json"))
    assert body == {"message": "Unknown parameter: 'response_format'.", "type": "invalid_request_error",
                    "param": "response_format", "code": "unknown_parameter"}


def test_unknown_top_level_field_in_azure_mode(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x",
                                                     extra_body={"extra_body": 1}))
    assert (body["message"], body["param"]) == ("Unknown parameter: 'extra_body'.", "extra_body")


def test_webp_refused_in_azure_mode(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x", output_format="webp"))
    assert body["message"] == "Invalid value: 'webp'. Supported values are: 'png' and 'jpeg'."
    assert body["param"] == "output_format"


def test_transparent_jpeg(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x",
                                                     background="transparent", output_format="jpeg"))
    assert body["message"] == "Transparent background is not supported for output_format 'jpeg'. " \
        "Use 'png' and 'webp'."
    assert body["param"] == "background"


def test_compression_on_png(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x", output_compression=50))
    assert body["param"] == "output_compression"


def test_dall_e_3_n_2(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="dall-e-3", prompt="x", n=2))
    assert body == {"message": "Invalid 'n': integer above maximum value. Expected a value <= 1, but got 2 "
                    "instead.", "type": "invalid_request_error", "param": "n",
                    "code": "integer_above_max_value"}


def test_style_on_gpt_image(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x", style="vivid"))
    assert body["code"] == "unknown_parameter" and body["param"] == "style"


def test_prompt_too_long(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="dall-e-3", prompt="a" * 4001))
    assert body["message"] == ("Invalid 'prompt': string too long. Expected a string with maximum length "
                               "4000, but got a string with length 4001 instead.")


def test_bad_quality_lists_model_values(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="dall-e-3", prompt="x", quality="high"))
    assert body["message"] == "Invalid value: 'high'. Supported values are: 'standard' and 'hd'."


def test_partial_images_above_three(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="x", stream=True,
                                                     partial_images=4))
    assert body["param"] == "partial_images" and body["code"] == "integer_above_max_value"


def test_wrong_mask_size(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.edit(
        model="gpt-image-1", prompt="x", image=[("a.png", png((1024, 1024)), "image/png")],
        mask=("m.png", png((512, 512), "RGBA"), "image/png")))
    assert body == {"message": "Invalid 'mask': mask size 512x512 does not match the size of the first "
                    "image 1024x1024.", "type": "invalid_request_error", "param": "mask",
                    "code": "invalid_mask_size"}


def test_mask_without_alpha(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.edit(
        model="gpt-image-1", prompt="x", image=[("a.png", png((1024, 1024)), "image/png")],
        mask=("m.png", png((1024, 1024), "RGB"), "image/png")))
    assert body["message"] == "Invalid mask image format - mask image missing alpha channel."


def test_octet_stream_part(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.edit(model="gpt-image-1", prompt="x", image=png((1024, 1024))))
    assert body == {"message": "Invalid file 'image': unsupported mimetype ('application/octet-stream'). "
                    "Supported file formats are 'image/jpeg' and 'image/png'.",
                    "type": "invalid_request_error", "param": "image", "code": "unsupported_file_mimetype"}


def test_octet_stream_part_on_openai_lists_webp(emu: EmulatorHandle) -> None:
    with OpenAI(base_url=f"{emu.url}/v1", api_key=KEY, max_retries=0) as client:
        body = bad_request(lambda: client.images.edit(model="gpt-image-1", prompt="x", image=png((64, 64))))
    assert body["message"] == ("Invalid file 'image': unsupported mimetype ('application/octet-stream'). "
                               "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.")


def test_too_many_images(azure: AzureOpenAI) -> None:
    part = ("a.png", png((16, 16)), "image/png")
    body = bad_request(lambda: azure.images.edit(model="gpt-image-1", prompt="x", image=[part] * 17))
    assert body["message"] == ("Invalid 'image': array too long. Expected an array with maximum length 16, "
                               "but got an array with length 17 instead.")


def test_image_part_without_filename(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/openai/deployments/gpt-image-1/images/edits",
                          params={"api-version": API_VERSION}, headers={"api-key": KEY},
                          files={"prompt": (None, "x"), "image": (None, "not a file")})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Invalid type for 'image': expected one of an array of files or file, but got a string instead.")


def test_undecodable_image(azure: AzureOpenAI) -> None:
    body = bad_request(lambda: azure.images.edit(model="gpt-image-1", prompt="x",
                                                 image=("a.png", b"not a png", "image/png")))
    assert body["message"] == "Invalid image file or mode for image 1, please check your image file."


def test_edit_on_gpt_image_1_mini_without_input_fidelity(azure: AzureOpenAI) -> None:
    result = azure.images.edit(model="gpt-image-1-mini", prompt="x",
                               image=("a.png", png((64, 64)), "image/png"))
    assert result.data and result.data[0].b64_json
    body = bad_request(lambda: azure.images.edit(model="gpt-image-1-mini", prompt="x", input_fidelity="high",
                                                 image=("a.png", png((64, 64)), "image/png")))
    assert (body["code"], body["param"]) == ("unknown_parameter", "input_fidelity")


def test_input_fidelity_on_gpt_image_2_per_service(azure: AzureOpenAI, emu: EmulatorHandle) -> None:
    edit = {"model": "gpt-image-2", "prompt": "x", "input_fidelity": "high",
            "image": ("a.png", png((1024, 1024)), "image/png")}
    assert azure.images.edit(**edit).data      # Azure's catalog: "supports high input_fidelity"
    with OpenAI(base_url=f"{emu.url}/v1", api_key=KEY, max_retries=0) as client:
        body = bad_request(lambda: client.images.edit(**edit))   # OpenAI: omit it for gpt-image-2
    assert (body["code"], body["param"]) == ("unsupported_parameter", "input_fidelity")


def test_content_filter(azure: AzureOpenAI, emu: EmulatorHandle) -> None:
    body = bad_request(lambda: azure.images.generate(model="gpt-image-1", prompt="a Forbidden thing"))
    assert body["code"] == "content_policy_violation"
    assert body["message"].startswith("Your request was rejected as a result of our safety system.")
    assert body["inner_error"]["code"] == "ResponsibleAIPolicyViolation"
    assert emu.records[-1].error_code == "content_policy_violation"


def test_wrong_key_is_401_with_azure_body(emu: EmulatorHandle) -> None:
    with AzureOpenAI(azure_endpoint=emu.url, api_key="wrong", api_version=API_VERSION,
                     max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as info:
            client.images.generate(model="gpt-image-1", prompt="x")
    assert info.value.status_code == 401
    assert info.value.body == {"code": "401", "message": (
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
        "key for an active subscription and use a correct regional API endpoint for your resource.")}
    assert "wrong" not in str(emu.records[-1])


def test_bearer_key_accepted(emu: EmulatorHandle) -> None:
    with OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=KEY, default_query=V1_QUERY,
                max_retries=0) as client:
        client.images.generate(model="gpt-image-1", prompt="x", quality="low")


def test_any_key_accepted_without_api_key_option() -> None:
    with run_emulator() as emu:
        ok = httpx.post(f"{emu.url}/openai/v1/images/generations?api-version=preview",
                          headers={"api-key": "whatever"},
                        json={"model": "gpt-image-1", "prompt": "x", "quality": "low"})
        missing = httpx.post(f"{emu.url}/openai/v1/images/generations?api-version=preview",
                             json={"model": "gpt-image-1", "prompt": "x"})
    assert ok.status_code == 200
    assert missing.status_code == 401


def test_unknown_deployment_is_404(azure: AzureOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        azure.images.generate(model="no-such-deployment", prompt="x")
    assert info.value.body == {"code": "DeploymentNotFound", "message": (
        "The API deployment for this resource does not exist. If you created the deployment within the last "
        "5 minutes, please wait a moment and try again.")}


def test_unknown_model_on_openai_path(emu: EmulatorHandle) -> None:
    with OpenAI(base_url=f"{emu.url}/v1", api_key=KEY, max_retries=0) as client:
        body = bad_request(lambda: client.images.generate(model="dall-e-9", prompt="x"))
    assert body["param"] == "model" and body["code"] == "invalid_value"


def test_missing_api_version(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/openai/deployments/gpt-image-1/images/generations",
                          headers={"api-key": KEY}, json={"prompt": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "MissingApiVersionParameter", "message": (
        "The api-version query parameter (?api-version=) is required for all requests.")}}


def test_unknown_path(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/openai/deployments/gpt-image-1/images/variations?api-version=1",
                          headers={"api-key": KEY}, json={})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_invalid_json(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/v1/images/generations", headers={"authorization": f"Bearer {KEY}"},
                          content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")


def test_missing_prompt(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/v1/images/generations", headers={"authorization": f"Bearer {KEY}"},
                          json={"model": "gpt-image-1"})
    assert response.json() == {"error": {"message": "Missing required parameter: 'prompt'.",
                                         "type": "invalid_request_error", "param": "prompt",
                                         "code": "missing_required_parameter"}}


def test_wrong_type_for_n(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/v1/images/generations", headers={"authorization": f"Bearer {KEY}"},
                          json={"model": "gpt-image-1", "prompt": "x", "n": "2"})
    assert response.json()["error"]["message"] == (
        "Invalid type for 'n': expected an integer, but got a string instead.")


def test_malformed_multipart_is_a_recorded_400(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/openai/v1/images/edits?api-version=preview", content=b"garbage",
                          headers={"api-key": KEY, "content-type": "multipart/form-data; boundary=zzz"})
    assert response.json() == {"error": {"message": "Invalid multipart body: Invalid multipart data.",
                                         "type": "invalid_request_error", "param": None,
                                         "code": "invalid_multipart"}}
    assert (emu.records[-1].status, emu.records[-1].error_code) == (400, "invalid_multipart")


def test_json_edit_is_refused(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/openai/v1/images/edits?api-version=preview",
                          headers={"api-key": KEY},
                          json={"model": "gpt-image-1", "prompt": "x"})
    assert response.json()["error"]["message"] == (
        "Invalid Content-Type header (application/json), expected multipart/form-data.")
