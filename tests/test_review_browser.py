"""The review page in a real browser: headless Chromium from the system's packages, driven by
Playwright. The static page from `file://` (every image decodes), and the served page: a pick
control writes the pick into the recipe, the page follows without a reload, and the next build
makes no API request.

Chromium is installed by `.ci/run`; under CI (CI=true) a missing browser fails these tests,
elsewhere it skips them. Screenshots of the gallery are kept under `.assetgen/test-artifacts/`
(or `$ASSETGEN_TEST_ARTIFACTS`); each test prints where.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from reviewkit import commit_all

from assetgen.emulator.testing import run_emulator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "recipes"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
KEY = "review-test-key-0451"


def artifacts() -> Path:
    where = Path(os.environ.get("ASSETGEN_TEST_ARTIFACTS") or ROOT / ".assetgen" / "test-artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run assetgen as a user would (Playwright's sync API holds an event loop in this thread,
    so the build's own asyncio loop runs in its own process)."""
    done = subprocess.run([sys.executable, "-m", "assetgen", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _all_images_decode(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """Load every image, lazy ones too, and return those that did not decode."""
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=30_000)
    return page.evaluate(
        "[...document.images].filter(i => !(i.naturalWidth > 0)).map(i => ({src: i.src, alt: i.alt}))")


def test_the_static_gallery_shows_every_output_and_every_image_decodes(tmp_path: Path, browser) -> None:
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", ".assetgen", "assetgen.lock"))
    cli("build", str(root))
    index = root / ".assetgen" / "review" / "index.html"
    assert cli("review", str(root)) == f"wrote {index}: 15 variants, 17 candidates\n"
    html = index.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)     # nothing from another host
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(index.as_uri())
    assert _all_images_decode(page) == []
    variants = page.eval_on_selector_all("img[data-variant]", "els => els.map(e => e.dataset.variant)")
    assert len(variants) == 17 and len(set(variants)) == 15             # the emblem has 3 candidates
    picked = page.eval_on_selector_all("img[data-picked=true]", "els => els.map(e => e.dataset.candidate)")
    assert picked == ["0"] * 15
    page.click("article.variant#v-banner details summary")
    assert page.is_visible("text=Replace the sky with a dramatic thunderstorm, keep everything else")
    shot = artifacts() / "review-static.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    print(f"screenshot: {shot}")


SERVED = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}   # cheap while drafting

assets:
  emblem:
    n: 3
    prompt: "A shield emblem with a lion"   # three to choose from
    pick: 0
    outputs:
      - path: out/emblem.png                # the picked one
      - path: "out/emblem-{{ index }}.png"
  badge:
    matrix: {metal: [gold, iron]}
    n: 2
    prompt: "A {{ metal }} badge"
    outputs:
      - path: "out/{{ name }}-{{ index }}.png"
        resize: 64x64
"""
PROJECT = """\
recipes: ["recipes/**/*.yaml"]
provider: azure
providers:
  azure:
    api_version: 2025-04-01-preview
    rpm: {gpt-image-1.5: 6000}      # the emulator's quota: no waiting between calls
