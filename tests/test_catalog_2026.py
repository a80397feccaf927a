"""The 2026 catalog: gpt-image-2's own figures, 2.5/2.6 and snapshots, mini's edits and token table,
per-provider lifecycle, support, sizes and edit input limits, edit pricing with input-image tokens."""

from __future__ import annotations

import datetime
import json
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image

from assetgen import catalog
from assetgen.cli import main


def table() -> dict:
    return json.loads(resources.files("assetgen").joinpath("data/models.json").read_text(encoding="utf-8"))


def test_gpt_image_2_has_its_own_price_and_token_table() -> None:
    spec = catalog.get("gpt-image-2")
    assert spec.price_per_mtok["image_out"] == 30
    assert spec.output_tokens("1024x1024", "high") == 7033          # about 7,000, not gpt-image-1.5's 4,160
    assert spec.estimate_cost("1024x1024", "high") == pytest.approx(0.211, abs=0.0005)
    assert spec.estimate_cost("1024x1024", "medium") == pytest.approx(0.053, abs=0.0005)


def test_gpt_image_1_mini_estimates_match_its_official_per_image_prices() -> None:
    spec = catalog.get("gpt-image-1-mini")
    assert spec.estimate_cost("1024x1024", "low") == pytest.approx(0.005)
    assert spec.estimate_cost("1024x1024", "high") == pytest.approx(0.036)
    assert spec.estimate_cost("1536x1024", "medium") == pytest.approx(0.015)
    assert spec.estimate_cost("1024x1024", "low") / (272 * 8 / 1e6) == pytest.approx(2.3, abs=0.01)


def test_new_models_and_dated_snapshots() -> None:
    for name in ("gpt-image-2.5-sunburst", "gpt-image-2.5-flare", "gpt-image-2.6-sunburst",
                 "gpt-image-2.6-flare"):
        spec = catalog.get(name)
        assert {"xhigh", "max"} <= set(spec.qualities), name
        assert spec.price_per_mtok["image_out"] == 30
    assert "xhigh" not in catalog.get("gpt-image-2").qualities       # gpt-image-2 stops at high
    assert catalog.get("chatgpt-image-latest").edit
    snapshot = catalog.get("gpt-image-2-2026-04-21")
    assert (snapshot.name, snapshot.alias_of) == ("gpt-image-2-2026-04-21", "gpt-image-2")
    assert snapshot.output_tokens("1024x1024", "high") == 7033
    assert catalog.get("gpt-image-2.5-flare-2026-09-08").alias_of == "gpt-image-2.5-flare"


def test_lifecycle_per_provider() -> None:
    today = datetime.date(2026, 12, 3)
    for name, day in (("gpt-image-1", "2026-10-23"), ("dall-e-2", "2026-05-12"), ("dall-e-3", "2026-05-12")):
        life = catalog.get(name).life("openai")
        assert life is not None and life.retired == datetime.date.fromisoformat(day)
        assert life.is_retired(today) and life.replacement
    assert not catalog.get("gpt-image-1").life("openai").is_retired(datetime.date(2026, 10, 22))
    assert catalog.get("gpt-image-1").life("azure") is None           # Azure still lists it
    assert catalog.get("dall-e-3").life("azure") is None
    assert catalog.get("dall-e-2").life("azure").is_retired(today)
    assert catalog.get("gpt-image-1.5").life("openai") is None


def test_per_provider_support_sizes_and_edit_limits() -> None:
    two = catalog.get("gpt-image-2")
    assert two.supports("input_fidelity", "openai") is False
    assert two.supports("input_fidelity", "azure") is True
    assert two.supports("transparent_background", "openai") == "preview"
    assert catalog.get("gpt-image-1.5").supports("transparent_background", "openai") is True
    assert two.size_ok("800x800") and not two.size_ok("800x800", "azure")   # 640,000 < 655,360 on Azure
    assert two.size_ok("816x816", "azure")
    assert two.experimental_size("2576x1440") and not two.experimental_size("2560x1440")
    for name in ("gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2"):
        inputs = catalog.get(name).edit_inputs
        assert inputs.max_bytes_for("azure") == 25 * 1024 * 1024      # AZ-SPEC, stricter than the how-to
        assert inputs.max_bytes_for("openai") == 50 * 1024 * 1024


