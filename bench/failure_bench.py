"""How fast and how briefly a build fails when the service cannot be used.

    .venv/bin/python bench/failure_bench.py

Builds the example project (16 calls at the catalog's quota of 9 a minute) with the azure provider
in a fresh copy, as a new user would, in four ways: an endpoint on a loopback port nobody listens
on, one whose listener never accepts (its backlog is full, so connection attempts get no answer, as
from a host that drops them), a host name that does not resolve, and no key with no Entra ID
sign-in. Prints, for each, the wall time to exit, the requests the build counted, and the lines it
wrote to stdout and stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "recipes"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def silent_port() -> tuple[int, list[socket.socket]]:
    """A loopback port whose listener accepts nothing: with its backlog full, a connection attempt
    gets no answer until it times out. Keep the sockets open while it is used."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    held = [server]
    for _ in range(3):
        client = socket.socket()
        client.setblocking(False)
        try:
            client.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        held.append(client)
    time.sleep(0.2)
    return port, held


def run(root: Path, env: dict[str, str], *args: str) -> tuple[float, int, str, str]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "assetgen", "build", str(root), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    return time.monotonic() - start, proc.returncode, proc.stdout, proc.stderr


def case(name: str, extra_env: dict[str, str], drop: tuple[str, ...] = ()) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", ".assetgen", "assetgen.lock"))
        text = (root / "assetgen.yaml").read_text().replace("provider: local", "provider: azure")
        (root / "assetgen.yaml").write_text(text)
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(extra_env)
        seconds, code, out, err = run(root, env, "--json")
        summary = json.loads(out)
        _, _, text_out, text_err = run(root, env)
    print(f"{name:<28} exit {code}  {seconds:5.1f} s  {summary['requests']:>2} requests  "
          f"{len(summary['failures']):>2} assets failed  text output: {len(text_out.splitlines())} lines "
          f"on stdout, {len(text_err.splitlines())} on stderr")


def main() -> None:
    key = {"AZURE_OPENAI_API_KEY": "bench-key"}
    case("closed loopback port", {**key, "AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{closed_port()}"})
    port, held = silent_port()
    case("silent port (no answer)", {**key, "AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{port}"})
    for sock in held:
        sock.close()
    case("unknown host", {**key, "AZURE_OPENAI_ENDPOINT": "https://no-such-resource.invalid"})
    case("no key, no Entra ID", {"AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
                                 "AZURE_TOKEN_CREDENTIALS": "dev"}, drop=("AZURE_OPENAI_API_KEY",))


if __name__ == "__main__":
    main()
