"""The README's GitHub Actions example parses and runs the three checks it promises."""

from __future__ import annotations

from pathlib import Path

import yaml

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_the_readme_workflow_lints_checks_frozen_and_summarises_the_diff() -> None:
    block = README.split("# .github/workflows/assets.yml\n", 1)[1].split("```", 1)[0]
    workflow = yaml.safe_load(block)
    runs = [s["run"] for s in workflow["jobs"]["assets"]["steps"] if "run" in s]
    assert "assetgen lint --format github" in runs
    assert "assetgen build --frozen" in runs
    assert any(r.startswith("assetgen diff ") and "--format markdown" in r
               and r.endswith('>> "$GITHUB_STEP_SUMMARY"') for r in runs)