def test_edits_are_priced_with_their_input_image_tokens() -> None:
    spec = catalog.get("gpt-image-1.5")
    made = spec.estimate_cost("1024x1024", "low")
    low = spec.estimate_cost("1024x1024", "low", input_images=1)
    high = spec.estimate_cost("1024x1024", "low", input_images=2, input_fidelity="high")
    assert low == pytest.approx(made + 272 * 8 / 1e6)
    assert high == pytest.approx(made + 2 * 4160 * 8 / 1e6)


def test_batch_only_on_openai_at_half_price() -> None:
    assert catalog.batch_discount() == 0.5
    for name in ("gpt-image-1.5", "gpt-image-1-mini", "gpt-image-2", "chatgpt-image-latest"):
        assert catalog.get(name).batchable("openai"), name
    assert not any(spec.batchable("azure") for spec in catalog.models().values())
    assert not catalog.get("dall-e-3").batchable("openai")


def test_every_row_cites_its_sources() -> None:
    data = table()
    assert data["batch_sources"]
    for name, row in data["models"].items():
        assert row["sources"], f"{name} has no sources"
    for alias, target in data["aliases"].items():
        assert target in data["models"] and alias.startswith(target + "-2026-")


PRICED = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  made:
    prompt: a castle
    output: made.png
  low:
    steps:
      - edit: a storm
        image: base.png
    output: low.png
  high:
    steps:
      - edit: a storm
        image: base.png
        input_fidelity: high
    output: high.png
"""


def test_plan_prices_an_edit_with_input_fidelity_high_above_a_generation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(PRICED, encoding="utf-8")
    Image.new("RGB", (1024, 1024)).save(tmp_path / "base.png")
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--provider", "openai", "--json"]) == 0
    costs = {a["assets"][0]: a["est_cost_usd"] for a in json.loads(capsys.readouterr().out)["actions"]
             if a["op"] != "render"}
    text = 2 * 5    # "a castle", "a storm": 2 prompt tokens each (4 characters a token) at $5 per 1M
    assert costs["made"] == pytest.approx((272 * 32 + text) / 1e6, abs=1e-6)
    assert costs["low"] == pytest.approx((272 * 32 + 272 * 8 + text) / 1e6, abs=1e-6)
    assert costs["high"] == pytest.approx((272 * 32 + 4160 * 8 + text) / 1e6, abs=1e-6)


def test_an_estimate_counts_the_prompt_and_prices_an_auto_size_at_its_dearest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # --max-cost guards with this figure: it must not be below what the call can cost
    long = "a castle on a hill, " * 1480        # 29,600 characters: ~7,400 text tokens
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "version: 1\ndefaults: {model: gpt-image-1.5, quality: low}\nassets:\n"
        f"  long: {{prompt: '{long.strip()}', size: 1024x1024, output: long.png}}\n"
        "  auto: {prompt: a castle, size: auto, output: auto.png}\n"
        "  unset: {prompt: a castle, output: unset.png}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--provider", "openai", "--json"]) == 0
    costs = {a["assets"][0]: a["est_cost_usd"] for a in json.loads(capsys.readouterr().out)["actions"]
             if a["op"] != "render"}
    assert costs["long"] == pytest.approx((272 * 32 + 7400 * 5) / 1e6, abs=1e-6)     # $0.0457, not $0.0087
    assert costs["auto"] == costs["unset"] == pytest.approx((408 * 32 + 2 * 5) / 1e6, abs=1e-6)  # 1024x1536
