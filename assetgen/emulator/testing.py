"""Run the emulator in-process, for tests and benchmarks.

    from assetgen.emulator.testing import run_emulator

    with run_emulator(api_key="k", rpm=60) as emu:
        client = AzureOpenAI(azure_endpoint=emu.url, api_key="k", api_version="2025-04-01-preview")
        ...
        emu.records      # list of RequestRecord (path, deployment, model, status, op, fields, ...)
        emu.stats()      # the same dict as GET /_emulator/stats

`run_emulator(config=None, **options)` takes an `EmulatorConfig`, or its fields as keyword
options (`api_key`, `deployments=(("name", "model"),)`, `rpm`, `latency`, `fault_rate`, `seed`,
`block_word`, `log`). It serves uvicorn on 127.0.0.1 on a free port in a background thread,
returns once the server accepts connections, and on exit stops it and joins the thread.
Close your HTTP clients before the block ends (`with OpenAI(...) as client:`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from assetgen.emulator.app import EmulatorState, create_app
from assetgen.emulator.config import EmulatorConfig
from assetgen.emulator.records import RequestRecord

START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EmulatorHandle:
    url: str                      # e.g. http://127.0.0.1:54321 (no trailing slash)
    config: EmulatorConfig
    state: EmulatorState

    @property
    def records(self) -> list[RequestRecord]:
        return list(self.state.log.records)

    def stats(self) -> dict[str, Any]:
        return self.state.log.stats()


@contextlib.contextmanager
def run_emulator(config: EmulatorConfig | None = None, **options: Any) -> Iterator[EmulatorHandle]:
    config = dataclasses.replace(config or EmulatorConfig(), host="127.0.0.1", port=0, **options)
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, http="h11", lifespan="off", log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"emulator:{port}",
                              daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield EmulatorHandle(f"http://127.0.0.1:{port}", config, app.state.emulator)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    done = threading.Event()
    for _ in range(int(START_TIMEOUT_S / 0.01)):
        if server.started or not thread.is_alive():
            break
        done.wait(0.01)
    if not server.started:
        raise RuntimeError("the emulator did not start")
