"""Reporters: turn executor events into a live display (terminal) or plain lines (anything else)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from assetgen.run.events import Event, Kind


class PlainReporter:
    """One line per finished, failed or started-build event."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream: TextIO | None = stream or sys.stdout
        self.total = 0
        self.done = 0

    def __call__(self, event: Event) -> None:
        if event.kind is Kind.STARTED:
            self.total = event.queued + event.blocked
            blocked = f", {event.blocked} blocked" if event.blocked else ""
            self._line(f"{event.total} actions, {event.queued} to run{blocked}")
        elif event.kind is Kind.ACTION_DONE:
            self.done += 1
            what = f"wrote {event.wrote}" if event.wrote else event.kept or ", ".join(event.assets)
            self._line(f"[{self.done}/{self.total}] {event.op} {what}")
        elif event.kind is Kind.ACTION_FAILED:
            self.done += 1
            names = ", ".join(event.assets)
            self._line(f"[{self.done}/{self.total}] FAILED {event.op} {names}: {event.message}")
        elif event.kind is Kind.INTERRUPTED:
            self._line("interrupted: finishing the actions in flight (Ctrl-C again to quit at once)")

    def _line(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            print(text, file=self.stream, flush=True)
        except BrokenPipeError:     # `assetgen build | head`: the build goes on, saving everything
            self.stream = None

    def close(self) -> None:
        return None


class LiveReporter:
    """A rich live display: done / running / queued, requests per minute and an ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=8, transient=False)
        self.total = self.done = self.running = self.failed = self.requests = 0
        self.start = time.monotonic()
        self.note = ""
        self.live.start()

    def __call__(self, event: Event) -> None:
        if event.kind is Kind.STARTED:
            self.total = event.queued + event.blocked
        elif event.kind is Kind.ACTION_START:
            self.running += 1
        elif event.kind is Kind.ACTION_STOPPED:
            self.running -= 1
            self.requests += event.requests
        elif event.kind in (Kind.ACTION_DONE, Kind.ACTION_FAILED):
            self.running -= 1
            self.done += 1
            self.requests += event.requests
            if event.kind is Kind.ACTION_FAILED:
                self.failed += 1
                self.console.print(f"[red]failed[/red] {', '.join(event.assets)}: {event.message}")
        elif event.kind is Kind.INTERRUPTED:
            self.note = " - interrupted, finishing in-flight actions"
        self.live.update(self._text())

    def _text(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rpm = self.requests * 60 / elapsed
        left = self.total - self.done
        eta = f"{left * elapsed / self.done:.0f}s" if self.done else "?"
        return (f"done {self.done}/{self.total}  running {self.running}  queued {max(0, left - self.running)}"
                f"  failed {self.failed}  {rpm:.1f} req/min  ETA {eta}{self.note}")

    def close(self) -> None:
        self.live.stop()
