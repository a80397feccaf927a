"""The remote cache while a build runs: downloads go alongside the API calls, never in their way.

A gate (an HTTP forwarder) in front of one server holds its requests until the other server has
seen what the build should send it first; which of the two let the gate open shows what waited for
what, with no clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gate import Gate, run_gate
from object_stores import ACCOUNT, KEY, Azurite
from test_remote_cache import OUTPUTS, Runner, azure_remote, fresh_clone, lock_outputs, make_project, sha

from assetgen.emulator.testing import EmulatorHandle, run_emulator

API_KEY = "remote-cache-test-key"
BANNER = '  banner:\n    prompt: "A banner"\n    output: out/banner.png\n'   # in no cache: a miss


@pytest.fixture()
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Runner]:
    with run_emulator(api_key=API_KEY) as emu:
        yield Runner(emu, monkeypatch, capsys)


def filled(tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch,
           container: str) -> Path:
    """A project built once in write mode: the remote holds its 5 calls and 5 renditions."""
    azure_remote(azurite, monkeypatch, container)
    main_tree = make_project(tmp_path / "main")
    run.build(main_tree, mode="write")
    return main_tree


def with_banner(clone: Path) -> Path:
    recipe = clone / "recipes" / "r.yaml"
    recipe.write_text(recipe.read_text() + BANNER)
    return clone


def through(monkeypatch: pytest.MonkeyPatch, gate_url: str) -> None:
    """The remote cache through the gate (Azurite's shared key does not sign the host)."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=http;"
                       f"AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={gate_url}/{ACCOUNT};")


def sent(emu: EmulatorHandle, before: int) -> bool:
    return len(emu.records) > before


def test_a_call_the_remote_lacks_goes_to_the_api_while_downloads_wait(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    main_tree = filled(tmp_path, azurite, run, monkeypatch, "stream-api")
    before = len(run.emu.records)
    clone = with_banner(fresh_clone(main_tree, tmp_path / "clone", lock=False))
    gate = Gate(azurite.endpoint, holds=lambda method, path: method == "GET" and "/objects/" in path,
                opens=lambda: sent(run.emu, before), timeout=15)
    with run_gate(gate) as url:
        through(monkeypatch, url)
        report = run.build(clone)
    assert gate.held > 0 and gate.opened == "condition"     # no image download held up the call
    assert (report["requests"], len(run.emu.records) - before) == (1, 1)
    assert report["remote_hits"] == 10          # 5 records and their 5 images
    outputs = lock_outputs(clone)
    assert {p: outputs[p] for p in OUTPUTS} == lock_outputs(main_tree)
    assert sha(clone / "out/banner.png") == outputs["out/banner.png"]


def test_a_remote_hit_is_written_while_an_api_call_waits(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    main_tree = filled(tmp_path, azurite, run, monkeypatch, "stream-hit")
    before = len(run.emu.records)
    clone = with_banner(fresh_clone(main_tree, tmp_path / "clone"))
    gate = Gate(run.emu.url, holds=lambda method, path: method == "POST",
                opens=lambda: all((clone / p).exists() for p in OUTPUTS), timeout=15)
    with run_gate(gate) as url:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", url)
        report = run.build(clone, "-j", "1")    # the one call slot is the banner's, held at the gate
    assert gate.held == 1 and gate.opened == "condition"    # the restored outputs did not wait for it
    assert (report["requests"], report["outputs_written"]) == (1, len(OUTPUTS) + 1)
    assert report["remote_hits"] == len(OUTPUTS) and len(run.emu.records) == before + 1
    for path in OUTPUTS:
        assert (clone / path).read_bytes() == (main_tree / path).read_bytes()
    assert json.loads((clone / "assetgen.lock").read_text())["assets"]["banner"]
    # each restored rendition went straight to its output: no second copy in the local cache
    stored = {p.name for p in (clone / ".assetgen" / "cache" / "objects").rglob("*") if p.is_file()}
    assert not stored & {sha(clone / path) for path in OUTPUTS}
