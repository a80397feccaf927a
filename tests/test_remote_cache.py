"""The remote cache against real servers on loopback: Azurite (Azure Blob), moto (S3) and a folder.

A write-mode build fills the remote; a fresh clone (the lock, no outputs, no .assetgen/) restores
every output from it with 0 API requests; a tampered blob is never shipped; a read-mode build
uploads nothing; a remote that is down costs one warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import obstore
import pytest
from object_stores import ACCOUNT, KEY, Azurite, free_port, run_moto
from obstore.store import AzureStore, LocalStore

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

API_KEY = "remote-cache-test-key"
RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  tile:
    matrix: {i: [0, 1, 2]}
    prompt: "Tile {{ i }}"
    output: "out/{{ name }}.png"
  poster:
    steps:
      - generate: "A poster"
      - edit: "Add a frame"
    outputs:
      - path: out/poster.png
      - path: out/poster.jpg
        quality: 80
"""
CALLS = 5
OUTPUTS = ("out/tile-0.png", "out/tile-1.png", "out/tile-2.png", "out/poster.png", "out/poster.jpg")
PROJECT = 'recipes: ["recipes/*.yaml"]\nprovider: azure\nproviders: {azure: {rpm: {gpt-image-1.5: 6000}}}\n'


@pytest.fixture()
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(api_key=API_KEY) as handle:
        yield handle


def make_project(root: Path, extra: str = "") -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    (root / "assetgen.yaml").write_text(PROJECT + extra)
    return root


def fresh_clone(src: Path, dst: Path, lock: bool = True) -> Path:
    """What `git clone` gives when outputs are not committed: recipes, project file, maybe the lock."""
    skip = ("out", ".assetgen") if lock else ("out", ".assetgen", "assetgen.lock")
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*skip))
    return dst


