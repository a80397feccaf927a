"""The emulator's /v1/files and /v1/batches, driven by the official `openai` client: image batches
complete after --batch-delay, answer every line like the synchronous call, and fail lines alone."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "batch-key"
DELAY = 0.3


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(api_key=KEY, batch_delay=DELAY) as handle:
        yield handle


@pytest.fixture
def client(emu: EmulatorHandle) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{emu.url}/v1", api_key=KEY, max_retries=0) as c:
        yield c


def png(size: tuple[int, int] = (1024, 1024), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (20, 40, 60, 255) if mode == "RGBA" else (20, 40, 60)).save(buf, "PNG")
    return buf.getvalue()


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def gen(custom_id: str, prompt: str, **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/images/generations",
            "body": {"model": "gpt-image-1.5", "prompt": prompt, "quality": "low", **body}}


def finished(client: OpenAI, batch_id: str) -> Any:
    for _ in range(200):
        batch = client.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "cancelled", "expired"):
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not finish")


def lines_of(client: OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    rows = [json.loads(row) for row in client.files.content(file_id).text.splitlines()]
    return {row["custom_id"]: row for row in rows}


def decoded(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def test_generations_batch_completes_after_the_delay(client: OpenAI) -> None:
    lines = [gen(f"call-{i}", f"a potion number {i}") for i in range(5)]
    lines.append(gen("refused", "a forbidden relic"))
    lines.append(gen("bad-size", "a cat", size="999x999"))
    upload = client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    assert (upload.purpose, upload.bytes, upload.status) == ("batch", len(jsonl(lines)), "processed")
    started = time.monotonic()
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/images/generations",
                                  completion_window="24h", metadata={"run": "one"})
    assert batch.status == "validating" and batch.metadata == {"run": "one"}
    assert client.batches.retrieve(batch.id).status == "in_progress"
    done = finished(client, batch.id)
    assert time.monotonic() - started >= DELAY
    assert done.status == "completed"
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (7, 5, 2)
    ok = lines_of(client, done.output_file_id)
    assert set(ok) == {f"call-{i}" for i in range(5)}
    for row in ok.values():
        assert row["response"]["status_code"] == 200
        body = row["response"]["body"]
        assert decoded(body["data"][0]["b64_json"]).size == (1024, 1024)
        assert body["usage"]["output_tokens"] == 272
    failed = lines_of(client, done.error_file_id)
    assert failed["refused"]["response"]["status_code"] == 400
    assert failed["refused"]["response"]["body"]["error"]["code"] == "content_policy_violation"
    assert failed["bad-size"]["response"]["body"]["error"]["param"] == "size"


def test_edits_take_data_urls_and_file_ids(client: OpenAI) -> None:
    image = png()
    mask = png(mode="RGBA")
    stored = client.files.create(file=("base.png", image), purpose="vision")
    data_url = "data:image/png;base64," + base64.b64encode(image).decode()
    mask_url = "data:image/png;base64," + base64.b64encode(mask).decode()
    lines = [
        {"custom_id": "by-url", "method": "POST", "url": "/v1/images/edits",
         "body": {"model": "gpt-image-1.5", "prompt": "add a storm", "quality": "low",
                  "images": [{"image_url": data_url}], "mask": {"image_url": mask_url}}},
        {"custom_id": "by-file", "method": "POST", "url": "/v1/images/edits",
         "body": {"model": "gpt-image-1.5", "prompt": "add a storm", "quality": "low",
                  "input_fidelity": "high", "images": [{"file_id": stored.id}, {"image_url": data_url}]}},
        {"custom_id": "web-url", "method": "POST", "url": "/v1/images/edits",
         "body": {"model": "gpt-image-1.5", "prompt": "x", "images": [{"image_url": "https://example.com/a.png"}]}},
    ]
    upload = client.files.create(file=("edits.jsonl", jsonl(lines)), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/images/edits",
                                  completion_window="24h")
    done = finished(client, batch.id)
    ok = lines_of(client, done.output_file_id)
    assert decoded(ok["by-url"]["response"]["body"]["data"][0]["b64_json"]).size == (1024, 1024)
    usage = ok["by-file"]["response"]["body"]["usage"]
    assert usage["input_tokens_details"]["image_tokens"] == 2 * 4160
    assert lines_of(client, done.error_file_id)["web-url"]["response"]["body"]["error"]["code"] == (
        "invalid_image_url")


def test_list_pages_newest_first_and_cancel() -> None:
    with run_emulator(api_key=KEY, batch_delay=60) as slow, \
            OpenAI(base_url=f"{slow.url}/v1", api_key=KEY, max_retries=0) as client:
        upload = client.files.create(file=("in.jsonl", jsonl([gen("a", "a cat")])), purpose="batch")
        first, second = (client.batches.create(input_file_id=upload.id, endpoint="/v1/images/generations",
                                               completion_window="24h") for _ in range(2))
        page = client.batches.list(limit=1)
        assert [b.id for b in page.data] == [second.id] and page.has_more
        assert [b.id for b in client.batches.list(limit=1)] == [second.id, first.id]   # the client pages
        assert client.batches.cancel(second.id).status == "cancelled"
        assert client.batches.retrieve(second.id).output_file_id is None
        assert client.batches.retrieve(first.id).status == "in_progress"


def test_a_completed_batch_cannot_be_cancelled(client: OpenAI) -> None:
    upload = client.files.create(file=("in.jsonl", jsonl([gen("a", "a cat")])), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/images/generations",
                                  completion_window="24h")
    assert finished(client, batch.id).status == "completed"
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch.id)


def test_a_batch_that_fails_validation(client: OpenAI) -> None:
    lines = [gen("same", "a cat"), gen("same", "a dog"),
             {"custom_id": "wrong-url", "method": "POST", "url": "/v1/images/edits", "body": {}}]
    upload = client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/images/generations",
                                  completion_window="24h")
    done = client.batches.retrieve(batch.id)
    assert done.status == "failed"
    assert [(e.code, e.line) for e in done.errors.data] == [
        ("duplicate_custom_id", 2), ("mismatched_endpoint", 3)]


def test_refusals(client: OpenAI, emu: EmulatorHandle) -> None:
    upload = client.files.create(file=("in.jsonl", jsonl([gen("a", "a cat")])), purpose="user_data")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=upload.id, endpoint="/v1/images/generations",
                              completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")
    with OpenAI(base_url=f"{emu.url}/v1", api_key="wrong", max_retries=0) as other:
        with pytest.raises(openai.AuthenticationError):
            other.batches.list()


def test_batch_delay_option_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--batch-delay", "-1"]) == 2
    assert "--batch-delay must be a finite number of seconds" in capsys.readouterr().err
