"""Refused prompts are remembered (SPEC section 9): a call the content filter refused is recorded
with its key and not sent again unless its prompt or inputs change or `--force` names it; `plan`
says so. Builds against the emulator (which refuses prompts with 'forbidden'), counting requests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from azurekit import PROJECT, point_at

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "refused-test-key-0001"
RECIPE = """\
version: 1
defaults: {size: 1024x1024, quality: low}
assets:
  relic:
    steps:
      - generate: "A PROMPT relic"
      - edit: "Add gold trim"
    output: relic.png
  shield:
    prompt: "A wooden shield"
    output: shield.png
"""
WHERE = "recipes/a.yaml:6"


def _project(root: Path, prompt: str = "forbidden") -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT, encoding="utf-8")
    _recipe(root, prompt)
    return root


def _recipe(root: Path, prompt: str) -> None:
    (root / "recipes" / "a.yaml").write_text(RECIPE.replace("PROMPT", prompt), encoding="utf-8")


def _env(emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(emu, KEY, monkeypatch)


def _build(root: Path, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str], *extra: str, code: int = 1) -> tuple[dict, int]:
    """`build --json`: its summary, and the requests the emulator got for it."""
    _env(emu, monkeypatch)
    before = len(emu.records)
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == code
    return json.loads(capsys.readouterr().out), len(emu.records) - before


def _day(root: Path) -> str:
    """The date the refusal was recorded, as messages show it."""
    (found,) = (root / ".assetgen" / "cache" / "refused").glob("*.json")
    return time.strftime("%Y-%m-%d", time.localtime(json.loads(found.read_text())["when"]))


def test_a_refused_prompt_is_not_sent_again_and_fails_the_same_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        first, sent = _build(root, emu, monkeypatch, capsys)
        assert sent == 2                                 # the refused generate, and the shield
        assert [f["asset"] for f in first["failures"]] == ["relic"]
        assert first["failures"][0]["message"].startswith(
            f"{WHERE}: the Azure OpenAI safety system refused the prompt (content_policy_violation")
        day = _day(root)
        again, sent = _build(root, emu, monkeypatch, capsys)
        assert sent == 0
        assert again["failures"] == [{"asset": "relic", "message": (
            f"{WHERE}: the Azure OpenAI safety system refused the prompt (content_policy_violation: "
            f"violence) on {day}; not sent again until the prompt or an input changes "
            "(--force relic resends it)")}]
        assert (again["actions_run"], again["actions_failed"]) == (0, first["actions_failed"])
        capsys.readouterr()
        assert main(["build", str(root)]) == 1
        out = capsys.readouterr().out
        assert f"failed: relic: {WHERE}: the Azure OpenAI safety system refused the prompt" in out
        assert len(emu.records) == 2


def test_plan_says_refused_with_the_date_and_counts_no_cost(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        day = _day(root)
        capsys.readouterr()
        assert main(["plan", str(root)]) == 0
        out = capsys.readouterr().out
        assert f"refused generate relic  (refused by content filter ({day}); --force relic resends it)\n" \
            in out
        assert "blocked edit     relic  (upstream asset relic was refused by the content filter)\n" in out
        assert "blocked render   relic.png  (upstream asset relic was refused by the content filter)\n" in out
        assert out.splitlines()[-1] == ("5 actions, 0 to run, 1 refused by the content filter (change the "
                                        "prompt or --force them); estimated $0.00, 0s")
        assert main(["plan", str(root), "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        refused = [a for a in data["actions"] if a["status"] == "refused"]
        assert [(a["op"], a["est_cost_usd"]) for a in refused] == [("generate", 0.0)]
        assert data["est_cost_usd"] == 0.0
        assert main(["plan", str(root), "--force", "relic", "--json"]) == 0
        forced = json.loads(capsys.readouterr().out)
        assert forced["est_cost_usd"] > 0
        assert len(emu.records) == 2


def test_a_changed_prompt_is_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        _recipe(root, "forbidden golden")               # another key: sent, and refused again
        assert _build(root, emu, monkeypatch, capsys)[1] == 1
        _recipe(root, "golden")
        done, sent = _build(root, emu, monkeypatch, capsys, code=0)
        assert (sent, done["actions_run"], done["failures"]) == (2, 2, [])
        assert Path(root / "relic.png").is_file()


def test_force_sends_a_refused_call_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        forced, sent = _build(root, emu, monkeypatch, capsys, "--force", "relic")
        assert sent == 1
        assert "refused the prompt (content_policy_violation" in forced["failures"][0]["message"]
    with run_emulator(api_key=KEY, block_word="") as emu:     # the filter was loosened
        assert _build(root, emu, monkeypatch, capsys)[1] == 0   # still remembered
        done, sent = _build(root, emu, monkeypatch, capsys, "--force", "relic", code=0)
        assert (sent, done["failures"]) == (2, [])
        assert not list((root / ".assetgen" / "cache" / "refused").glob("*.json"))
        assert _build(root, emu, monkeypatch, capsys, code=0)[1] == 0


def test_frozen_names_a_remembered_refusal_and_sends_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        day = _day(root)
        _env(emu, monkeypatch)
        capsys.readouterr()
        assert main(["build", str(root), "--frozen"]) == 1
        out, err = capsys.readouterr()
        assert out == "--frozen: 1 asset refused by the content filter; nothing was written\n"
        assert f"stale: relic: refused by content filter ({day}); --force relic resends it\n" in err
        assert len(emu.records) == 2


def test_a_damaged_refusal_is_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        (found,) = (root / ".assetgen" / "cache" / "refused").glob("*.json")
        found.write_text('{"key": "' + "0" * 64 + '", "when": 1, "message": "x"}')   # another key's
        assert _build(root, emu, monkeypatch, capsys)[1] == 1
        found.write_bytes(b"\xff\xfe")
        assert _build(root, emu, monkeypatch, capsys)[1] == 1


def test_gc_drops_refusals_of_calls_nothing_makes_any_more(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    with run_emulator(api_key=KEY) as emu:
        _build(root, emu, monkeypatch, capsys)
        monkeypatch.chdir(root)
        capsys.readouterr()
        assert main(["gc"]) == 0
        assert capsys.readouterr().out == "removed 0 images and 0 action records, freed 0 B\n"
        _recipe(root, "golden")
        _build(root, emu, monkeypatch, capsys, code=0)
        assert main(["gc"]) == 0
        assert capsys.readouterr().out.startswith(
            "removed 0 images, 0 action records and 1 remembered refusal, ")
