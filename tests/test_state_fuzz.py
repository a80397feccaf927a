"""Seeded random damage to `.assetgen/` state files and the lock file, each followed by two paid
builds against the emulator: no request, no crash, every output still the paid image
(`tests/statefuzz.py`; `bench/state_fuzz.py` runs more trials and prints the figures)."""

from __future__ import annotations

from pathlib import Path

from statefuzz import run

TRIALS = 50


def test_fifty_damaged_state_files_cost_no_request_crash_nothing_and_ship_only_paid_images(
        tmp_path: Path) -> None:
    figures = run(range(TRIALS), tmp_path)
    assert len(figures.trials) == TRIALS
    assert [t for t in figures.trials if t.requests] == []
    assert [t for t in figures.trials if 3 in t.codes] == []
    assert [t for t in figures.trials if t.wrong] == []
    # the damage reaches every kind of state file, and the lock's damage is refused, not ignored
    kinds = {"assetgen.lock", "stat-cache.json", "build-stamp.json", "variant-cache.json", "record", "image",
             "lint-cache.json", "lint-cache-changes.json", "plan-cache.json", "plan-cache-changes.json"}
    assert set(figures.by_file()) >= kinds
    assert any(t.codes[0] == 2 for t in figures.trials if t.target == "assetgen.lock")
