"""The wire helpers: request bodies, response and SSE parsing, error classification from the
real error bodies of reference section 6."""

from __future__ import annotations

import base64
import json

import pytest

from assetgen.providers import http
from assetgen.providers.base import InputImage
from assetgen.providers.http import ErrorKind

PNG = b"\x89PNG\r\n\x1a\nfake"


def _b(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_json_body_holds_only_what_was_set() -> None:
    body = http.json_body("img15", "a cat", {"size": "1024x1024", "quality": None, "n": 1})
    assert body == {"model": "img15", "prompt": "a cat", "n": 1, "size": "1024x1024"}


def test_json_body_streams_with_partial_images() -> None:
    body = http.json_body(None, "a cat", {}, partial_images=2)
    assert body == {"prompt": "a cat", "stream": True, "partial_images": 2}


def test_multipart_fields_are_text_and_files_follow_in_order() -> None:
    fields = http.multipart_fields("d", "p", {"n": 2, "input_fidelity": "high"}, partial_images=1)
    assert fields == {"model": "d", "prompt": "p", "input_fidelity": "high", "n": "2",
                      "stream": "true", "partial_images": "1"}
    files = http.multipart_files(
        [InputImage("a.png", PNG, "image/png"), InputImage("c.jpg", b"j", "image/jpeg")],
        InputImage("m.png", PNG, "image/png"))
    assert files == [("image[]", ("a.png", PNG, "image/png")), ("image[]", ("c.jpg", b"j", "image/jpeg")),
                     ("mask", ("m.png", PNG, "image/png"))]


def test_parse_images_reads_b64_urls_usage_and_revised_prompt() -> None:
    payload = {"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()},
                                      {"url": "http://x/y.png", "revised_prompt": "better"}],
               "usage": {"total_tokens": 5}}
    images = http.parse_images(payload)
    assert images == http.Images((PNG,), ("http://x/y.png",), {"total_tokens": 5}, "better")


def test_parse_images_without_data_is_an_error() -> None:
    with pytest.raises(ValueError, match="the answer has no 'data' list"):
        http.parse_images({"created": 1})


def test_sse_parser_ignores_event_lines_and_stops_at_done() -> None:
    parser = http.SseParser()
    lines = ["event: image_generation.partial_image", 'data: {"type":"a.partial_image","x":1}', "",
             "event: whatever", 'data: {"type":"a.completed"}', "", "data: [DONE]", "",
             'data: {"type":"late"}', ""]
    events = [e for line in lines for e in parser.feed(line)] + list(parser.close())
    assert [e["type"] for e in events] == ["a.partial_image", "a.completed"]
    assert http.stream_event(events[0]).is_partial and http.stream_event(events[1]).is_completed


def test_sse_parser_flushes_a_last_event_without_blank_line() -> None:
    parser = http.SseParser()
    assert list(parser.feed('data: {"type":"x.completed"}')) == []
    assert list(parser.close()) == [{"type": "x.completed"}]


def test_retry_after_prefers_milliseconds() -> None:
    assert http.retry_after({"retry-after-ms": "1500", "retry-after": "2"}) == 1.5
    assert http.retry_after({"Retry-After": "3"}) == 3.0
    assert http.retry_after({"retry-after": "Sun, 22 Nov 2026 05:00:10 GMT"},
                            now=1795323600.0) == 10.0
    assert http.retry_after({}) is None


AZURE_FILTER = {"error": {"code": "content_policy_violation", "inner_error": {
    "code": "ResponsibleAIPolicyViolation",
    "content_filter_results": {"jailbreak": {"detected": False, "filtered": False}}},
    "message": "Your request was rejected as a result of our safety system. Your prompt may contain text "
               "that is not allowed by our safety system.", "type": "invalid_request_error"}}


@pytest.mark.parametrize("body", [
    AZURE_FILTER,
    {"created": 1698435368, "error": {"code": "contentFilter",
                                      "message": "Your task failed as a result of our safety system."}},
    {"error": {"code": "moderation_blocked", "type": "image_generation_user_error", "param": "",
               "message": "Your request was rejected by the safety system."}},
    {"error": {"code": "400", "message": "rejected",
               "inner_error": {"code": "ResponsibleAIPolicyViolation"}}},
])
def test_every_content_filter_shape_is_filtered(body: dict) -> None:
    failure = http.classify(400, {}, _b(body))
    assert failure.kind is ErrorKind.FILTERED


def test_bad_parameter_is_invalid_and_names_the_param() -> None:
    body = {"error": {"message": "Unknown parameter: 'extra_body'.", "type": "invalid_request_error",
                      "param": "extra_body", "code": "unknown_parameter"}}
    failure = http.classify(400, {}, _b(body))
    assert (failure.kind, failure.param) == (ErrorKind.INVALID, "extra_body")
    assert failure.code == "unknown_parameter"
    assert failure.message == "Unknown parameter: 'extra_body'."


@pytest.mark.parametrize(("status", "kind"), [
    (401, ErrorKind.CREDENTIALS), (403, ErrorKind.CREDENTIALS), (404, ErrorKind.NOT_FOUND),
    (429, ErrorKind.RATE_LIMITED), (408, ErrorKind.TRANSIENT), (409, ErrorKind.TRANSIENT),
    (500, ErrorKind.TRANSIENT), (503, ErrorKind.TRANSIENT), (418, ErrorKind.OTHER),
])
def test_status_classes(status: int, kind: ErrorKind) -> None:
    assert http.classify(status, {}, b"").kind is kind


def test_deployment_not_found_keeps_its_code() -> None:
    body = {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does "
                      "not exist."}}
    failure = http.classify(404, {}, _b(body))
    assert (failure.kind, failure.code) == (ErrorKind.NOT_FOUND, "DeploymentNotFound")


def test_rate_limit_carries_retry_after() -> None:
    headers = {"retry-after-ms": "250", "retry-after": "1"}
    failure = http.classify(429, headers, _b({"error": {"code": "429"}}))
    assert (failure.kind, failure.retry_after) == (ErrorKind.RATE_LIMITED, 0.25)


def test_a_body_that_is_not_json_becomes_the_message() -> None:
    failure = http.classify(502, {}, b"<html>Bad Gateway</html>")
    assert (failure.kind, failure.message) == (ErrorKind.TRANSIENT, "<html>Bad Gateway</html>")


def test_stream_error_object_is_classified() -> None:
    blocked = http.classify_stream_error({"code": "moderation_blocked", "message": "no"})
    assert blocked.kind is ErrorKind.FILTERED
    assert http.classify_stream_error({"code": "x", "message": "no"}).kind is ErrorKind.INVALID
