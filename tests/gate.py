"""An HTTP forwarder on loopback that holds some requests until a condition holds: it shows, with no
clock, which of two servers a build waits for. `opened` says what let the held requests go: the
condition ("condition") or, when it never came true, the timeout ("timeout"). A request `refuses`
picks gets no answer at all: the connection closes, as when a server goes away."""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class Gate:
    def __init__(self, upstream: str, holds: Callable[[str, str], bool], opens: Callable[[], bool],
                 timeout: float = 30.0, refuses: Callable[[str, str], bool] | None = None) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.holds, self.opens, self.timeout = holds, opens, timeout
        self.refuses = refuses or (lambda method, path: False)
        self.opened: str | None = None
        self.held = 0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            self.held += 1
        deadline = time.monotonic() + self.timeout
        while self.opened is None:
            if self.opens():
                self.opened = self.opened or "condition"
            elif time.monotonic() > deadline:
                self.opened = self.opened or "timeout"
            else:
                time.sleep(0.01)

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        if self.refuses(handler.command, handler.path):
            handler.close_connection = True
            return
        if self.holds(handler.command, handler.path):
            self.wait()
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(handler.command, handler.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        finally:
            conn.close()
        handler.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP and name.lower() != "content-length":
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)


@contextlib.contextmanager
def run_gate(gate: Gate) -> Iterator[str]:
    """Serve `gate` on a free loopback port; yields its base URL (http://127.0.0.1:PORT)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            return None

        def handle_one(self) -> None:
            gate.forward(self)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_one

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        gate.opened = gate.opened or "closed"
        server.shutdown()
        server.server_close()
