"""Quota benchmark: M image calls against one deployment of the emulator at `--rpm R`.

Side by side in one run: assetgen's azure provider (paced per deployment, retries) and what a
user would otherwise write: the official `openai` SDK's AsyncAzureOpenAI with asyncio and a
semaphore of C, once with the SDK's default retries and once with `max_retries=10`. For each:
wall time against the ideal M/R minutes, requests sent, 429 answers and calls lost.

    .venv/bin/python bench/quota_bench.py [--calls 120] [--rpm 600] [--concurrency 16] [--latency 2]
                                          [--claimed 2400] [--only-assetgen] [--in-process]

`--claimed` is the quota the project file claims (default: the real one, `--rpm`); above the real
one, with no limit header (the Azure path), assetgen learns the real quota from the 429s.

The emulator runs as its own process (`assetgen emulator`), as the service does: in the client's
process (`--in-process`) it shares the client's interpreter lock, and decoding one answer delays
when the next request is counted, a jitter no real service adds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import openai

from assetgen import catalog
from assetgen.emulator.testing import run_emulator
from assetgen.providers.azure import AzureProvider
from assetgen.providers.base import ImageRequest, ProviderError
from assetgen.recipe.model import AzureConfig, Op, ProjectConfig

KEY = "bench-key"
DEPLOYMENT = "img15"
MODEL = "gpt-image-1.5"
API_VERSION = "2025-04-01-preview"
PARAMS = {"size": "1024x1024", "quality": "low"}


@dataclass(frozen=True)
class Row:
    name: str
    wall: float
    ok: int
    lost: int
    requests: int
    throttled: int


Runner = Callable[[str, int, int, int], Awaitable[tuple[int, int]]]
CLAIMED: list[int] = []      # the quota assetgen's project claims, when not the real one


async def assetgen_calls(url: str, calls: int, rpm: int, concurrency: int) -> tuple[int, int]:
    claimed = CLAIMED[0] if CLAIMED else rpm
    config = ProjectConfig(azure=AzureConfig(endpoint=url, deployments=((MODEL, DEPLOYMENT),),
                                             rpm=((DEPLOYMENT, claimed),)))
    provider = AzureProvider.from_config(config, env={"AZURE_OPENAI_API_KEY": KEY})
    gate = asyncio.Semaphore(concurrency)       # the executor's -j

    async def one(i: int) -> bool:
        async with gate:
            try:
                await provider.run(ImageRequest(Op.GENERATE, MODEL, f"potion {i}", PARAMS))
                return True
            except ProviderError:
                return False

    try:
        results = await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        await provider.aclose()
    return sum(results), calls - sum(results)


def sdk_runner(max_retries: int | None) -> Runner:
    async def run(url: str, calls: int, rpm: int, concurrency: int) -> tuple[int, int]:
        options = {} if max_retries is None else {"max_retries": max_retries}
        client = openai.AsyncAzureOpenAI(azure_endpoint=url, api_key=KEY, api_version=API_VERSION, **options)
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> bool:
            async with gate:
                try:
                    await client.images.generate(model=DEPLOYMENT, prompt=f"potion {i}", **PARAMS)
                    return True
                except openai.APIError:
                    return False

        try:
            results = await asyncio.gather(*(one(i) for i in range(calls)))
        finally:
            await client.close()
        return sum(results), calls - sum(results)

    return run


@contextlib.contextmanager
def emulator(args: argparse.Namespace) -> Iterator[tuple[str, Callable[[], dict[str, int]]]]:
    """The emulator's URL and a way to read its counts."""
    if args.in_process:
        with run_emulator(api_key=KEY, rpm=args.rpm, latency=args.latency,
                          deployments=((DEPLOYMENT, MODEL),)) as emu:
            yield emu.url, emu.stats
        return
    proc = subprocess.Popen([sys.executable, "-m", "assetgen", "emulator", "--port", "0", "--api-key", KEY,
                             "--rpm", str(args.rpm), "--latency", str(args.latency),
                             "--deployment", f"{DEPLOYMENT}={MODEL}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        found = re.search(r"serving on (http://\S+)", proc.stdout.readline())
        if found is None:
            raise RuntimeError("the emulator did not start")
        url = found.group(1)
        yield url, lambda: httpx.get(f"{url}/_emulator/stats").json()
    finally:
        proc.terminate()
        proc.wait()


def measure(name: str, runner: Runner, args: argparse.Namespace) -> Row:
    with emulator(args) as (url, stats):
        start = time.perf_counter()
        ok, lost = asyncio.run(runner(url, args.calls, args.rpm, args.concurrency))
        wall = time.perf_counter() - start
        counts = stats()
    return Row(name, wall, ok, lost, counts["requests"], counts["throttled"])


def table(rows: list[Row], ideal: float) -> str:
    head = (f"{'client':<48} {'wall s':>7} {'x ideal':>7} {'ok':>5} {'lost':>5} {'requests':>8} "
            f"{'429s':>5} {'429 %':>6} {'429/img':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        share = 100 * r.throttled / r.requests if r.requests else 0.0
        per_image = r.throttled / r.ok if r.ok else float("nan")
        lines.append(f"{r.name:<48} {r.wall:7.2f} {r.wall / ideal:7.3f} {r.ok:5d} {r.lost:5d} "
                     f"{r.requests:8d} {r.throttled:5d} {share:6.2f} {per_image:7.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=120, help="M: image calls (default 120)")
    parser.add_argument("--rpm", type=int, default=600, help="R: the deployment's quota (default 600)")
    parser.add_argument("--concurrency", type=int, default=16, help="C: calls in flight (default 16)")
    parser.add_argument("--latency", type=float, default=1.0,
                        help="emulator seconds per 1,000 output tokens (default 1: 0.27 s per low image)")
    parser.add_argument("--claimed", type=int, default=None,
                        help="the rpm assetgen's project claims (default: the real one)")
    parser.add_argument("--only-assetgen", action="store_true", help="skip the openai SDK rows")
    parser.add_argument("--in-process", action="store_true",
                        help="run the emulator in this process (a thread) instead of its own")
    args = parser.parse_args()
    if args.claimed:
        CLAIMED.append(args.claimed)
    ideal = args.calls / args.rpm * 60
    latency = args.latency * catalog.get(MODEL).output_tokens(PARAMS["size"], PARAMS["quality"]) / 1000
    floor = (args.calls - 1) / args.rpm * 60 + latency
    print(f"{args.calls} calls, {args.rpm} RPM (enforced over 1 s / 10 s / 60 s windows), "
          f"C={args.concurrency}, {latency:.2f} s per image; ideal M/R {ideal:.2f} s; "
          f"evenly spaced floor (M-1)/R + latency {floor:.2f} s ({floor / ideal:.3f} x ideal)")
    claim = f", project says {args.claimed} RPM" if args.claimed else ""
    rows = [measure(f"assetgen azure provider{claim}", assetgen_calls, args)]
    if not args.only_assetgen:
        rows += [measure("openai SDK, default retries", sdk_runner(None), args),
                 measure("openai SDK, max_retries=10", sdk_runner(10), args)]
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} on {os.cpu_count()} CPUs")
    print(table(rows, ideal))


if __name__ == "__main__":
    main()
