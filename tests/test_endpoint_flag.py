"""`--endpoint URL` on build and plan: it wins over assetgen.yaml and the environment, so CI can
point any project at the emulator; precedence is flag > project file > environment."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from tiles import tiles

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator

KEY = "endpoint-test-key"


def closed_port() -> str:
    """A loopback URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def project(root: Path, provider: str, where: str) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "t.yaml").write_text(tiles(2, model="gpt-image-1.5", size="1024x1024",
                                                   quality="low"))
    key = "endpoint" if provider == "azure" else "base_url"
    (root / "assetgen.yaml").write_text(
        f"provider: {provider}\n"
        f"providers:\n  {provider}:\n    {key}: {where}\n    rpm: {{gpt-image-1.5: 6000}}\n")
    return root


def test_the_flag_wins_over_the_project_file_and_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "azure", closed_port())
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", closed_port())
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with run_emulator(api_key=KEY) as emu:
        assert main(["plan", str(root), "--endpoint", emu.url]) == 0
        assert capsys.readouterr().out.splitlines()[-2] == f"calls go to {emu.url} (--endpoint)"
        assert main(["build", str(root), "--json", "--endpoint", emu.url]) == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["actions_run"], out["requests"], out["actions_failed"]) == (2, 2, 0)
        assert len(emu.records) == 2
    assert sorted(p.name for p in (root / "out").iterdir()) == ["tile-0.png", "tile-1.png"]


def test_the_project_file_wins_over_the_environment_and_plan_names_the_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "azure", "http://127.0.0.1:9")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:10")
    assert main(["plan", str(root)]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == (
        "calls go to http://127.0.0.1:9 (providers.azure.endpoint)")
    (root / "assetgen.yaml").write_text("provider: azure\n")
    assert main(["plan", str(root)]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == (
        "calls go to http://127.0.0.1:10 ($AZURE_OPENAI_ENDPOINT)")


def test_openai_base_url_from_the_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "openai", f"{closed_port()}/v1")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{closed_port()}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with run_emulator(api_key=KEY) as emu:
        assert main(["build", str(root), "--json", "--endpoint", f"{emu.url}/v1"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["actions_run"], out["actions_failed"]) == (2, 0)
        assert {r.path for r in emu.records} == {"/v1/images/generations"}


def test_a_bad_flag_is_a_usage_error_and_nothing_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", "azure", "http://127.0.0.1:9")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    assert main(["build", str(root), "--endpoint", "127.0.0.1:8765"]) == 2
    assert capsys.readouterr().err == (
        "azure provider: the endpoint '127.0.0.1:8765' (--endpoint) is not an http(s) URL; "
        "expected e.g. https://my-resource.openai.azure.com\n")
    assert main(["plan", str(root), "--provider", "local", "--endpoint", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err == (
        "--endpoint applies to the azure and openai providers; this build uses local "
        "(pass --provider azure or --provider openai)\n")
    for command in ("plan", "build"):       # a password in the URL is never printed back
        assert main([command, str(root), "--endpoint", "http://u:s3cr3t-pw@127.0.0.1:9"]) == 2
        captured = capsys.readouterr()
        assert "s3cr3t-pw" not in captured.out + captured.err and "'http://***@127.0.0.1:9'" in captured.err
    assert not (root / "out").exists() and not (root / "assetgen.lock").exists()
