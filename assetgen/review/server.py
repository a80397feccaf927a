"""`assetgen review --serve`: the gallery on loopback, with pick and re-roll controls.

Writes are refused unless they come from the page itself: the request's Host must be an address
the server listens on (a DNS-rebinding page has another), its Origin (when the browser sends
one) that same host, its body JSON, and its `X-Assetgen-Token` header the random token the page
carries (another site's page cannot read it). A pick is written into the recipe
(`assetgen.review.picks`); a re-roll is a forced build of that one variant, made only after the
page has shown its estimated cost and the user confirmed.
"""

from __future__ import annotations

import gc
import hmac
import re
import secrets
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from msgspec import Struct
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from assetgen.atomic import write_atomic
from assetgen.cache import STATE_DIR
from assetgen.errors import ExitCode, UserError
from assetgen.plan.report import plan_json
from assetgen.recipe.model import Variant
from assetgen.review import gallery, model
from assetgen.review.page import check_out
from assetgen.review.picks import PickRequest, write_pick
from assetgen.run.prepare import Prepared, prepare

IMAGE_NAME = re.compile(r"[0-9a-f]{64}-[0-9]{2,4}\.webp")
NO_STORE = {"Cache-Control": "no-store"}


class Snapshot(Struct, frozen=True):
    version: int
    picks: dict[str, int]
    images: frozenset[str]          # every candidate image shown: a change needs a reload
    fingerprint: tuple[tuple[str, int, int], ...]


class Review:
    """The served project: regenerates the page when its recipes, lock or cache record change."""

    def __init__(self, paths: Sequence[str], cwd: Path, out: Path | None) -> None:
        self.paths = list(paths)
        self.cwd = cwd
        self.token = secrets.token_urlsafe(24)
        self.lock = threading.Lock()
        self.prep = _prepare(self.paths, cwd)
        self.out = out or self.prep.project.root / STATE_DIR / "review"
        check_out(self.out, "index.html")
        self.snapshot = Snapshot(0, {}, frozenset(), ())
        self.refresh()

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """The stats of what the page is made from: the recipe files, the lock and project files,
        and the folders the recipe globs search (a recipe file added or removed changes one)."""
        from assetgen.run.stamp import glob_dirs

        root = self.prep.project.root
        files = [root / r.path for r in self.prep.project.recipes] + [root / "assetgen.lock"]
        if self.prep.project.config.file:
            files.append(root / self.prep.project.config.file)
        files += [root / d for d in glob_dirs(root, self.prep.project.config.recipes)]
        found = []
        for f in files:
            try:
                st = f.stat()
                found.append((str(f), st.st_mtime_ns, st.st_size))
            except OSError:
                found.append((str(f), 0, 0))
        return tuple(found)

    def refresh(self) -> Snapshot:
        """Load the project again and write the page; keeps the last good page on a recipe error."""
        with self.lock:
            fingerprint = self._fingerprint()
            self.prep = _prepare(self.paths, self.cwd)
            views = model.variants(self.prep)
            gallery.write(self.prep, self.out, serve=True, token=self.token)
            self.prep.files.save()
            images = frozenset(s for v in views for s in v.candidates if s)
            self.snapshot = Snapshot(self.snapshot.version + 1, gallery.picks_of(views), images, fingerprint)
            return self.snapshot

    def current(self) -> tuple[Snapshot, bool]:
        """The snapshot, refreshed when a file changed; and whether the page needs a reload."""
        old = self.snapshot
        if self._fingerprint() == old.fingerprint:
            return old, False
        try:
            new = self.refresh()
        except UserError:
            return old, False
        return new, new.images != old.images or new.picks.keys() != old.picks.keys()

    def variant(self, name: str) -> tuple[Variant, list[str]]:
        """The variant `name` of the project as it is now (a recipe may have changed since the page
        was made), and its asset's variants in its file."""
        self.current()
        variants = self.prep.project.variants()
        found = next((v for v in variants if v.name == name), None)
        if found is None:
            raise UserError(f"no variant '{name}'")
        return found, [v.name for v in variants if v.asset == found.asset and
                       self._recipe_of(v) == self._recipe_of(found)]

    def _recipe_of(self, variant: Variant) -> str:
        return next(r.path for r in self.prep.project.recipes if variant in r.variants)

    def pick(self, name: str, candidate: int) -> dict[str, Any]:
        variant, siblings = self.variant(name)
        n = variant.steps[-1].n
        if n == 1:      # a `pick: 0` would only add a line to the recipe
            raise UserError(f"{name} has one candidate: there is nothing to pick")
        if not 0 <= candidate < n:
            raise UserError(f"{name} has {n} candidate(s): there is no candidate {candidate}")
        recipe = self._recipe_of(variant)
        picks = self.snapshot.picks
        req = PickRequest(self.prep.project.root / recipe, variant.asset, name, candidate, siblings,
                          {v: picks.get(v, 0) for v in siblings})
        with self.lock:
            before = req.recipe.read_bytes()
            write_pick(req, self.prep.project.root)
        try:
            snap = self.refresh()
        except UserError as exc:        # the project does not take it: the recipe goes back as it was
            write_atomic(req.recipe.resolve(), before)      # (a link stays a link)
            raise UserError(f"{recipe} does not take this pick, left as it was: {exc}") from None
        return {"variant": name, "pick": snap.picks.get(name), "recipe": recipe,
                "picks": {v: snap.picks[v] for v in siblings if v in snap.picks}}

    def estimate(self, name: str) -> dict[str, Any]:
        self.variant(name)
        prep = _prepare(self.paths, self.cwd, only=[name], force=[name])
        data = plan_json(prep.plan, prep.resolution, dict(prep.project.config.pricing),
                         config=prep.project.config)
        calls = sum(1 for a in data["actions"] if a["status"] == "run" and a["op"] != "render")
        return {"variant": name, "calls": calls, "cost_usd": data["est_cost_usd"],
                "provider": prep.provider.value}

    def reroll(self, name: str) -> dict[str, Any]:
        from assetgen.run.build import BuildOptions, build

        self.variant(name)
        report = build(BuildOptions(paths=tuple(self.paths), cwd=self.cwd, only=(name,), force=(name,)))
        self.refresh()
        if report.failures:
            raise UserError("; ".join(f"{a}: {m}" for a, m in report.failures))
        return {"variant": name, "message": f"{report.actions_run} call(s) made, "
                                            f"{report.outputs_written} output(s) written"}


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _prepare(paths: Sequence[str], cwd: Path, only: Sequence[str] = (),
             force: Sequence[str] = ()) -> Prepared:
    """`prepare`, for a server that runs for hours: what reading the state files froze out of the
    collector's scans (`statefiles.load_json`, for a command's one run) is thawed again."""
    try:
        return prepare(paths, cwd, only=only, force=force)
    finally:
        gc.unfreeze()


