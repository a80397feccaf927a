"""`assetgen emulator`: serve the offline Azure OpenAI / OpenAI image API until Ctrl-C (exit 0)."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

import uvicorn

from assetgen.emulator.app import create_app
from assetgen.emulator.config import EmulatorConfig
from assetgen.errors import UserError


def listen(host: str, port: int) -> socket.socket:
    """Bind first, so a busy port is a usage error (exit 2) and the banner only shows when serving."""
    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise UserError(f"assetgen emulator: cannot listen on {host}:{port}: {_reason(exc)}") from None
    return sock


def check_log(path: Path | None) -> None:
    """The log file is opened for every request: a path that cannot be written is a usage error now."""
    if path is None:
        return
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UserError(f"assetgen emulator: cannot open the log file {path}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    """`Address already in use`; a name lookup failure (negative errno) in its own words."""
    if exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno)
    return (exc.strerror or str(exc)).split(" (while attempting")[0]


def main(args: argparse.Namespace) -> int:
    config = EmulatorConfig.from_args(args)
    check_log(config.log)
    sock = listen(config.host, config.port)
    host = f"[{config.host}]" if ":" in config.host else config.host
    base = f"http://{host}:{sock.getsockname()[1]}"
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
