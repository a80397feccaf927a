"""`assetgen emulator`: serve the offline Azure OpenAI / OpenAI image API until Ctrl-C (exit 0)."""

from __future__ import annotations

import argparse
import os
import socket
import sys

import uvicorn

from assetgen.emulator.app import create_app
from assetgen.emulator.config import EmulatorConfig
from assetgen.errors import UserError


def listen(host: str, port: int) -> socket.socket:
    """Bind first, so a busy port is a usage error (exit 2) and the banner only shows when serving."""
    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise UserError(f"assetgen emulator: cannot listen on {host}:{port}: {reason}") from None
    return sock


def main(args: argparse.Namespace) -> int:
    config = EmulatorConfig.from_args(args)
    sock = listen(config.host, config.port)
    base = f"http://{config.host}:{sock.getsockname()[1]}"
    print(f"assetgen emulator: serving on {base}  (AZURE_OPENAI_ENDPOINT={base}, OpenAI base_url={base}/v1)",
          file=sys.stderr)
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, http="h11", lifespan="off", log_level="warning"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass    # uvicorn re-raises the Ctrl-C it handled; stopping the server is its normal end
    finally:
        sock.close()
    return 0