"""


def _serve(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "assetgen", "review", "--serve", "--port", "0"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line)
    if found is None:
        proc.kill()
        raise AssertionError(f"no address in {line!r}: {proc.communicate()[1]}")
    return proc, found.group(1)


def test_a_pick_on_the_served_page_goes_into_the_recipe_and_the_next_build_calls_nothing(
        tmp_path: Path, browser) -> None:
    root = tmp_path / "p"
    (root / "recipes").mkdir(parents=True)
    recipe = root / "recipes" / "a.yaml"
    recipe.write_text(SERVED, encoding="utf-8")
    (root / "assetgen.yaml").write_text(PROJECT, encoding="utf-8")
    with run_emulator(api_key=KEY) as emu:
        env = {**os.environ, "AZURE_OPENAI_ENDPOINT": emu.url, "AZURE_OPENAI_API_KEY": KEY}
        assert json.loads(cli("build", str(root), "--json", env=env))["requests"] == 3
        commit_all(root)
        proc, url = _serve(root, env)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(url)
            assert _all_images_decode(page) == []
            assert page.get_attribute('img[data-variant="emblem"][data-picked=true]', "data-candidate") == "0"
            page.evaluate("window.notReloaded = true")
            page.click('[data-action="pick"][data-variant="emblem"][data-candidate="2"]')
            page.wait_for_selector('img[data-variant="emblem"][data-candidate="2"][data-picked="true"]')
            assert page.eval_on_selector_all('img[data-variant="emblem"][data-picked=true]',
                                             "els => els.length") == 1
            assert recipe.read_text(encoding="utf-8") == SERVED.replace("    pick: 0\n", "    pick: 2\n")
            page.locator("article.variant#v-emblem").focus()         # keyboard: 2 picks candidate 1
            page.keyboard.press("2")
            page.wait_for_selector('img[data-variant="emblem"][data-candidate="1"][data-picked="true"]')
            assert "    pick: 1\n" in recipe.read_text(encoding="utf-8")
            # a matrix asset: the pick is per variant, a mapping in the recipe
            page.click('[data-action="pick"][data-variant="badge-iron"][data-candidate="1"]')
            page.wait_for_selector('img[data-variant="badge-iron"][data-candidate="1"][data-picked="true"]')
            gold = page.get_attribute('img[data-variant="badge-gold"][data-picked=true]', "data-candidate")
            assert gold == "0"
            text = recipe.read_text(encoding="utf-8")
            assert "    pick:\n      badge-gold: 0\n      badge-iron: 1\n" in text
            assert page.evaluate("window.notReloaded") is True       # updated in place, not reloaded
            page.once("dialog", lambda dialog: dialog.dismiss())      # re-roll, then say no
            page.click('[data-action="reroll"][data-variant="emblem"]')
            page.wait_for_timeout(500)
            shot = artifacts() / "review-served.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            page.close()
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
        before = len(emu.records)
        summary = json.loads(cli("build", str(root), "--json", env=env))
        assert (summary["requests"], len(emu.records)) == (0, before)
        assert emu.stats()["requests"] == 3
    out = root / "out"
    assert _pixels(out / "emblem.png") == _pixels(out / "emblem-1.png")
    assert _pixels(out / "emblem.png") != _pixels(out / "emblem-0.png")


def _pixels(path: Path) -> bytes:
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGBA").tobytes()


def test_on_the_example_project_a_served_pick_becomes_the_stable_output_with_no_call(
        tmp_path: Path, browser) -> None:
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", ".assetgen", "assetgen.lock"))
    cli("build", str(root))
    recipe = root / "recipes" / "emblem.yaml"
    before = recipe.read_text(encoding="utf-8")
    proc, url = _serve(root, dict(os.environ))
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(url)
        page.click('[data-action="pick"][data-variant="emblem"][data-candidate="2"]')
        page.wait_for_selector('img[data-variant="emblem"][data-candidate="2"][data-picked="true"]')
        page.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert recipe.read_text(encoding="utf-8") == before.replace("    pick: 0\n", "    pick: 2\n")
    summary = json.loads(cli("build", str(root), "--json"))
    assert (summary["actions_run"], summary["requests"], summary["outputs_written"]) == (0, 0, 1)
    lock = json.loads((root / "assetgen.lock").read_text(encoding="utf-8"))["assets"]["emblem"]
    assert lock["outputs"]["build/emblem.png"]["source"] == lock["steps"][0]["results"][2]


FLIP = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  tile:
    matrix:
      terrain: [grass, sand]
      season: [summer, winter]
      time: [day, night]
    name: "tile-{{ terrain }}-{{ season }}-{{ time }}"
    prompt: "A {{ terrain }} tile in {{ season }} at {{ time }}"
    output: "out/{{ name }}.png"
"""


def test_the_flipbook_the_filter_and_the_arrow_keys(tmp_path: Path, browser) -> None:
    root = tmp_path / "p"
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "a.yaml").write_text(FLIP, encoding="utf-8")
    cli("build", str(root))
    cli("review", str(root))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto((root / ".assetgen" / "review" / "index.html").as_uri())
    shown = ("[...document.querySelectorAll('article.variant')]"
             ".filter(a => !a.hidden).map(a => a.dataset.name)")
    assert page.evaluate(shown) == ["tile-grass-summer-day", "tile-grass-winter-day",
                                    "tile-sand-summer-day", "tile-sand-winter-day"]
    page.click('.flip[data-axis="time"] button[data-value="night"]')
    assert page.evaluate(shown) == ["tile-grass-summer-night", "tile-grass-winter-night",
                                    "tile-sand-summer-night", "tile-sand-winter-night"]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.name") == "tile-grass-winter-night"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.name") == "tile-sand-winter-night"
    page.keyboard.press("[")
    assert page.evaluate(shown)[0] == "tile-grass-summer-day"
    page.keyboard.press("/")
    page.keyboard.type("sand")
    assert page.evaluate(shown) == ["tile-sand-summer-day", "tile-sand-winter-day"]
    shot = artifacts() / "review-flipbook.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    page.close()
