"""Review page benchmark: how big `assetgen review`'s page is at N variants and how fast Chromium
opens it.

    python bench/review_bench.py [--variants 1000] [--size 1024x1024] [--repeat 3] [--screenshot PATH]

The project: N/10 assets in one recipe, each a 5 x 2 matrix (so 10 variants an asset), built
with the offline `local` provider at --size. Reported: the build, the first `review` (every
thumbnail made) and a second one (every thumbnail cached), the size of index.html and of its
image folder, and for the page in headless Chromium (the system's, /usr/bin/chromium, from
`file://`): DOMContentLoaded and load times (median of --repeat cold loads), how many images
and bytes the first screen loads (thumbnails are lazy), and the time until every image has
decoded when all are forced to load. Work folders are kept under bench/.work/review-N/, so a second
run skips the build.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def recipe(variants: int, size: str) -> str:
    assets = []
    for i in range(variants // 10):
        assets.append(f"""\
  prop{i:03d}:
    matrix:
      material: [oak, iron, gold, glass, stone]
      state: [new, worn]
    prompt: "Prop {i}: a {{{{ state }}}} {{{{ material }}}} crate, isometric game art"
    output: "build/prop{i:03d}/{{{{ name }}}}.png"
""")
    head = f"version: 1\ndefaults: {{model: gpt-image-1.5, size: {size}, quality: low}}\nassets:\n"
    return head + "".join(assets)


def run(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "assetgen", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - start


def folder_bytes(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def browser_figures(index: Path, repeat: int, screenshot: Path | None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    loads, ready, first_images, first_bytes, all_decoded = [], [], [], [], []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for _ in range(repeat):
            context = chromium.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(index.as_uri(), wait_until="load")
            nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
            timing = json.loads(nav)
            ready.append(timing["domContentLoadedEventEnd"])
            loads.append(timing["loadEventEnd"])
            page.wait_for_timeout(300)
            loaded = page.evaluate(
                "[...document.images].filter(i => i.complete && i.naturalWidth > 0).map(i => i.src)")
            first_images.append(len(loaded))
            first_bytes.append(sum(Path(unquote(urlparse(src).path)).stat().st_size for src in set(loaded)))
            if screenshot is not None and not screenshot.exists():
                page.screenshot(path=str(screenshot))
            start = time.perf_counter()
            page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
            page.wait_for_function("[...document.images].every(i => i.complete)", timeout=300_000)
            all_decoded.append(time.perf_counter() - start)
            broken = page.evaluate("[...document.images].filter(i => !(i.naturalWidth > 0)).length")
            if broken:
                raise RuntimeError(f"{broken} images did not decode")
            context.close()
        chromium.close()
    return {"dom_content_loaded_ms": statistics.median(ready), "load_ms": statistics.median(loads),
            "first_screen_images": statistics.median(first_images),
            "first_screen_image_bytes": statistics.median(first_bytes),
            "all_images_decoded_s": statistics.median(all_decoded)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--size", default="1024x1024")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--fresh", action="store_true", help="build the project again from scratch")
    args = parser.parse_args()
    root = WORK / f"review-{args.variants}-{args.size}"
    if args.fresh and root.exists():
        shutil.rmtree(root)
    figures: dict[str, float] = {"variants": args.variants}
    if not (root / "assetgen.lock").exists():
        (root / "recipes").mkdir(parents=True, exist_ok=True)
        (root / "recipes" / "props.yaml").write_text(recipe(args.variants, args.size), encoding="utf-8")
        figures["build_s"] = run("build", "-j", "4", cwd=root)
    shutil.rmtree(root / ".assetgen" / "thumbs", ignore_errors=True)
    shutil.rmtree(root / ".assetgen" / "review", ignore_errors=True)
    figures["review_first_s"] = run("review", cwd=root)
    figures["review_cached_s"] = run("review", cwd=root)
    out = root / ".assetgen" / "review"
    figures["html_bytes"] = (out / "index.html").stat().st_size
    count, size = folder_bytes(out / "img")
    figures["image_files"], figures["image_bytes"] = count, size
    figures.update(browser_figures(out / "index.html", args.repeat, args.screenshot))
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:,.3f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
        print(f"{key:<{width}}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
