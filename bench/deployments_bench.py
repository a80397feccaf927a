"""Several deployments benchmark: M image calls over D emulated deployments of one model at R RPM
each, through assetgen's azure provider (one pacer per deployment; each call to the deployment
whose slot is free first), against the same calls on one deployment.

    .venv/bin/python bench/deployments_bench.py [--calls 240] [--rpm 600] [--deployments 2]

Target (issue 14): 240 calls over two deployments of 600 RPM in <= 1.05 x 12 s, 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
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


async def calls(url: str, names: list[str], count: int, rpm: int, concurrency: int) -> tuple[int, int]:
    config = ProjectConfig(azure=AzureConfig(
        endpoint=url, deployments=((MODEL, names[0]),), rpm=tuple((n, rpm) for n in names),
        pools=((MODEL, tuple(DeploymentSpec(n) for n in names)),)))
    provider = AzureProvider.from_config(config, env={"AZURE_OPENAI_API_KEY": KEY})
    gate = asyncio.Semaphore(concurrency)       # the executor's -j

    async def one(i: int) -> bool:
        async with gate:
            try:
                await provider.run(ImageRequest(Op.GENERATE, MODEL, PROMPT, PARAMS))
                return True
            except ProviderError:
                return False

    try:
        results = await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        await provider.aclose()
    return sum(results), count - sum(results)


@contextlib.contextmanager
def emulator(names: list[str], args: argparse.Namespace, log: Path) -> Iterator[str]:
    """`assetgen emulator` in its own process (its drawing and HTTP do not share this one's GIL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "assetgen", "emulator", "--port", str(port), "--api-key", KEY,
            "--rpm", str(args.rpm), "--latency", str(args.latency), "--log", str(log)]
    for name in names:
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


def measure(deployments: int, args: argparse.Namespace) -> str:
    names = [f"img15-{chr(ord('a') + i)}" for i in range(deployments)]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.jsonl"
        with emulator(names, args, log) as url:
            start = time.perf_counter()
            ok, lost = asyncio.run(calls(url, names, args.calls, args.rpm, args.concurrency))
            wall = time.perf_counter() - start
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    stats = {"requests": len(lines), "throttled": sum(r.get("status") == 429 for r in lines)}
    served = Counter(r.get("deployment") for r in lines if r.get("status") == 200)
    ideal = args.calls / (args.rpm * deployments) * 60
    split = ", ".join(f"{n} {served[n]}" for n in names)
    return (f"{deployments} x {args.rpm} RPM: {wall:6.2f} s ({wall / ideal:.3f} x ideal {ideal:.1f} s), "
            f"ok {ok}, lost {lost}, requests {stats['requests']}, 429s {stats['throttled']}; served: {split}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=240, help="M: image calls (default 240)")
    parser.add_argument("--rpm", type=int, default=600, help="R: each deployment's quota (default 600)")
    parser.add_argument("--deployments", type=int, default=2, help="D: deployments of the model (default 2)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight, as -j (default 16)")
    parser.add_argument("--latency", type=float, default=1.0,
                        help="emulator seconds per 1,000 output tokens (default 1: 0.27 s per low image)")
    args = parser.parse_args()
    print(f"{args.calls} calls of {MODEL} {PARAMS['size']} {PARAMS['quality']}, -j {args.concurrency}")
    print(measure(args.deployments, args))
    print(measure(1, args))


if __name__ == "__main__":
    main()
