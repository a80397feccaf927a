"""The emulator's Responses API with the image_generation tool, driven by the official `openai`
client: `/v1/responses` (OpenAI) and `/openai/v1/responses` (Azure, with the deployment header)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import openai
import pytest
from PIL import Image

from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "responses-key-2718"
HEADER = "x-ms-oai-image-generation-deployment"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    deployments = (("img15", "gpt-image-1.5"), ("img2", "gpt-image-2"))
    with run_emulator(api_key=KEY, deployments=deployments) as handle:
        yield handle


def png(data: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(data)))
    img.load()
    return img


def data_url(img: Image.Image) -> str:
    out = io.BytesIO()
    img.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def test_a_generation_answers_an_image_call_with_both_usages(emu: EmulatorHandle) -> None:
    with openai.OpenAI(base_url=f"{emu.url}/v1", api_key=KEY) as client:
        response = client.responses.create(
            model="gpt-5.1", input="A round blue robot", tool_choice={"type": "image_generation"},
            tools=[{"type": "image_generation", "model": "gpt-image-1.5", "size": "1536x1024",
                    "quality": "low"}])
    calls = [item for item in response.output if item.type == "image_generation_call"]
    assert response.status == "completed" and len(calls) == 1 and calls[0].status == "completed"
    assert png(calls[0].result or "").size == (1536, 1024)
    assert response.usage is not None and response.usage.input_tokens > 0
    assert response.tool_usage is not None and response.tool_usage.image_gen.output_tokens > 0


def test_an_edit_turn_starts_from_the_input_image(emu: EmulatorHandle) -> None:
    start = Image.new("RGB", (1024, 1024), (10, 200, 30))
    with openai.OpenAI(base_url=f"{emu.url}/v1", api_key=KEY) as client:
        response = client.responses.create(
            model="gpt-5.1",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "A robot"}]},
                   {"role": "user", "content": [{"type": "input_text", "text": "Make it wave"},
                                                {"type": "input_image", "image_url": data_url(start)}]}],
            tools=[{"type": "image_generation", "model": "gpt-image-1.5", "action": "edit"}])
    record = emu.records[-1]
    assert (record.op, record.fields["turns"], record.fields["input_images"]) == ("edit", 2, 1)
    result = png(next(i for i in response.output if i.type == "image_generation_call").result or "")
    assert result.size == (1024, 1024)


def test_streaming_sends_the_tool_events_with_partial_images(emu: EmulatorHandle) -> None:
    with openai.OpenAI(base_url=f"{emu.url}/v1", api_key=KEY) as client:
        events = list(client.responses.create(
            model="gpt-5.1", input="A robot", stream=True,
            tools=[{"type": "image_generation", "model": "gpt-image-1.5", "partial_images": 2}]))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds.count("response.image_generation_call.partial_image") == 2
    assert kinds[-3:] == ["response.image_generation_call.completed", "response.output_item.done",
                          "response.completed"]
    partials = [e for e in events if e.type == "response.image_generation_call.partial_image"]
    assert [p.partial_image_index for p in partials] == [0, 1]
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_azure_takes_the_image_deployment_from_its_header(emu: EmulatorHandle) -> None:
    with openai.OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=KEY) as client:
        tools: list = [{"type": "image_generation"}]
        response = client.responses.create(model="chat51", input="A robot", tools=tools,
                                           extra_headers={HEADER: "img15"})
        assert response.output[0].type == "image_generation_call"
        assert (emu.records[-1].deployment, emu.records[-1].model) == ("img15", "gpt-image-1.5")
        with pytest.raises(openai.BadRequestError, match="x-ms-oai-image-generation-deployment"):
            client.responses.create(model="chat51", input="A robot", tools=[{"type": "image_generation"}])
        with pytest.raises(openai.BadRequestError, match="Streaming is not supported"):
            client.responses.create(model="chat51", input="A robot", stream=True,
                                    tools=[{"type": "image_generation"}], extra_headers={HEADER: "img15"})
        with pytest.raises(openai.BadRequestError, match="gpt-image-2"):   # only gpt-image-1 series on Azure
            client.responses.create(model="chat51", input="A robot",
                                    tools=[{"type": "image_generation"}], extra_headers={HEADER: "img2"})
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model="chat51", input="A robot",
                                    tools=[{"type": "image_generation"}], extra_headers={HEADER: "nope"})


def test_the_content_filter_refuses_the_turn() -> None:
    with run_emulator(api_key=KEY, block_word="forbidden") as handle:
        with openai.OpenAI(base_url=f"{handle.url}/v1", api_key=KEY) as client:
            with pytest.raises(openai.BadRequestError) as refused:
                client.responses.create(model="gpt-5.1", input="A forbidden relic",
                                        tools=[{"type": "image_generation"}])
    assert refused.value.code == "content_policy_violation"
