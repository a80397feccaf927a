"""Quota (429 and the client's own retry), injected faults, latency, the request log."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from openai import AzureOpenAI

from assetgen.emulator.faults import Fault, FaultInjector
from assetgen.emulator.quota import Quota
from assetgen.emulator.testing import run_emulator

API_VERSION = "2025-04-01-preview"
V1_GENERATIONS = "/openai/v1/images/generations?api-version=preview"
V1_EDITS = "/openai/v1/images/edits?api-version=preview"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_quota_short_windows() -> None:
    clock = FakeClock()
    quota = Quota(rpm=120, clock=clock)            # 2 per 1 s, 20 per 10 s, 120 per 60 s
    first, second, third = (quota.check("d") for _ in range(3))
    assert (first.allowed, first.remaining) == (True, 1)
    assert (second.allowed, second.remaining) == (True, 0)
    assert (third.allowed, third.retry_after) == (False, 1.0)
    assert third.headers() == {"x-ratelimit-remaining-requests": "0", "retry-after": "1",
                               "retry-after-ms": "1000"}         # Azure's set
    assert third.headers(limit=True)["x-ratelimit-limit-requests"] == "120"   # OpenAI's adds the RPM
    assert quota.check("other").allowed                # per deployment
    clock.now += 0.25
    assert quota.check("d").retry_after == 0.75
    clock.now += 0.75
    assert quota.check("d").allowed


def test_quota_ten_second_window() -> None:
    clock = FakeClock()
    quota = Quota(rpm=9, clock=clock)               # 1 per 1 s, 2 per 10 s, 9 per 60 s
    assert quota.check("d").allowed
    clock.now += 1
    assert quota.check("d").allowed
    clock.now += 1
    refused = quota.check("d")
    assert (refused.allowed, refused.retry_after) == (False, 8.0)
    assert refused.headers()["retry-after"] == "8"


def test_faults_are_reproducible_with_a_seed() -> None:
    draws = [FaultInjector(0.2, seed=1).draw() for _ in range(1)]
    first = FaultInjector(0.2, seed=1)
    second = FaultInjector(0.2, seed=1)
    sequence = [first.draw() for _ in range(200)]
    assert sequence == [second.draw() for _ in range(200)]
    assert 20 <= sum(d is not None for d in sequence) <= 60
    assert {d for d in sequence if d is not None} == set(Fault)
    assert draws[0] == sequence[0]
    assert FaultInjector(0.0, seed=1).draw() is None


def test_429_then_client_retry_succeeds() -> None:
    with run_emulator(rpm=60) as emu:                 # 1 request per second per deployment
        with AzureOpenAI(azure_endpoint=emu.url, api_key="k", api_version=API_VERSION, max_retries=0) as once:
            ok = once.images.with_raw_response.generate(model="gpt-image-1", prompt="x", quality="low")
            assert ok.headers["x-ratelimit-remaining-requests"] == "0"
            with pytest.raises(openai.RateLimitError) as info:
                once.images.generate(model="gpt-image-1", prompt="x", quality="low")
        headers = info.value.response.headers
        assert headers["retry-after"] == "1"
        assert 0 < int(headers["retry-after-ms"]) <= 1000
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert info.value.body["code"] == "429"  # type: ignore[index]
        assert info.value.body["message"].startswith(  # type: ignore[index]
            "Requests to the ImageGenerations_Create Operation under Azure OpenAI API version "
            "2025-04-01-preview have exceeded call rate limit")
        with AzureOpenAI(azure_endpoint=emu.url, api_key="k", api_version=API_VERSION,
                         max_retries=2) as retry:
            retry.images.generate(model="gpt-image-1", prompt="x", quality="low")
        statuses = [r.status for r in emu.records]
        assert statuses[:2] == [200, 429] and statuses[-1] == 200
        assert emu.stats()["throttled"] == statuses.count(429) >= 1


def test_client_with_retries_completes_100_requests_under_faults() -> None:
    with run_emulator(fault_rate=0.2, seed=1) as emu:
        with AzureOpenAI(azure_endpoint=emu.url, api_key="k", api_version=API_VERSION,
                         max_retries=8) as client:
            def one(i: int) -> int:
                result = client.images.generate(model="gpt-image-1-mini", prompt="a crate", quality="low")
                return len(result.data)

            with ThreadPoolExecutor(max_workers=10) as pool:
                assert sum(pool.map(one, range(100))) == 100
        stats = emu.stats()
    assert stats["generations"] == 100
    assert stats["faults"] >= 5
    assert stats["requests"] == 100 + stats["faults"]
    assert stats["by_status"].get("0", 0) >= 1        # dropped connections, retried by the client


def test_dropped_connection_is_a_connection_error_for_the_client() -> None:
    with run_emulator(fault_rate=1.0, seed=3) as emu:
        with AzureOpenAI(azure_endpoint=emu.url, api_key="k", api_version=API_VERSION,
                         max_retries=0) as client:
            for _ in range(10):
                try:
                    client.images.generate(model="gpt-image-1", prompt="x")
                except openai.APIConnectionError:
                    break
                except openai.InternalServerError:
                    continue
            else:
                pytest.fail("no dropped connection in 10 faulty requests")
        assert emu.records[-1].fault == "drop" and emu.records[-1].status == 0


def test_fault_statuses() -> None:
    with run_emulator(fault_rate=1.0, seed=0) as emu:
        seen = set()
        for _ in range(12):
            try:
                response = httpx.post(f"{emu.url}/openai/v1/images/generations?api-version=preview",
                          headers={"api-key": "k"},
                                      json={"model": "gpt-image-1", "prompt": "x"})
            except httpx.TransportError:
                continue
            seen.add((response.status_code, response.json()["error"]["code"]))
        assert seen == {(500, "InternalServerError"), (503, "ServiceUnavailable")}
        assert emu.stats()["faults"] == 12


def test_slow_request_does_not_block_others() -> None:
    with run_emulator(latency=0.25) as emu:    # 0.25 s per 1,000 output tokens: high 1024x1024 = 1.04 s
        with httpx.Client(base_url=emu.url, headers={"api-key": "k"}, timeout=30) as client:
            with ThreadPoolExecutor(max_workers=2) as pool:
                slow = pool.submit(client.post, V1_GENERATIONS,
                                   json={"model": "gpt-image-1", "prompt": "slow", "quality": "high"})
                fast = client.post(V1_GENERATIONS,
                                   json={"model": "gpt-image-1", "prompt": "fast", "quality": "low"})
                assert fast.status_code == 200
                assert not slow.done()               # the fast one finished while the slow one sleeps
                assert slow.result().status_code == 200


def test_log_file_has_json_lines_without_image_bytes_or_keys(tmp_path: Path) -> None:
    log = tmp_path / "emulator.jsonl"
    with run_emulator(log=log, api_key="very-secret") as emu:
        with httpx.Client(base_url=emu.url, headers={"api-key": "very-secret"}) as client:
            client.post(V1_GENERATIONS, json={"model": "gpt-image-1", "prompt": "p",
                                                               "quality": "low"})
            client.post(V1_EDITS, data={"model": "gpt-image-1", "prompt": "e"},
                        files={"image[]": ("a.png", b"\x89PNG-not-really", "image/png")})
    text = log.read_text()
    assert "very-secret" not in text and "PNG-not-really" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(x["path"], x["status"], x["deployment"]) for x in lines] == [
        ("/openai/v1/images/generations", 200, "gpt-image-1"),
        ("/openai/v1/images/edits", 400, "gpt-image-1"),
    ]
    assert lines[1]["fields"]["image[]"] == [{"filename": "a.png", "content_type": "image/png", "bytes": 15}]
    assert set(lines[0]) >= {"time", "method", "path", "deployment", "model", "status", "fields"}


def test_identical_requests_that_arrive_together_draw_the_image_once() -> None:
    from assetgen.emulator import images

    before = images._drawn.cache_info().misses
    args = (64, 48, "a burst of one prompt", "gpt-image-1.5", False, "png", None)
    with ThreadPoolExecutor(max_workers=8) as pool:
        drawn = list(pool.map(lambda _: images._generated(*args), range(16)))
    assert len(set(drawn)) == 1
    assert images._drawn.cache_info().misses - before == 1
