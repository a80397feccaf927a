"""The emulator driven by the official `openai` client, unchanged: successful calls."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import pytest
from openai import AzureOpenAI, OpenAI
from PIL import Image

from assetgen import catalog
from assetgen.emulator.testing import EmulatorHandle, run_emulator

API_VERSION = "2025-04-01-preview"
V1_QUERY = {"api-version": "preview"}    # Azure's v1 path has image operations in its preview flavour only
KEY = "test-key"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(api_key=KEY) as handle:
        yield handle


@pytest.fixture
def azure(emu: EmulatorHandle) -> Iterator[AzureOpenAI]:
    with AzureOpenAI(azure_endpoint=emu.url, api_key=KEY, api_version=API_VERSION, max_retries=0) as client:
        yield client


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_generate_two_landscape_images_with_table_usage(azure: AzureOpenAI, emu: EmulatorHandle) -> None:
    result = azure.images.generate(model="gpt-image-1", prompt="a red potion bottle", n=2, size="1536x1024",
                                   quality="medium")
    assert len(result.data) == 2
    images = [decode(item.b64_json) for item in result.data]
    assert [(img.format, img.size) for img in images] == [("PNG", (1536, 1024))] * 2
    assert images[0].tobytes() != images[1].tobytes()
    expected = catalog.get("gpt-image-1").output_tokens("1536x1024", "medium") * 2  # type: ignore[union-attr]
    assert result.usage is not None
    assert result.usage.output_tokens == expected == 3136
    assert result.usage.input_tokens_details.text_tokens == 6      # 4 words * 4/3, rounded up
    assert result.usage.total_tokens == expected + 6
    record = emu.records[-1]
    assert (record.path, record.deployment, record.model, record.status, record.op) == (
        "/openai/deployments/gpt-image-1/images/generations", "gpt-image-1", "gpt-image-1", 200, "generate")
    assert record.fields["prompt"] == "a red potion bottle"
    item = result.data[0].model_dump()
    assert item["content_filter_results"]["violence"] == {"filtered": False, "severity": "safe"}
    assert item["prompt_filter_results"]["jailbreak"] == {"detected": False, "filtered": False}


def test_jpeg_with_compression(azure: AzureOpenAI) -> None:
    result = azure.images.generate(model="gpt-image-1.5", prompt="a knight", size="1024x1536", quality="low",
                                   output_format="jpeg", output_compression=50)
    img = decode(result.data[0].b64_json)
    assert (img.format, img.size, img.mode) == ("JPEG", (1024, 1536), "RGB")


def test_transparent_png_has_clear_corners(azure: AzureOpenAI) -> None:
    result = azure.images.generate(model="gpt-image-1", prompt="an icon", quality="low",
                                   background="transparent", output_format="png")
    img = decode(result.data[0].b64_json)
    assert (img.format, img.size, img.mode) == ("PNG", (1024, 1024), "RGBA")
    assert img.getpixel((0, 0))[3] == 0
    assert img.getpixel((512, 512))[3] == 255


def test_opaque_png_has_no_alpha(azure: AzureOpenAI) -> None:
    img = decode(azure.images.generate(model="gpt-image-1", prompt="a sky", quality="low").data[0].b64_json)
    assert img.mode == "RGB"


def test_edit_with_image_list_and_mask_keeps_unmasked_pixels(azure: AzureOpenAI, emu: EmulatorHandle) -> None:
    base = Image.new("RGB", (1024, 1024), (10, 120, 30))
    logo = Image.new("RGB", (256, 256), (200, 0, 0))
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 1024, 400))    # the top band may change
    result = azure.images.edit(
        model="gpt-image-1", prompt="replace the sky with a storm", input_fidelity="high",
        image=[("base.png", png(base), "image/png"), ("logo.png", png(logo), "image/png")],
        mask=("mask.png", png(mask), "image/png"))
    out = decode(result.data[0].b64_json).convert("RGB")
    assert out.size == (1024, 1024)
    assert out.crop((0, 400, 1024, 1024)).tobytes() == base.crop((0, 400, 1024, 1024)).tobytes()
    assert out.crop((0, 0, 1024, 400)).tobytes() != base.crop((0, 0, 1024, 400)).tobytes()
    assert result.usage is not None
    assert result.usage.input_tokens_details.image_tokens == 2 * 4160
    assert result.usage.output_tokens == 4160
    record = emu.records[-1]
    assert record.fields["image[]"] == [
        {"filename": "base.png", "content_type": "image/png", "bytes": len(png(base))},
        {"filename": "logo.png", "content_type": "image/png", "bytes": len(png(logo))},
    ]
    assert record.fields["mask"]["filename"] == "mask.png"


def test_edit_single_image_field_and_auto_size(azure: AzureOpenAI) -> None:
    base = Image.new("RGB", (1536, 1024), (1, 2, 3))
    result = azure.images.edit(model="gpt-image-1.5", prompt="add a moon", quality="low",
                               image=("base.png", png(base), "image/png"))
    assert decode(result.data[0].b64_json).size == (1536, 1024)


def test_generation_stream_with_partials(azure: AzureOpenAI) -> None:
    stream = azure.images.generate(model="gpt-image-1", prompt="a castle", quality="low", stream=True,
                                   partial_images=2)
    events = list(stream)
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]   # type: ignore[union-attr]
    final = events[-1]
    assert decode(final.b64_json).size == (1024, 1024)
    assert final.usage.output_tokens == 272                       # type: ignore[union-attr]
    assert all(decode(e.b64_json).size == (1024, 1024) for e in events[:2])


def test_edit_stream_with_partials(azure: AzureOpenAI) -> None:
    base = Image.new("RGB", (1024, 1024), (9, 9, 9))
    stream = azure.images.edit(model="gpt-image-1", prompt="paint it", quality="low", stream=True,
                               partial_images=1, image=[("b.png", png(base), "image/png")])
    events = list(stream)
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert events[-1].usage.output_tokens == 272                  # type: ignore[union-attr]


def test_raw_sse_frames(emu: EmulatorHandle) -> None:
    response = httpx.post(f"{emu.url}/openai/v1/images/generations?api-version=preview",
                          headers={"api-key": KEY},
                          json={"model": "gpt-image-1", "prompt": "x", "quality": "low", "stream": True,
                                "partial_images": 0})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("event: image_generation.completed\ndata: {")
    assert response.text.endswith("}\n\n")
    assert "[DONE]" not in response.text


def test_dall_e_3_url_result_is_downloadable(azure: AzureOpenAI) -> None:
    result = azure.images.generate(model="dall-e-3", prompt="a lighthouse", size="1792x1024", quality="hd",
                                   style="natural")
    item = result.data[0]
    assert item.b64_json is None and item.url is not None
    assert item.revised_prompt == "a lighthouse"
    assert result.usage is None
    download = httpx.get(item.url)
    assert download.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(download.content))
    assert (img.format, img.size) == ("PNG", (1792, 1024))


def test_dall_e_3_b64_json(azure: AzureOpenAI) -> None:
    result = azure.images.generate(model="dall-e-3", prompt="a lighthouse", response_format="b64_json")
    assert decode(result.data[0].b64_json).size == (1024, 1024)


def test_openai_client_on_azure_v1_path(emu: EmulatorHandle) -> None:
    with OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=KEY, default_query=V1_QUERY,
                max_retries=0) as client:
        result = client.images.generate(model="gpt-image-1-mini", prompt="a tree", quality="low")
    assert decode(result.data[0].b64_json).size == (1024, 1024)
    assert emu.records[-1].path == "/openai/v1/images/generations"
    assert emu.records[-1].deployment == "gpt-image-1-mini"


def test_openai_client_on_v1_path_allows_webp_and_echoes_fields(emu: EmulatorHandle) -> None:
    with OpenAI(base_url=f"{emu.url}/v1", api_key=KEY, max_retries=0) as client:
        result = client.images.generate(model="gpt-image-1", prompt="a tree", quality="low",
                                        output_format="webp", size="1024x1536")
    assert decode(result.data[0].b64_json).format == "WEBP"
    assert (result.output_format, result.size, result.quality, result.background) == (
        "webp", "1024x1536", "low", "opaque")


def test_v1_path_ignores_fields_no_model_takes_whatever_their_type(emu: EmulatorHandle) -> None:
    with OpenAI(base_url=f"{emu.url}/v1", api_key=KEY, max_retries=0) as client:
        result = client.images.generate(model="gpt-image-1", prompt="a tree", quality="low",
                                         extra_body={"seed": 3, "tags": ["a"], "safety_identifier": "u1"})
    assert decode(result.data[0].b64_json).size == (1024, 1024)
    assert emu.records[-1].status == 200


def test_named_deployment_maps_to_model() -> None:
    with run_emulator(deployments=(("img15-prod", "gpt-image-1.5"),)) as emu:
        with AzureOpenAI(azure_endpoint=emu.url, api_key="any", api_version=API_VERSION,
                         max_retries=0) as client:
            client.images.generate(model="img15-prod", prompt="a cat", quality="low")
        assert (emu.records[-1].deployment, emu.records[-1].model) == ("img15-prod", "gpt-image-1.5")


def test_stats_endpoint(emu: EmulatorHandle) -> None:
    stats = httpx.get(f"{emu.url}/_emulator/stats").json()
    assert stats == emu.stats()
    assert stats["requests"] == len([r for r in emu.records if r.op])
    assert set(stats) == {"requests", "by_status", "by_deployment", "throttled", "faults", "generations",
                          "edits"}
