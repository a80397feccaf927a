"""An endpoint that does not accept connections is probed by one call at a time and given up for
all of them; one that comes back serves every call that waited for it; the provider says what its
calls wait for. Real providers against the real emulator over loopback (or a closed port)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from assetgen.emulator.testing import run_emulator
from assetgen.providers.azure import AzureProvider
from assetgen.providers.base import ImageRequest, ImageResult, NotSent, ProviderError
from assetgen.recipe.model import AzureConfig, Op, ProjectConfig

KEY = "sk-endpoint-test-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def azure(url: str, rpm: int = 6000) -> AzureProvider:
    config = ProjectConfig(azure=AzureConfig(endpoint=url, rpm=(("gpt-image-1.5", rpm),)))
    return AzureProvider.from_config(config, env={"AZURE_OPENAI_API_KEY": KEY})


def gen(prompt: str) -> ImageRequest:
    return ImageRequest(Op.GENERATE, "gpt-image-1.5", prompt, {"size": "1024x1024", "quality": "low"})


async def relay(port: int, target_port: int) -> asyncio.Server:
    """Listen on `port` and pass every connection through to `target_port`."""
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", port)


def test_an_endpoint_that_comes_back_serves_the_calls_that_waited_for_it() -> None:
    port = free_port()
    with run_emulator(api_key=KEY) as emu:
        emu_port = int(emu.url.rsplit(":", 1)[1])

        async def go() -> list[Any]:
            provider = azure(f"http://127.0.0.1:{port}")
            calls = [asyncio.ensure_future(provider.run(gen(f"tile {i}"))) for i in range(5)]
            # the endpoint comes back once the first attempt was refused (whenever that is on a
            # busy machine); one call probes again 0.25-0.5 s later
            while "cannot connect" not in provider.activity() and not any(c.done() for c in calls):
                await asyncio.sleep(0.01)
            server = await relay(port, emu_port)
            try:
                return await asyncio.gather(*calls, return_exceptions=True)
            finally:
                await provider.aclose()
                server.close()
                await asyncio.sleep(0.1)    # the relayed connections close

        results = asyncio.run(go())
        served = len(emu.records)
    assert all(isinstance(r, ImageResult) for r in results), results
    requests = sum(r.requests for r in results)
    refused = requests - served
    assert served == 5
    # the first refused attempt makes the others wait; one call probes, and the relay listens by then
    assert refused == 1, requests


def test_a_closed_port_is_given_up_after_four_attempts_for_every_call() -> None:
    port = free_port()

    async def go() -> tuple[list[Any], list[str]]:
        provider = azure(f"http://127.0.0.1:{port}", rpm=9)     # one slot every 6.7 s
        calls = [asyncio.ensure_future(provider.run(gen(f"tile {i}"))) for i in range(3)]
        seen: list[str] = []
        while not all(c.done() for c in calls):
            seen.append(provider.activity())
            await asyncio.sleep(0.05)
        await provider.aclose()
        return await asyncio.gather(*calls, return_exceptions=True), seen

    results, seen = asyncio.run(go())
    assert all(isinstance(r, ProviderError) for r in results), results
    assert [r.requests for r in results if isinstance(r, ProviderError)] == [4, 0, 0]
    assert len({str(r) for r in results}) == 1
    assert str(results[0]).startswith(
        f"cannot connect to 127.0.0.1:{port}, the Azure OpenAI endpoint http://127.0.0.1:{port} "
        f"(providers.azure.endpoint): connection refused; gave up after 4 attempts in ")
    waiting = [s for s in seen if "2 waiting for a quota slot" in s]
    assert any(f"cannot connect to 127.0.0.1:{port} (connection refused): attempt 2 of 4 in " in s
               for s in waiting), seen
    assert not any(isinstance(r, NotSent) for r in results)
