"""`diff` as Markdown (a pull-request comment or `$GITHUB_STEP_SUMMARY`) and as an HTML page."""

from __future__ import annotations

from collections.abc import Callable

from assetgen.review import page
from assetgen.review.diff import Change, Diff, summary

MAX_IMAGES = 10          # variants shown with images; the rest are listed


Url = Callable[[str, str, bool], str | None]     # (path, sha, before?) -> image URL or None


def _cell(url: str | None, sha: str | None, alt: str) -> str:
    if sha is None:
        return "—"
    if url is None:
        return f"`{sha[:12]}`"
    return f'<img src="{url}" alt="{alt}" width="160">'


def markdown(diff: Diff, url: Url | None = None) -> str:
    """Nothing when nothing differs, so `>> $GITHUB_STEP_SUMMARY` adds nothing then."""
    if not diff.variants:
        return ""
    lines = [f"### assetgen: {summary(diff)}", "",
             "| variant | | output | before | after |", "|---|---|---|---|---|"]
    for i, v in enumerate(diff.variants):
        icon = {Change.ADDED: "added", Change.CHANGED: "changed", Change.REMOVED: "removed"}[v.status]
        for j, o in enumerate(v.outputs):
            show = url is not None and i < MAX_IMAGES and j == 0
            before_url = url(o.path, o.before, True) if url and show and o.before else None
            after_url = url(o.path, o.after, False) if url and show and o.after else None
            before, after = _cell(before_url, o.before, "before"), _cell(after_url, o.after, "after")
            name = f"`{v.variant}`" if j == 0 else ""
            lines.append(f"| {name} | {icon if j == 0 else ''} | `{o.path}` | {before} | {after} |")
        if v.reasons and all(o.before == o.after for o in v.outputs):
            lines.append(f"| | | not built yet: {'; '.join(v.reasons)} | | |")
    if url is not None and len(diff.variants) > MAX_IMAGES:
        lines += ["", f"Images are shown for the first {MAX_IMAGES} variants."]
    return "\n".join(lines) + "\n"


def html(diff: Diff, url: Url) -> str:
    rows = []
    for v in diff.variants:
        outs = [{"path": o.path, "before": o.before, "after": o.after,
                 "before_url": url(o.path, o.before, True) if o.before else None,
                 "after_url": url(o.path, o.after, False) if o.after else None} for o in v.outputs]
        rows.append({"variant": v.variant, "status": v.status.value, "reasons": v.reasons, "outputs": outs})
    return page.render("diff.html.j2", rev=diff.rev, summary=summary(diff) if diff.variants else
                       f"no output differs from {diff.rev}", rows=rows)
