"""A small client of OpenAI's Files and Batch APIs (`{base_url}/files`, `{base_url}/batches`).

Reads (retrieve, list, file content) and the upload are retried on 429, 5xx and dropped
connections; creating a batch is never retried: a create whose answer was lost may have created
the batch, and only `list` can tell (`run.reconcile`). Every HTTP request is counted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx

from assetgen.providers import http
from assetgen.providers.auth import redact
from assetgen.providers.http import ErrorKind

TIMEOUT = httpx.Timeout(300.0, connect=10.0)
ATTEMPTS = 5


class BatchApiError(Exception):
    """A Files/Batch API call failed; `sent` is False when the request surely did not reach the service."""

    def __init__(self, message: str, *, status: int | None = None, sent: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.sent = sent


class BatchApi:
    def __init__(self, base_url: str, key: str, *, client: httpx.Client | None = None,
                 sleep: Any = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._client = client or httpx.Client(timeout=TIMEOUT)
        self._sleep = sleep
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    # -- files

    def upload(self, filename: str, data: bytes, purpose: str = "batch") -> str:
        body = self._send("POST", "/files", retry=True, data={"purpose": purpose},
                          files={"file": (filename, data, "application/jsonl")})
        return str(body["id"])

    def content(self, file_id: str) -> bytes:
        return self._raw("GET", f"/files/{file_id}")

    # -- batches

    def create(self, input_file_id: str, endpoint: str, metadata: dict[str, str]) -> dict[str, Any]:
        return self._send("POST", "/batches", retry=False, json={
            "input_file_id": input_file_id, "endpoint": endpoint, "completion_window": "24h",
            "metadata": metadata})

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        return self._send("GET", f"/batches/{batch_id}", retry=True)

    def batches(self, page: int = 100) -> Iterator[dict[str, Any]]:
        """Every batch, newest first, page by page."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page}
            if after:
                params["after"] = after
            body = self._send("GET", "/batches", retry=True, params=params)
            data = body.get("data") or []
            yield from data
            if not body.get("has_more") or not data:
                return
            after = str(data[-1]["id"])

    # -- transport

    def _send(self, method: str, path: str, *, retry: bool, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, retry, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise BatchApiError(f"the Batch API answered {path} with something that is not JSON",
                                status=response.status_code) from None
        if not isinstance(body, dict):
            raise BatchApiError(f"the Batch API answered {path} with unexpected JSON", status=200)
        return body

    def _raw(self, method: str, path: str) -> bytes:
        return self._request(method, f"{path}/content", True).content

    def _request(self, method: str, path: str, retry: bool, **kwargs: Any) -> httpx.Response:
        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {self._key}"}
        for attempt in range(1, ATTEMPTS + 1):
            self.requests += 1
            try:
                response = self._client.request(method, url, headers=headers, **kwargs)
            except httpx.ConnectError as exc:
                failure = f"cannot connect to {self.base_url}: {exc}"
                sent = False
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failure, sent = f"{type(exc).__name__}: {exc}", True
            else:
                if response.status_code == 200:
                    return response
                parsed = http.classify(response.status_code, response.headers, response.content)
                said = f": {parsed.message}" if parsed.message else ""
                failure = f"the Batch API answered HTTP {response.status_code} for {method} {path}{said}"
                if parsed.kind not in (ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT) or not retry:
                    raise BatchApiError(redact(failure, (self._key,)), status=response.status_code)
                sent = True
            if not retry and sent:
                raise BatchApiError(redact(failure, (self._key,)), sent=True)
            if attempt == ATTEMPTS:
                raise BatchApiError(redact(failure, (self._key,)), sent=sent)
            self._sleep(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.75 + 0.25 * random.random()))
        raise AssertionError("unreachable")
