"""`assetgen build --provider azure` end to end: the example project against the emulator,
counting requests from the emulator's own log."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

EXAMPLE = Path(__file__).resolve().parent.parent / "recipes"
KEY = "build-test-key-5150"
CALLS = 17            # 12 icons + banner (generate, 2 edits) + banner-square (edit) + emblem (n: 3)
PROJECT = """\
recipes: ["recipes/**/*.yaml"]
provider: azure
defaults:
  model: gpt-image-1.5
providers:
  azure:
    rpm: {{gpt-image-1.5: {rpm}}}
"""
CURSED = """\
version: 1
defaults: {size: 1024x1024, quality: low}
assets:
  cursed:
    prompt: "A forbidden relic"
    output: build/cursed.png
"""


def project(root: Path, rpm: int = 6000) -> Path:
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", ".assetgen", "assetgen.lock"))
    (root / "assetgen.yaml").write_text(PROJECT.format(rpm=rpm))
    return root


def build(root: Path, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str], *extra: str, code: int = 0) -> dict:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == code, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def image(path: Path) -> tuple[tuple[int, int], str]:
    with Image.open(path) as img:
        return img.size, img.mode


def successes(emu: EmulatorHandle) -> Counter[str]:
    return Counter(f"{r.op}:{r.fields.get('prompt')}" for r in emu.records if r.status == 200)


def test_example_builds_with_exact_requests_and_rebuilds_with_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        first = build(root, emu, monkeypatch, capsys)
        assert len(emu.records) == CALLS
        second = build(root, emu, monkeypatch, capsys)
        assert len(emu.records) == CALLS
    assert (first["actions_run"], first["requests"], first["actions_failed"]) == (CALLS, CALLS, 0)
    assert (second["actions_run"], second["requests"], second["outputs_written"]) == (0, 0, 0)
    assert image(root / "build/marketing/banner.png")[0] == (1536, 1024)
    assert image(root / "build/icons/icon-key-gold.png") == ((1024, 1024), "RGBA")
    assert all(r.path.startswith("/openai/deployments/gpt-image-1.5/images/") for r in emu.records)


def test_small_quota_completes_with_few_rate_limits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", rpm=480)
    with run_emulator(api_key=KEY, rpm=480) as emu:      # at most 8 requests in any second
        out = build(root, emu, monkeypatch, capsys, "-j", "16")
        stats = emu.stats()
    assert (out["actions_run"], out["actions_failed"]) == (CALLS, 0)
    assert stats["throttled"] <= 2
    assert out["requests"] == stats["requests"] == CALLS + stats["throttled"]


def test_a_quota_four_times_too_high_is_learned_without_a_limit_header(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", rpm=480)         # Azure sends no x-ratelimit-limit-requests
    with run_emulator(api_key=KEY, rpm=120) as emu:      # 2 in any second, 20 in any 10 s
        out = build(root, emu, monkeypatch, capsys, "-j", "16")
        stats = emu.stats()
    assert (out["actions_run"], out["actions_failed"]) == (CALLS, 0)
    assert stats["throttled"] <= 3
    assert out["requests"] == stats["requests"] == CALLS + stats["throttled"]


def test_a_quota_set_too_high_is_learned_from_the_limit_header(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    (root / "assetgen.yaml").write_text(       # OpenAI sends x-ratelimit-limit-requests; Azure does not
        'recipes: ["recipes/**/*.yaml"]\nprovider: openai\ndefaults: {model: gpt-image-1.5}\n'
        "providers: {openai: {rpm: {gpt-image-1.5: 6000}}}\n")   # the project thinks 100 a second
    with run_emulator(api_key=KEY, rpm=120) as emu:      # 2 in any second, 20 in any 10 s
        monkeypatch.setenv("OPENAI_BASE_URL", f"{emu.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        capsys.readouterr()
        assert main(["build", str(root), "--json", "-j", "16"]) == 0
        out = json.loads(capsys.readouterr().out)
        stats = emu.stats()
    assert (out["actions_run"], out["actions_failed"]) == (CALLS, 0)
    assert stats["throttled"] <= 4     # only requests sent before the first answer; 12+ unpaced
    assert out["requests"] == stats["requests"] == CALLS + stats["throttled"]


def test_faults_are_retried_and_no_call_succeeds_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY, fault_rate=0.2, seed=11) as emu:
        out = build(root, emu, monkeypatch, capsys)
        stats = emu.stats()
        ok = successes(emu)
    assert (out["actions_run"], out["actions_failed"]) == (CALLS, 0)
    assert stats["faults"] >= 1
    assert len(ok) == CALLS and set(ok.values()) == {1}
    assert out["requests"] == stats["requests"]


def test_filtered_variant_fails_alone_and_only_force_sends_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    (root / "recipes" / "cursed.yaml").write_text(CURSED)
    with run_emulator(api_key=KEY) as emu:
        first = build(root, emu, monkeypatch, capsys, code=1)
        mark = len(emu.records)
        remembered = build(root, emu, monkeypatch, capsys, code=1)
        assert (len(emu.records), remembered["requests"]) == (mark, 0)
        assert [f["asset"] for f in remembered["failures"]] == ["cursed"]
        second = build(root, emu, monkeypatch, capsys, "--force", "cursed", code=1)
        retried = emu.records[mark:]
    message = ('recipes/cursed.yaml:5: the Azure OpenAI safety system refused the prompt '
               '(content_policy_violation: violence): "A forbidden relic"')
    assert first["failures"] == [{"asset": "cursed", "message": message}]
    assert (first["actions_run"], first["requests"]) == (CALLS, CALLS + 1)
    assert (root / "build/marketing/banner-square.jpg").is_file()
    assert not (root / "build/cursed.png").exists()
    assert [r.fields["prompt"] for r in retried] == ["A forbidden relic"]
    assert (second["requests"], second["failures"]) == (1, first["failures"])


def test_previews_are_saved_as_they_stream(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        out = build(root, emu, monkeypatch, capsys, "--only", "icon-key-gold", "--previews", "2")
        [record] = emu.records
    assert (out["actions_run"], out["requests"]) == (1, 1)
    assert str(record.fields["stream"]).lower() == "true"
    previews = sorted(p.name for p in (root / ".assetgen/previews/icon-key-gold").iterdir())
    assert previews == ["partial-0.png", "partial-1.png"]
    assert image(root / "build/icons/icon-key-gold.png")[0] == (1024, 1024)


def test_a_stream_cut_after_its_images_arrived_keeps_them_and_pays_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the completed event (the image, and its usage) came, then the connection broke before the
    # stream's last chunk: the image is paid for, so it is kept, not bought again
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY, cut_streams=True) as emu:
        out = build(root, emu, monkeypatch, capsys, "--only", "icon-key-gold", "--previews", "1")
        assert len(emu.records) == 1
    assert (out["actions_run"], out["actions_failed"], out["requests"]) == (1, 0, 1)
    assert image(root / "build/icons/icon-key-gold.png")[0] == (1024, 1024)


def test_max_cost_refuses_before_any_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
        assert main(["build", str(root), "--json", "--max-cost", "0.01"]) == 2
        assert emu.records == []


def test_no_key_reaches_the_cache_the_lock_file_the_log_or_the_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    wrong = "sk-wrong-key-31337"
    log = tmp_path / "emulator.log"
    seen: list[str] = []
    with run_emulator(api_key=KEY, log=log) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        for key, args, code in [(KEY, ["--only", "icon-sword-*"], 0), (wrong, ["--force", "icon-*"], 1),
                                (wrong, ["--json", "--force", "banner"], 1)]:
            monkeypatch.setenv("AZURE_OPENAI_API_KEY", key)
            capsys.readouterr()
            assert main(["build", str(root), *args]) == code
            out, err = capsys.readouterr()
            seen += [out, err]
    assert "refused the credentials" in "".join(seen)
    files = [p for p in root.rglob("*") if p.is_file()] + [log]
    assert root / "assetgen.lock" in files and any(".assetgen" in p.parts for p in files)
    for text in seen + [p.read_bytes().decode("latin-1") for p in files]:
        assert KEY not in text and wrong not in text


def test_refused_key_stops_at_once_and_every_asset_not_built_is_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", rpm=6)       # the calls queued behind the first wait 10 s each for quota
    refused = "Azure OpenAI refused the credentials (HTTP 401); check the API key in $AZURE_OPENAI_API_KEY"
    assets = {"banner", "banner-square", "emblem", "icon-key-gold"} | {
        f"icon-{item}-{element}" for item in ("potion", "scroll", "shield", "sword")
        for element in ("fire", "ice", "poison")} - {"icon-scroll-poison"}
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", "sk-wrong-key-2")
        assert main(["build", str(root), "--json"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert main(["build", str(root)]) == 1
        text = capsys.readouterr().out
        statuses = [r.status for r in emu.records]
    assert statuses == [401, 401]
    total = out["actions_total"]
    counts = (out["actions_run"], out["actions_cached"], out["actions_failed"], out["requests"])
    assert counts == (0, 0, total, 1)
    assert out["failures"][0] == {"asset": "banner", "message": refused}
    assert out["failures"][1:] == [{"asset": a, "message": f"not started: {refused}"}
                                   for a in sorted(assets - {"banner"})]
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("failed: ")] == [f"failed: {refused}"]
    in_recipes = ["banner", "banner-square", "emblem"] + [         # in the recipes' order
        f"icon-{item}-{element}" for item in ("sword", "shield", "potion")
        for element in ("fire", "ice", "poison")]
    assert f"  15 assets: {', '.join(in_recipes)} and 3 more" in lines
    summary = (f"{total} actions (17 calls, 31 renditions): 0 calls made, 0 outputs written, "
               f"{total} failed; 1 request")
    assert lines[-1] == summary
