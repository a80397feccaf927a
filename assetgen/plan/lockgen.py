"""The next lock file: the previous one, with every asset that was fully resolved rewritten."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import msgspec

from assetgen.lockfile import Lock, LockAsset, LockOutput, Unread
from assetgen.plan.graph import Action, AssetPlan, Plan
from assetgen.plan.status import call_step, render_output


def asset_entry(asset: AssetPlan, by_id: Mapping[str, Action], results: Mapping[str, tuple[str, ...]],
                encoder: str, old: Mapping[str, LockOutput] | None = None, kept: Collection[str] = (),
                adopted: Collection[str] = (), keys: Mapping[str, str] | None = None) -> LockAsset | None:
    """The lock entry of one asset, or None when any of its actions has no result. An output kept
    as the user changed it keeps its old entry (none when assetgen never wrote it); an adopted
    output is marked so, and stays marked while its bytes stay."""
    old = old or {}
    keys = keys or {}
    steps = []
    for sid in asset.steps:
        step = call_step(by_id[sid], results, keys.get(sid))
        got = results.get(sid)
        if not step.key or not got:
            return None
        steps.append(msgspec.structs.replace(step, results=got))
    outputs = []
    for oid in asset.outputs:
        out = render_output(by_id[oid], results, encoder, keys.get(oid))
        before = old.get(out.path)
        if out.path in kept:
            if before is not None:
                outputs.append(before)
            continue
        got = results.get(oid)
        if not out.key or not got:
            return None
        still = before is not None and before.adopted and before.sha256 == got[0]
        outputs.append(msgspec.structs.replace(out, sha256=got[0], adopted=out.path in adopted or still))
    return LockAsset(asset.name, asset.recipe, tuple(steps), tuple(sorted(outputs, key=lambda o: o.path)))


def next_lock(plan: Plan, results: Mapping[str, tuple[str, ...]], old: Lock, selected: Collection[str],
              encoder: str, prune: bool, kept: Collection[str] = (), adopted: Collection[str] = (),
              known: Collection[str] = (), keys: Mapping[str, str] | None = None) -> Lock:
    """Rewrite the selected assets that resolved; keep the rest; drop unknown assets when `prune`
    (those neither in the plan nor in `known`). `keys`: action id -> the key worked out from these
    results (the build's), so that it is not hashed again."""
    by_id = plan.by_id()
    written = old.written()
    assets = dict(old.assets)
    others = old.others
    # the entries a build after a small change left unread (`lockfile.read_some`) are those of the
    # recipe files it does not touch: all known, none of them among the plan's assets
    unread = isinstance(others, Unread)
    if prune:
        names = {a.name for a in plan.assets} | set(known)
        assets = {n: a for n, a in assets.items() if n in names}
        if not unread:
            others = {n: t for n, t in others.items() if n in names}
    for asset in plan.assets:
        if asset.name not in selected:
            continue
        entry = asset_entry(asset, by_id, results, encoder, written, kept, adopted, keys)
        if entry is not None:
            assets[asset.name] = entry
    if not unread:
        others = {n: t for n, t in others.items() if n not in assets}
    return Lock(assets, old.blocks, others, old.file)
