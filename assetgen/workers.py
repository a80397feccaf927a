"""Worker processes for CPU work (drawing placeholders, rendering), one per core, fed in chunks.

A job is a module-level function and its arguments; `Workers.run` awaits one job's result. Jobs
go out in chunks: those handed over within one turn of the event loop, or while every worker had
work queued, go together, so a chunk of small jobs costs one round trip instead of one each (and
no thread of this process waits on each job). Workers start from a `forkserver` with the named
modules imported; each imports the program's main module again, which must then do nothing
(`main_is_guarded`). A worker that dies leaves the rest to a thread of this process; a worker whose
build has died (killed) stops before its next job.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

Job = tuple[Callable[..., Any], tuple[Any, ...]]
Waiting = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def main_is_guarded() -> bool:
    """Whether worker processes may start: each imports the program's main module again, which must
    then do nothing (`python -m assetgen`, the `assetgen` script, a script that runs only under
    `if __name__ == "__main__"`); a script that builds at import would build again in each worker."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None:
        return name == "__main__" or name.endswith(".__main__")
    try:
        with open(getattr(main, "__file__", "") or "", encoding="utf-8") as fh:
            text = fh.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"""^if __name__ == ['"]__main__['"]:""", text, re.MULTILINE) is not None


def usable() -> int:
    """How many worker processes this program may use: one per core, or 0 (stay in this process)."""
    n = cores()
    return n if n >= 2 and main_is_guarded() else 0


_parent = 0      # in a worker: the process that started it (the forkserver, which ends with the build)


def _start_worker() -> None:
    """A worker leaves Ctrl-C and SIGTERM (sent to the whole process group) to the build, which
    lets the jobs in progress finish."""
    global _parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _parent = os.getppid()


def run_chunk(jobs: Sequence[Job]) -> list[tuple[bool, Any]]:
    """Run `jobs` in order: (True, result) or (False, the exception) for each."""
    done: list[tuple[bool, Any]] = []
    for fn, args in jobs:
        if _parent and os.getppid() != _parent:     # the build is gone: write nothing more
            os._exit(1)
        try:
            done.append((True, fn(*args)))
        except Exception as exc:    # noqa: BLE001 - handed back to the job's caller, raised there
            done.append((False, exc))
    return done


class Workers:
    """A pool of `size` worker processes (or a thread of this process when `size` < 2).

    At most two chunks per worker are out at once (one running, one queued behind it): the jobs
    handed over meanwhile wait here and go out together when a chunk comes back."""

    def __init__(self, size: int, preload: Sequence[str] = ()) -> None:
        self.size = size
        self._preload = list(preload)
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: list[Waiting] = []
        self._flushing = False
        self._out = 0       # chunks sent, not yet back
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in a worker; its exception is raised here."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((fn, args, fut))
        self._later()
        return await fut

    def _later(self) -> None:
        """Flush once the jobs handed over in this turn of the event loop are all waiting."""
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        free = 2 * max(1, self.size) - self._out
        if not self._waiting or free <= 0:
            return
        jobs, self._waiting = self._waiting, []
        per = -(-len(jobs) // min(free, len(jobs)))
        for i in range(0, len(jobs), per):
            self._out += 1
            task = asyncio.ensure_future(self._send(jobs[i:i + per]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, jobs: list[Waiting]) -> None:
        chunk = [(fn, args) for fn, args, _ in jobs]
        try:
            outcomes = await self._submit(chunk)
        except asyncio.CancelledError:
            for _, _, fut in jobs:
                fut.cancel()
            raise
        except Exception as exc:    # noqa: BLE001 - every job of the chunk fails with it
            outcomes = [(False, exc)] * len(jobs)
        finally:
            self._out -= 1
            if self._waiting:
                self._later()
        for (_, _, fut), (ok, value) in zip(jobs, outcomes, strict=True):
            if fut.done():
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    async def _submit(self, chunk: list[Job]) -> list[tuple[bool, Any]]:
        if self.size >= 2:
            try:
                pool = self._start()
            except (ValueError, OSError):   # no forkserver here (Windows), or no process to start
                self.size = 1
            else:
                from concurrent.futures.process import BrokenProcessPool

                try:
                    return await asyncio.wrap_future(pool.submit(run_chunk, chunk))
                except BrokenProcessPool:   # a worker died (killed, out of memory): work here from now on
                    self.size = 1
        return await asyncio.to_thread(run_chunk, chunk)

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing  # with the pool: a build of a few images starts none
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("forkserver")   # not fork: this process has threads
            if self._preload:
                context.set_forkserver_preload(self._preload)     # workers start with these imported
            self._pool = ProcessPoolExecutor(self.size, mp_context=context, initializer=_start_worker)
        return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
