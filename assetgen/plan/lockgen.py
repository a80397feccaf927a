"""The next lock file: the previous one, with every asset that was fully resolved rewritten."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

from assetgen.lockfile import Lock, LockAsset
from assetgen.plan.graph import Action, AssetPlan, Plan
from assetgen.plan.status import call_step, render_output


def asset_entry(asset: AssetPlan, by_id: Mapping[str, Action], results: Mapping[str, tuple[str, ...]],
                encoder: str) -> LockAsset | None:
    """The lock entry of one asset, or None when any of its actions has no result."""
    steps = []
    for sid in asset.steps:
        step = call_step(by_id[sid], results)
        got = results.get(sid)
        if not step.key or not got:
            return None
        steps.append(dataclasses.replace(step, results=got))
    outputs = []
    for oid in asset.outputs:
        out = render_output(by_id[oid], results, encoder)
        got = results.get(oid)
        if not out.key or not got:
            return None
        outputs.append(dataclasses.replace(out, sha256=got[0]))
    return LockAsset(asset.name, asset.recipe, tuple(steps), tuple(sorted(outputs, key=lambda o: o.path)))


def next_lock(plan: Plan, results: Mapping[str, tuple[str, ...]], old: Lock, selected: Collection[str],
              encoder: str, prune: bool) -> Lock:
    """Rewrite the selected assets that resolved; keep the rest; drop unknown assets when `prune`."""
    by_id = plan.by_id()
    assets = dict(old.assets)
    if prune:
        known = {a.name for a in plan.assets}
        assets = {n: a for n, a in assets.items() if n in known}
    for asset in plan.assets:
        if asset.name not in selected:
            continue
        entry = asset_entry(asset, by_id, results, encoder)
        if entry is not None:
            assets[asset.name] = entry
    return Lock(assets)
