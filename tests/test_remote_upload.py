"""Uploads in `write` mode while the build runs: each call's record and images reach the remote cache
once the call is stored, before the next call is sent, so a build stopped or killed midway has
left its paid calls there; nothing is uploaded twice; a remote that fails midway costs one warning.

A gate (an HTTP forwarder) in front of the API holds the second call until the remote holds the
first: which of the two let it go shows the order, with no clock.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import obstore
import pytest
from gate import Gate, run_gate
from object_stores import Azurite
from obstore.store import AzureStore
from test_remote_cache import API_KEY, CALLS, OUTPUTS, Runner, azure_remote, blobs, fresh_clone, make_project
from test_remote_stream import through

from assetgen.emulator.testing import run_emulator

WAIT_S = 30.0


@pytest.fixture()
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Runner]:
    with run_emulator(api_key=API_KEY) as emu:
        yield Runner(emu, monkeypatch, capsys)


def whole_calls(store: AzureStore) -> int:
    """The calls whose record and every image the remote holds."""
    paths = {meta["path"] for batch in obstore.list(store) for meta in batch}
    count = 0
    for path in paths:
        if path.startswith("actions/"):
            record = json.loads(bytes(obstore.get(store, path).bytes()))
            count += all(f"objects/{s[:2]}/{s}" in paths for s in record["results"])
    return count


def after_the_first(method: str) -> Callable[[str, str], bool]:
    """Holds every `method` request but the first."""
    seen = [0]

    def holds(got: str, path: str) -> bool:
        if got != method:
            return False
        seen[0] += 1
        return seen[0] > 1

    return holds


def test_a_call_is_in_the_remote_before_the_next_call_is_sent_and_nothing_goes_up_twice(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    store = azure_remote(azurite, monkeypatch, "upload-early")
    root = make_project(tmp_path / "main")
    puts: list[str] = []
    counting = Gate(azurite.endpoint, holds=lambda method, path: method == "PUT" and bool(puts.append(path)),
                    opens=lambda: True)
    api = Gate(run.emu.url, holds=after_the_first("POST"), opens=lambda: whole_calls(store) >= 1,
               timeout=WAIT_S)
    with run_gate(counting) as remote_url, run_gate(api) as api_url:
        through(monkeypatch, remote_url)
        run.mp.setenv("AZURE_OPENAI_ENDPOINT", api_url)
        report = run.build(root, "-j", "1", mode="write")    # one call at a time
    assert api.held == CALLS - 1 and api.opened == "condition"  # the first call was up before the second went
    assert (report["requests"], report["actions_run"]) == (CALLS, CALLS)
    stored = blobs(store)
    assert sum(p.startswith("actions/") for p in stored) == CALLS
    assert report["remote_uploads"] == len(stored) == len(puts) == 2 * CALLS + len(OUTPUTS)
    assert [p for p, n in collections.Counter(puts).items() if n > 1] == []     # each blob sent once


@pytest.mark.parametrize("stop", ["ctrl-c twice", "kill"])
def test_a_build_stopped_midway_has_left_its_finished_call_in_the_remote(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch, stop: str) -> None:
    store = azure_remote(azurite, monkeypatch, f"upload-{stop.replace(' ', '-')}")
    root = make_project(tmp_path / "main")
    api = Gate(run.emu.url, holds=after_the_first("POST"), opens=lambda: False, timeout=WAIT_S * 2)
    with run_gate(api) as api_url:
        env = {**os.environ, "AZURE_OPENAI_ENDPOINT": api_url, "ASSETGEN_REMOTE_CACHE_MODE": "write"}
        proc = subprocess.Popen([sys.executable, "-m", "assetgen", "build", str(root), "--json", "-j", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.monotonic() + WAIT_S
            while ((api.held < 1 or whole_calls(store) < 1) and time.monotonic() < deadline
                   and proc.poll() is None):
                time.sleep(0.05)
            assert api.held == 1 and proc.poll() is None, "the build ended before it was stopped"
            assert whole_calls(store) == 1, "the finished call was not in the remote while the next one ran"
            if stop == "kill":      # a CI runner killed or timed out
                proc.kill()
            else:
                proc.send_signal(signal.SIGINT)     # the first waits for the call on the wire ...
                time.sleep(0.2)
                proc.send_signal(signal.SIGINT)     # ... the second leaves at once
            proc.communicate(timeout=WAIT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == (-signal.SIGKILL if stop == "kill" else 130)
    assert whole_calls(store) == 1

    clone = fresh_clone(root, tmp_path / "clone", lock=False)   # another runner: that call is not paid again
    report = run.build(clone)
    assert (report["requests"], report["remote_hits"]) == (CALLS - 1, 2)    # its record and its image
    assert report["outputs_written"] == len(OUTPUTS)


def test_a_remote_that_fails_midway_costs_one_warning_and_the_next_build_uploads_the_rest(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    store = azure_remote(azurite, monkeypatch, "upload-fails")
    root = make_project(tmp_path / "main")
    records = [0]

    def gone(method: str, path: str) -> bool:     # answers nothing once the first record is up
        if records[0]:
            return True
        records[0] += method == "PUT" and "/actions/" in path
        return False

    away = Gate(azurite.endpoint, holds=lambda method, path: False, opens=lambda: True, refuses=gone)
    api = Gate(run.emu.url, holds=after_the_first("POST"), opens=lambda: whole_calls(store) >= 1,
               timeout=WAIT_S)
    with run_gate(away) as remote_url, run_gate(api) as api_url:
        through(monkeypatch, remote_url)
        run.mp.setenv("AZURE_OPENAI_ENDPOINT", api_url)
        first = run.build(root, "-j", "1", mode="write")
    assert (first["requests"], first["actions_run"], first["failures"]) == (CALLS, CALLS, [])
    assert first["outputs_written"] == len(OUTPUTS)
    assert run.err.count("remote cache") == 1 and "cannot be used" in run.err
    assert api.opened == "condition" and whole_calls(store) == 1 and first["remote_uploads"] == 2

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)   # the remote is back
    second = run.build(root, mode="write")
    assert (second["requests"], second["remote_uploads"]) == (0, len(blobs(store)) - 2)
    assert whole_calls(store) == CALLS