class Runner:
    def __init__(self, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.emu, self.mp, self.capsys = emu, monkeypatch, capsys
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", API_KEY)
        monkeypatch.delenv("ASSETGEN_CACHE_DIR", raising=False)
        monkeypatch.delenv("ASSETGEN_REMOTE_CACHE_MODE", raising=False)
        self.err = ""

    def build(self, root: Path, *extra: str, mode: str = "read", code: int = 0) -> dict:
        self.mp.setenv("ASSETGEN_REMOTE_CACHE_MODE", mode)
        self.capsys.readouterr()
        got = main(["build", str(root), "--json", *extra])
        out, self.err = self.capsys.readouterr()
        assert got == code, self.err
        return json.loads(out)

    def plan(self, root: Path) -> str:
        self.capsys.readouterr()
        assert main(["plan", str(root)]) == 0
        out, self.err = self.capsys.readouterr()
        return out


@pytest.fixture()
def run(emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    return Runner(emu, monkeypatch, capsys)


def azure_remote(azurite: Azurite, monkeypatch: pytest.MonkeyPatch, container: str) -> AzureStore:
    azurite.container(container)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"az://{container}/team/assets")
    return AzureStore(container, prefix="team/assets", account_name=ACCOUNT, account_key=KEY,
                      endpoint=azurite.endpoint, client_options={"allow_http": True})


def blobs(store: object) -> dict[str, bytes]:
    found = {}
    for batch in obstore.list(store):  # type: ignore[arg-type]
        for meta in batch:
            found[meta["path"]] = bytes(obstore.get(store, meta["path"]).bytes())  # type: ignore[arg-type]
    return found


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_outputs(root: Path) -> dict[str, str]:
    lock = json.loads((root / "assetgen.lock").read_text())
    return {path: o["sha256"] for a in lock["assets"].values() for path, o in a["outputs"].items()}


def test_fresh_clone_restores_every_output_from_azurite_with_no_api_request(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    store = azure_remote(azurite, monkeypatch, "fresh")
    main_tree = make_project(tmp_path / "main")
    first = run.build(main_tree, mode="write")
    assert (first["actions_run"], first["remote_hits"]) == (CALLS, 0)
    stored = blobs(store)
    assert first["remote_uploads"] == len(stored)
    assert sum(p.startswith("actions/") for p in stored) == CALLS
    sent = len(run.emu.records)

    clone = fresh_clone(main_tree, tmp_path / "clone")
    second = run.build(clone)
    assert len(run.emu.records) == sent
    assert (second["requests"], second["actions_run"], second["outputs_written"]) == (0, 0, len(OUTPUTS))
    assert second["remote_hits"] == len(OUTPUTS) and second["remote_uploads"] == 0
    for path in OUTPUTS:
        assert (clone / path).read_bytes() == (main_tree / path).read_bytes()
    assert (clone / "assetgen.lock").read_text() == (main_tree / "assetgen.lock").read_text()
    assert blobs(store) == stored


def test_a_read_mode_build_uploads_nothing(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    store = azure_remote(azurite, monkeypatch, "readonly")
    report = run.build(make_project(tmp_path / "p"), mode="read")
    assert (report["actions_run"], report["remote_uploads"]) == (CALLS, 0)
    assert blobs(store) == {}


def test_shard_results_without_a_lock_are_cached_remote_in_plan_and_cost_nothing(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    azure_remote(azurite, monkeypatch, "nolock")
    main_tree = make_project(tmp_path / "main")
    run.build(main_tree, mode="write")
    sent = len(run.emu.records)
    clone = fresh_clone(main_tree, tmp_path / "clone", lock=False)
    text = run.plan(clone)
    assert text.count("cached (remote)") == CALLS, text
    report = run.build(clone)
    assert (report["requests"], len(run.emu.records)) == (0, sent)
    assert lock_outputs(clone) == lock_outputs(main_tree)


def test_a_tampered_blob_is_reported_with_its_key_and_never_shipped(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    store = azure_remote(azurite, monkeypatch, "tampered")
    main_tree = make_project(tmp_path / "main")
    run.build(main_tree, mode="write")
    lock = json.loads((main_tree / "assetgen.lock").read_text())
    tile = lock["assets"]["tile-0"]
    rendition = tile["outputs"]["out/tile-0.png"]["sha256"]
    image, key = tile["steps"][0]["results"][0], tile["steps"][0]["key"]
    forged = (main_tree / "out/tile-1.png").read_bytes()      # a real PNG, under the wrong name
    for name in (rendition, image):
        obstore.put(store, f"objects/{name[:2]}/{name}", forged)

    clone = fresh_clone(main_tree, tmp_path / "clone")      # the lock names the tile's image
    report = run.build(clone, code=1)
    assert f"the image {rendition} for key " in run.err
    assert f"the image {image} for key {key} does not match its hash; not used" in run.err
    assert not (clone / "out/tile-0.png").exists()           # blocked, not forged
    assert report["requests"] == 0
    for path in OUTPUTS[1:]:
        assert sha(clone / path) == lock_outputs(main_tree)[path]

    sent = len(run.emu.records)
    bare = fresh_clone(main_tree, tmp_path / "bare", lock=False)   # only the remote's records
    report = run.build(bare)
    assert report["requests"] == 1 and len(run.emu.records) == sent + 1     # a miss: made again
    assert (bare / "out/tile-0.png").read_bytes() != forged
    assert f"the image {image} for key {key} does not match its hash; not used" in run.err


def test_the_lock_wins_over_a_remote_record_that_disagrees_and_nothing_is_overwritten(
        tmp_path: Path, azurite: Azurite, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    store = azure_remote(azurite, monkeypatch, "disagree")
    main_tree = make_project(tmp_path / "main")
    run.build(main_tree, mode="write")
    lock = json.loads((main_tree / "assetgen.lock").read_text())
    step = lock["assets"]["tile-0"]["steps"][0]
    other = lock["assets"]["tile-1"]["steps"][0]["results"][0]     # a valid image, of another call
    path = f"actions/{step['key']}.json"
    record = json.loads(bytes(obstore.get(store, path).bytes()))
    record["results"] = [other]
    obstore.put(store, path, json.dumps(record).encode())
    before = blobs(store)

    clone = fresh_clone(main_tree, tmp_path / "clone")
    shutil.rmtree(clone / "out", ignore_errors=True)
    run.build(clone, mode="write")
    assert sha(clone / "out/tile-0.png") == lock_outputs(main_tree)["out/tile-0.png"]
    assert blobs(store) == before           # create-only: the disagreeing record stays as it was


def test_a_remote_that_is_down_costs_one_warning(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    down = f"http://127.0.0.1:{free_port()}/{ACCOUNT}"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", f"DefaultEndpointsProtocol=http;"
                       f"AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={down};")
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", "az://cache/p")
    report = run.build(make_project(tmp_path / "p"), mode="write")
    assert report["actions_run"] == CALLS and report["remote_uploads"] == 0
    warnings = [line for line in run.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "going on with the local cache only" in warnings[0], run.err


def test_a_sas_token_never_reaches_a_message(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    down = f"http://127.0.0.1:{free_port()}/{ACCOUNT}"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", f"BlobEndpoint={down};AccountName={ACCOUNT};"
                       "SharedAccessSignature=sv=2024-05-04&ss=b&sig=T0PSECRETsig%3D")
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", "az://cache/p")
    report = run.build(make_project(tmp_path / "p"), mode="write")
    assert report["actions_run"] == CALLS
    assert "going on with the local cache only" in run.err
    assert "T0PSECRET" not in run.err


@contextlib.contextmanager
def _bucket(monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[None]:
    """moto on loopback with the bucket `assets-cache`, and the remote cache set to `url`."""
    with run_moto() as moto:
        moto.bucket("assets-cache")
        for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                            ("AWS_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", moto.endpoint)):
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", url)
        yield


def test_s3_on_moto_restores_a_fresh_clone_with_no_api_request(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    with _bucket(monkeypatch, "s3://assets-cache/ci"):
        main_tree = make_project(tmp_path / "main")
        first = run.build(main_tree, mode="write")
        sent = len(run.emu.records)
        second = run.build(fresh_clone(main_tree, tmp_path / "clone"))
        assert first["remote_uploads"] > 0
        assert (second["requests"], len(run.emu.records)) == (0, sent)
        assert second["outputs_written"] == len(OUTPUTS)


def test_a_bucket_that_is_not_there_is_said_not_taken_for_an_empty_cache(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # a typo in the bucket's name: every read a miss and every upload refused, without a word
    with _bucket(monkeypatch, "s3://assets-cahce/ci"):
        report = run.build(make_project(tmp_path / "main"), mode="write")
    assert report["remote_uploads"] == 0
    assert run.err.count("warning: remote cache s3://assets-cahce/ci: its bucket or container is not "
                         "there; going on with the local cache only") == 1


def test_a_folder_remote_that_is_not_there_is_said_and_not_made_when_read(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "shraed"      # mistyped: read mode never makes it
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{folder}")
    root = make_project(tmp_path / "main")
    run.capsys.readouterr()
    assert main(["plan", str(root)]) == 0
    assert (f"warning: remote cache file://{folder}: no such folder; going on with the local cache only"
            in run.capsys.readouterr().err)
    assert not folder.exists()


def test_a_folder_remote_set_in_the_project_file(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSETGEN_REMOTE_CACHE", raising=False)
    folder = tmp_path / "shared"
    main_tree = make_project(tmp_path / "main", f"cache: {{remote: 'file://{folder}', remote_mode: write}}\n")
    first = run.build(main_tree, mode="write")
    monkeypatch.delenv("ASSETGEN_REMOTE_CACHE_MODE")
    clone = fresh_clone(main_tree, tmp_path / "clone")
    (clone / "assetgen.yaml").write_text(PROJECT + f"cache: {{remote: 'file://{folder}'}}\n")
    run.capsys.readouterr()
    assert main(["build", str(clone), "--json"]) == 0
    second = json.loads(run.capsys.readouterr().out)
    assert first["remote_uploads"] == len(blobs(LocalStore(folder)))
    assert second["requests"] == 0 and second["remote_hits"] == len(OUTPUTS)


def _written_then_changed(tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch,
                          change: Callable[[dict[str, Any]], str | None]) -> tuple[Path, int]:
    """A project built into a folder remote in write mode, then each of the remote's records
    rewritten as `change` makes it (None: left as it is); the project and how many changed."""
    folder = tmp_path / "shared"
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{folder}")
    main_tree = make_project(tmp_path / "main")
    run.build(main_tree, mode="write")
    changed = 0
    for rec_path in (folder / "actions").glob("*.json"):
        text = change(json.loads(rec_path.read_text()))
        if text is not None:
            rec_path.write_text(text)
            changed += 1
    return main_tree, changed


def test_a_re_roll_whose_record_the_remote_keeps_says_other_builds_take_the_old_images(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # records are never replaced: the team's builds keep the first images, which the writer is told
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{tmp_path / 'shared'}")
    with run_emulator(api_key=API_KEY, vary=True) as emu:       # a re-roll gets other images
        run = Runner(emu, monkeypatch, capsys)
        main_tree = make_project(tmp_path / "main")
        run.build(main_tree, mode="write")
        assert "names other images" not in run.err
        run.build(main_tree, "--force", "tile-0", mode="write")
    assert run.err.count("names other images (made first elsewhere, or before a re-roll)") == 1


def test_a_record_larger_than_a_record_may_be_is_not_read(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # a broken or hostile remote must not run the build out of memory: its size is looked at first
    main_tree, padded = _written_then_changed(
        tmp_path, run, monkeypatch,     # valid JSON, over 1 MiB
        lambda rec: json.dumps(rec) + " " * (1 << 20) if rec["op"] == "generate" else None)
    report = run.build(fresh_clone(main_tree, tmp_path / "clone", lock=False))
    assert padded == 4 and report["requests"] == padded      # made again, each generation
    assert run.err.count("bytes, more than the 1048576 a record may be; not used") == padded


def test_a_record_naming_paths_or_another_key_is_not_used(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    def poisoned(rec: dict[str, Any]) -> str | None:
        if rec["model"] != "gpt-image-1.5" or rec["op"] != "generate":
            return None
        return json.dumps({**rec, "results": ["../../../../etc/passwd"]})

    main_tree, _ = _written_then_changed(tmp_path, run, monkeypatch, poisoned)
    sent = len(run.emu.records)
    report = run.build(fresh_clone(main_tree, tmp_path / "clone", lock=False))
    # the 4 generations are made again; the emulator draws the poster as before, so the edit after
    # it has the key it had, and its record (valid) comes from the remote while the build runs
    assert report["requests"] == len(run.emu.records) - sent == CALLS - 1
    assert report["remote_hits"] == 2          # the edit's record and its image
    assert run.err.count("is not valid for this call; not used") == 4


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("ASSETGEN_REMOTE_CACHE", "ftp://host/x",
     "$ASSETGEN_REMOTE_CACHE: 'ftp://host/x' is not a remote cache URL"),
    ("ASSETGEN_REMOTE_CACHE_MODE", "sometimes", "$ASSETGEN_REMOTE_CACHE_MODE: 'sometimes' is not one of"),
    # credentials belong in the environment: a URL is printed in warnings, and they would be too
    ("ASSETGEN_REMOTE_CACHE", "s3://AKIAEXAMPLE:s3cr3t-key@team/game",
     "$ASSETGEN_REMOTE_CACHE: 's3://***@team/game' has a user name, password, query or fragment in it"),
    ("ASSETGEN_REMOTE_CACHE", "az://cont/pre?sv=2024&sig=s3cr3t-sig",
     "$ASSETGEN_REMOTE_CACHE: 'az://cont/pre?***' has a user name, password, query or fragment in it"),
])
def test_a_bad_remote_setting_is_a_usage_error(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        message: str) -> None:
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{tmp_path / 'shared'}")
    monkeypatch.setenv(variable, value)
    root = make_project(tmp_path / "p")
    run.capsys.readouterr()
    assert main(["build", str(root)]) == 2
    err = run.capsys.readouterr().err
    assert message in err and "s3cr3t" not in err
    assert not (root / "out").exists()


def test_frozen_only_looks_at_the_remote(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{tmp_path / 'shared'}")
    main_tree = make_project(tmp_path / "main")
    run.build(main_tree, mode="write")
    clone = fresh_clone(main_tree, tmp_path / "clone")
    run.build(clone, "--frozen", code=1)
    assert not (clone / ".assetgen" / "cache" / "objects").exists()
    assert not (clone / "out").exists()


def test_turning_writing_on_after_a_read_mode_build_uploads_what_it_made(
        tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing changed but the mode: the no-op shortcut must not skip the uploads
    folder = tmp_path / "shared"
    monkeypatch.setenv("ASSETGEN_REMOTE_CACHE", f"file://{folder}")
    root = make_project(tmp_path / "main")
    run.build(root, mode="read")
    assert not folder.exists() or not blobs(LocalStore(folder))
    report = run.build(root, mode="write")
    assert report["requests"] == 0
    assert report["remote_uploads"] == len(blobs(LocalStore(folder))) > 0
    again = run.build(root, mode="write")
    assert again.get("remote_uploads", 0) == 0
