"""Several deployments benchmark: M image calls over D emulated deployments of one model at R RPM
each, through assetgen's azure provider (one pacer per deployment; each call to the deployment
whose slot is free first), against the same calls on one deployment.

    .venv/bin/python bench/deployments_bench.py [--calls 240] [--rpm 600] [--deployments 2] [--runs 3]

The clock starts when the provider exists and the emulator has drawn the prompt's image once (on a
deployment of its own, outside the quotas measured): what is timed is the calls. Each run prints
the wall time, this process's CPU time, the emulator's CPU time and the load average (1 min) at
its end, for a machine that is shared.

Target (issue 14): 240 calls over two deployments of 600 RPM in <= 1.05 x 12 s, 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from assetgen.providers.azure import AzureProvider
from assetgen.providers.base import ImageRequest, ProviderError
from assetgen.recipe.model import AzureConfig, DeploymentSpec, Op, ProjectConfig

KEY = "bench-key"
MODEL = "gpt-image-1.5"
PARAMS = {"size": "1024x1024", "quality": "low"}
# one prompt: the emulator draws it once and answers from memory, so its drawing (in this process)
# does not limit the rate measured
PROMPT = "a potion bottle"


WARM = "warm"       # a deployment outside the measured ones: the emulator draws the image there first


def provider(url: str, names: list[str], rpm: int) -> AzureProvider:
    config = ProjectConfig(azure=AzureConfig(
        endpoint=url, deployments=((MODEL, names[0]),), rpm=tuple((n, rpm) for n in names),
        pools=((MODEL, tuple(DeploymentSpec(n) for n in names)),)))
    return AzureProvider.from_config(config, env={"AZURE_OPENAI_API_KEY": KEY})


async def warm(url: str) -> None:
    """One call on the WARM deployment: the emulator draws the prompt's image once."""
    first = provider(url, [WARM], 60)
    try:
        await first.run(ImageRequest(Op.GENERATE, MODEL, PROMPT, PARAMS))
    finally:
        await first.aclose()


async def calls(url: str, names: list[str], count: int, rpm: int, concurrency: int) -> tuple[int, int, float]:
    """(ok, lost, seconds from the first call's start to the last one's end)."""
    await warm(url)
    azure = provider(url, names, rpm)
    gate = asyncio.Semaphore(concurrency)       # the executor's -j

    async def one(i: int) -> bool:
        async with gate:
            try:
                await azure.run(ImageRequest(Op.GENERATE, MODEL, PROMPT, PARAMS))
                return True
            except ProviderError:
                return False

    try:
        start = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(count)))
        wall = time.perf_counter() - start
    finally:
        await azure.aclose()
    return sum(results), count - sum(results), wall


@contextlib.contextmanager
def emulator(names: list[str], args: argparse.Namespace, log: Path) -> Iterator[str]:
    """`assetgen emulator` in its own process (its drawing and HTTP do not share this one's GIL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "assetgen", "emulator", "--port", str(port), "--api-key", KEY,
            "--rpm", str(args.rpm), "--latency", str(args.latency), "--log", str(log)]
    for name in [*names, WARM]:
        argv += ["--deployment", f"{name}={MODEL}"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(deployments: int, args: argparse.Namespace) -> tuple[float, str]:
    names = [f"img15-{chr(ord('a') + i)}" for i in range(deployments)]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.jsonl"
        with emulator(names, args, log) as url:
            cpu = time.process_time()
            ok, lost, wall = asyncio.run(calls(url, names, args.calls, args.rpm, args.concurrency))
            cpu = time.process_time() - cpu
            load = os.getloadavg()[0]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    emulator_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    lines = [r for r in lines if r.get("deployment") != WARM]
    stats = {"requests": len(lines), "throttled": sum(r.get("status") == 429 for r in lines)}
    served = Counter(r.get("deployment") for r in lines if r.get("status") == 200)
    ideal = args.calls / (args.rpm * deployments) * 60
    split = ", ".join(f"{n} {served[n]}" for n in names)
    return wall / ideal, (f"{deployments} x {args.rpm} RPM: {wall:6.2f} s ({wall / ideal:.3f} x ideal "
                          f"{ideal:.1f} s), ok {ok}, lost {lost}, requests {stats['requests']}, "
                          f"429s {stats['throttled']}; served: {split}; CPU {cpu:.2f} s (emulator "
                          f"{emulator_cpu:.2f} s); load {load:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=240, help="M: image calls (default 240)")
    parser.add_argument("--rpm", type=int, default=600, help="R: each deployment's quota (default 600)")
    parser.add_argument("--deployments", type=int, default=2, help="D: deployments of the model (default 2)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight, as -j (default 16)")
    parser.add_argument("--latency", type=float, default=1.0,
                        help="emulator seconds per 1,000 output tokens (default 1: 0.27 s per low image)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each (default 1); medians at the end")
    parser.add_argument("--only-several", action="store_true", help="skip the one-deployment comparison")
    args = parser.parse_args()
    print(f"{args.calls} calls of {MODEL} {PARAMS['size']} {PARAMS['quality']}, -j {args.concurrency}, "
          f"{os.cpu_count()} CPUs")
    counts = [args.deployments] if args.only_several else [args.deployments, 1]
    ratios: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(args.runs):
        for n in counts:
            ratio, line = measure(n, args)
            ratios[n].append(ratio)
            print(line, flush=True)
    if args.runs > 1:
        for n, found in ratios.items():
            print(f"{n} deployment(s): median {statistics.median(found):.3f} x ideal, "
                  f"range {min(found):.3f}-{max(found):.3f} over {len(found)} runs")


if __name__ == "__main__":
    main()
