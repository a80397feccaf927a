"""`assetgen review`: the gallery's markup, its cached thumbnails, the comparison with git HEAD,
and the served page's refusal of writes from anywhere but itself."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
from PIL import Image
from reviewkit import commit_all, project

from assetgen.cli import main

GRID = """\
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
  emblem:
    n: 3
    pick: 2
    prompt: "A lion emblem"
    output: "out/emblem-{{ index }}.png"
"""


def _review(root: Path, capsys, *extra: str) -> str:
    assert main(["review", str(root), *extra]) == 0
    capsys.readouterr()
    return (root / ".assetgen" / "review" / "index.html").read_text(encoding="utf-8")


def test_grid_flipbook_candidates_and_pick_markup(tmp_path: Path, capsys) -> None:
    project(tmp_path, GRID)
    assert main(["build", str(tmp_path)]) == 0
    html = _review(tmp_path, capsys)
    assert '<th>terrain \\ season</th><th>summer</th><th>winter</th>' in html
    assert re.search(r'<div class="flip" data-axis="time">time:\s*<button type="button" data-value="day" '
                     r'aria-pressed="true">day</button><button type="button" data-value="night"', html)
    imgs = re.findall(r'<img [^>]*data-variant="([^"]+)" data-candidate="(\d)"( data-picked="true")?>', html)
    assert len(imgs) == 8 + 3
    assert [(c, bool(p)) for v, c, p in imgs if v == "emblem"] == [("0", False), ("1", False), ("2", True)]
    assert all(p for v, _, p in imgs if v != "emblem")           # one candidate: it is the pick
    assert "A grass tile in winter at night" in html and "size=1024x1024" in html
    assert 'data-action="pick"' not in html                      # controls only when served
    for src in set(re.findall(r'src="(img/[^"]+)"', html)):
        with Image.open(tmp_path / ".assetgen" / "review" / src) as img:
            assert img.format == "WEBP" and max(img.size) == 256


def test_thumbnails_are_made_once(tmp_path: Path, capsys) -> None:
    project(tmp_path, GRID)
    assert main(["build", str(tmp_path)]) == 0
    _review(tmp_path, capsys)
    thumbs = sorted((tmp_path / ".assetgen" / "thumbs").rglob("*.webp"))
    assert len(thumbs) == 2 * (8 + 3)                 # grid and full view, per image
    stamps = [p.stat().st_mtime_ns for p in thumbs]
    out = tmp_path / "elsewhere"
    _review(tmp_path, capsys, "--out", str(out))
    assert [p.stat().st_mtime_ns for p in thumbs] == stamps
    assert len(list((out / "img").iterdir())) == len(thumbs)


def test_an_output_changed_since_head_is_shown_beside_the_old_one(tmp_path: Path, capsys) -> None:
    recipe = project(tmp_path)
    assert main(["build", str(tmp_path)]) == 0
    commit_all(tmp_path)
    recipe.write_text(recipe.read_text().replace("A knight", "A queen"), encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    html = _review(tmp_path, capsys)
    card = html.split('id="v-banner"', 1)[1].split("</article>", 1)[0]
    assert '<span class="badge changed"' in card
    compare = re.search(r'<figure class="compare"[^>]*><img src="([^"]+)" alt="out/banner.jpg at HEAD">'
                        r'<img class="after" src="([^"]+)"', card)
    assert compare is not None and compare.group(1) != compare.group(2)
    assert '<span class="badge changed"' not in html.split('id="v-icon-sword"', 1)[1].split("</article>")[0]


def test_the_address_it_prints_takes_connections_at_once(tmp_path: Path) -> None:
    # a script that connects as soon as the address shows must not be refused: the server is
    # stopped right after printing it, and the connection still reaches its queue
    project(tmp_path, GRID)
    proc = subprocess.Popen([sys.executable, "-m", "assetgen", "review", "--serve", "--port", "0"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        found = re.search(r"at http://127\.0\.0\.1:(\d+)/ ", proc.stdout.readline())
        assert found is not None
        os.kill(proc.pid, signal.SIGSTOP)
        with socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=5):
            pass
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.communicate(timeout=30)


@contextlib.contextmanager
def _served(root: Path) -> Iterator[tuple[str, str]]:
    """`review --serve` on a free port: (its address, its port) while it runs."""
    proc = subprocess.Popen([sys.executable, "-m", "assetgen", "review", "--serve", "--port", "0"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})
    try:
        assert proc.stdout is not None
        found = re.search(r"at (http://127\.0\.0\.1:(\d+))/ ", proc.stdout.readline())
        assert found is not None
        yield found.group(1), found.group(2)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_the_served_page_refuses_writes_from_elsewhere(tmp_path: Path) -> None:
    recipe = project(tmp_path, GRID)
    before = recipe.read_text(encoding="utf-8")
    with _served(tmp_path) as (url, port):
        with httpx.Client(base_url=url) as client:
            page = client.get("/").text
            token = re.search(r'<meta name="assetgen-token" content="([^"]+)">', page).group(1)  # type: ignore[union-attr]
            assert 'data-action="pick" data-variant="emblem" data-candidate="1"' in page
            body = {"variant": "emblem", "candidate": 1}
            ok = {"X-Assetgen-Token": token}
            one = "tile-grass-summer-day"
            refusals = [
                client.post("/api/pick", json=body),
                client.post("/api/pick", json=body, headers={**ok, "Origin": "http://evil.example"}),
                client.post("/api/pick", json=body, headers={**ok, "Host": f"evil.example:{port}"}),
                client.post("/api/pick", content="variant=emblem&candidate=1", headers={
                    **ok, "Content-Type": "application/x-www-form-urlencoded"}),
                client.post("/api/reroll", json={"variant": "emblem"}, headers=ok),   # no confirm
                client.post("/api/pick", json={"variant": "emblem", "candidate": 3}, headers=ok),
                client.post("/api/pick", json={"variant": one, "candidate": 0}, headers=ok),
            ]
            assert [r.status_code for r in refusals] == [403, 403, 403, 403, 400, 400, 400]
            assert refusals[-1].json() == {"error": f"{one} has one candidate: there is nothing to pick"}
            assert refusals[1].json() == {"error": "cross-origin writes are refused"}
            assert client.get("/img/..%2F..%2Frecipes%2Fa.yaml").status_code == 404
            assert recipe.read_text(encoding="utf-8") == before
            done = client.post("/api/pick", json=body, headers={**ok, "Origin": url})
            assert done.status_code == 200 and done.json()["picks"] == {"emblem": 1}
            assert recipe.read_text(encoding="utf-8") == before.replace("    pick: 2\n", "    pick: 1\n")
            assert client.get("/api/state").json()["picks"]["emblem"] == 1
            estimate = client.post("/api/estimate", json={"variant": "emblem"}, headers=ok).json()
            assert estimate == {"variant": "emblem", "calls": 1, "cost_usd": 0.0, "provider": "local"}
            picked = recipe.read_text(encoding="utf-8")
            broken = "version: 1\nassets:\n  x:\n    prompt: p\n    output: x.png\n    colour: red\n"
            (tmp_path / "recipes" / "b.yaml").write_text(broken, encoding="utf-8")   # meanwhile
            refused = client.post("/api/pick", json={"variant": "emblem", "candidate": 0}, headers=ok)
            assert refused.status_code == 400
            why = refused.json()["error"]
            assert why.startswith("recipes/a.yaml does not take this pick, left as it was: "), why
            assert recipe.read_text(encoding="utf-8") == picked


def test_a_busy_port_is_a_usage_error(tmp_path: Path, capsys) -> None:
    import socket

    project(tmp_path, GRID)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["review", str(tmp_path), "--serve", "--port", str(port)]) == 2
    assert capsys.readouterr().err.startswith(f"cannot serve on 127.0.0.1:{port}: ")


def test_a_state_folder_of_the_review_that_is_a_symlink_is_an_error_and_nothing_is_written_out(
        tmp_path: Path, capsys) -> None:
    # a repository may commit such links: writing through them would put files anywhere
    root = tmp_path / "p"
    project(root, GRID)
    assert main(["build", str(root)]) == 0
    for link in (".assetgen/review", ".assetgen/review/img", ".assetgen/thumbs", ".assetgen/thumbs/256"):
        outside = tmp_path / "outside"
        outside.mkdir()
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(outside, target_is_directory=True)
        capsys.readouterr()
        assert main(["review", str(root)]) == 2
        err = capsys.readouterr().err
        assert f"{root / link}: error: a symbolic link where assetgen keeps its state" in err
        assert list(outside.iterdir()) == []
        (root / link).unlink()
        outside.rmdir()


def test_the_served_page_follows_a_recipe_file_added_while_it_runs(tmp_path: Path) -> None:
    project(tmp_path, GRID)
    with _served(tmp_path) as (url, _):
        with httpx.Client(base_url=url) as client:
            page = client.get("/").text
            token = re.search(r'<meta name="assetgen-token" content="([^"]+)">', page).group(1)  # type: ignore[union-attr]
            assert client.get("/api/state").json()["reload"] is False
            (tmp_path / "recipes" / "new.yaml").write_text(
                "version: 1\nassets:\n  orb:\n    n: 2\n    pick: 0\n    prompt: An orb\n"
                "    output: out/orb.png\n",
                encoding="utf-8")
            state = client.get("/api/state").json()
            assert state["reload"] is True and "orb" in state["picks"]
            assert 'data-variant="orb"' in client.get("/").text
            done = client.post("/api/pick", json={"variant": "orb", "candidate": 1},
                               headers={"X-Assetgen-Token": token})
            assert done.status_code == 200 and done.json()["recipe"] == "recipes/new.yaml"


def test_out_never_replaces_a_page_assetgen_did_not_write(tmp_path: Path, capsys) -> None:
    project(tmp_path, GRID)
    assert main(["build", str(tmp_path)]) == 0
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><title>Our studio</title></html>\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["review", str(tmp_path), "--out", str(site)]) == 2
    assert "a file assetgen did not write is there" in capsys.readouterr().err
    assert (site / "index.html").read_text(encoding="utf-8") == "<html><title>Our studio</title></html>\n"
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]     # not even a thumbnail
    gallery = tmp_path / "gallery"
    assert main(["review", str(tmp_path), "--out", str(gallery)]) == 0
    assert main(["review", str(tmp_path), "--out", str(gallery)]) == 0     # its own page: replaced