def _allowed_hosts(host: str, port: int) -> set[str] | None:
    """The Host headers a loopback server answers (a page that rebinds its own name to 127.0.0.1
    sends its own name); None for another address, which the user chose to expose."""
    if host not in LOOPBACK:
        return None
    return {f"{n}:{port}" for n in ("127.0.0.1", "localhost", "[::1]")}


def create_app(review: Review, host: str, port: int) -> Starlette:
    allowed = _allowed_hosts(host, port)

    def known(request: Request) -> bool:
        return allowed is None or request.headers.get("host", "") in allowed

    def refused(request: Request) -> str | None:
        req_host = request.headers.get("host", "")
        if not known(request):
            return f"host {req_host!r} is not this server"
        origin = request.headers.get("origin")
        if origin is not None and origin != f"http://{req_host}":
            return "cross-origin writes are refused"
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return "expected a JSON body"
        token = request.headers.get("x-assetgen-token", "")
        if not hmac.compare_digest(token.encode(), review.token.encode()):
            return "missing or wrong X-Assetgen-Token"
        return None

    async def body(request: Request) -> dict[str, Any]:
        data = await request.json()
        if not isinstance(data, dict) or not isinstance(data.get("variant"), str):
            raise UserError("expected {\"variant\": NAME, ...}")
        return data

    async def index(request: Request) -> Response:
        if not known(request):
            return JSONResponse({"error": "unknown host"}, 403)
        await run_in_threadpool(review.current)
        return FileResponse(review.out / "index.html", headers=NO_STORE)

    async def image(request: Request) -> Response:
        name = request.path_params["name"]
        path = review.out / "img" / name
        if not IMAGE_NAME.fullmatch(name) or not path.is_file():
            return JSONResponse({"error": "not found"}, 404)
        return FileResponse(path, headers={"Cache-Control": "max-age=31536000, immutable"})

    async def state(request: Request) -> Response:
        if not known(request):
            return JSONResponse({"error": "unknown host"}, 403)
        snap, reload = await run_in_threadpool(review.current)
        return JSONResponse({"version": snap.version, "picks": snap.picks, "reload": reload},
                            headers=NO_STORE)

    def action(method: str):  # type: ignore[no-untyped-def]
        async def handle(request: Request) -> Response:
            why = refused(request)
            if why is not None:
                return JSONResponse({"error": why}, 403)
            try:
                data = await body(request)
                if method == "pick":
                    k = data.get("candidate")
                    if not isinstance(k, int) or isinstance(k, bool):
                        raise UserError("expected a candidate number")
                    result = await run_in_threadpool(review.pick, data["variant"], k)
                elif method == "estimate":
                    result = await run_in_threadpool(review.estimate, data["variant"])
                else:
                    if data.get("confirm") is not True:
                        raise UserError("a re-roll costs money: send confirm: true after the estimate")
                    result = await run_in_threadpool(review.reroll, data["variant"])
            except UserError as exc:
                return JSONResponse({"error": str(exc)}, 400)
            except ValueError:
                return JSONResponse({"error": "expected a JSON body"}, 400)
            return JSONResponse(result, headers=NO_STORE)
        return handle

    return Starlette(routes=[
        Route("/", index), Route("/index.html", index), Route("/img/{name}", image),
        Route("/api/state", state),
        Route("/api/pick", action("pick"), methods=["POST"]),
        Route("/api/estimate", action("estimate"), methods=["POST"]),
        Route("/api/reroll", action("reroll"), methods=["POST"]),
    ])


def serve(paths: Sequence[str], cwd: Path, out: Path | None, host: str, port: int) -> int:
    review = Review(paths, cwd, out)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)    # before the address is printed: a client that connects at once is queued
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    app = create_app(review, host, port)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    print(f"serving {review.out / 'index.html'} at http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()
    return ExitCode.OK
