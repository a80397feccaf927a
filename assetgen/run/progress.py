"""Reporters: turn executor events into a live display (terminal) or plain lines (anything else).

A failure's cause is said once: later failures of the same cause (every call to an endpoint that
cannot be reached, to a missing deployment) only count, or give what differs (the prompt).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from assetgen.run.events import Event, Kind


class PlainReporter:
    """One line per finished, failed or started-build event."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream: TextIO | None = stream or sys.stdout
        self.total = 0
        self.done = 0
        self.causes = Causes()

    def __call__(self, event: Event) -> None:
        if event.kind is Kind.STARTED:     # (once a part, in a build in parts: counted on)
            self.total += event.queued + event.blocked
            blocked = f", {event.blocked} blocked" if event.blocked else ""
            part = f"{event.part}: " if event.part else ""
            self._line(f"{part}{event.total} actions, {event.queued} to run{blocked}")
        elif event.kind is Kind.ACTION_DONE:
            self.done += 1
            what = f"wrote {event.wrote}" if event.wrote else event.kept or ", ".join(event.assets)
            self._line(f"[{self.done}/{self.total}] {event.op} {what}")
        elif event.kind is Kind.ACTION_FAILED:
            self.done += 1
            names = ", ".join(event.assets)
            self._line(f"[{self.done}/{self.total}] FAILED {event.op} {names}{self.causes.say(event)}")
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


class Causes:
    """The failure causes said so far."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}     # cause -> the first assets it hit

    def say(self, event: Event) -> str:
        """': MESSAGE' the first time a cause is seen; after that ' (as NAME): DETAIL' or ' (as NAME)'."""
        cause = event.cause or event.message
        first = self.seen.get(cause)
        if first is None:
            self.seen[cause] = ", ".join(event.assets)
            return f": {event.message}"
        detail = event.message[len(cause):].removeprefix(": ") if event.message.startswith(cause) else ""
        return f" (as {first})" + (f": {detail}" if detail else "")


class LiveReporter:
    """A rich live display: done / running / queued, requests per minute and an ETA, and what the
    calls under way wait for (a quota slot, a retry, a connection)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self.total = self.done = self.running = self.failed = self.requests = 0
        self.start = time.monotonic()
        self.note = ""
        self.causes = Causes()
        self.activity: Callable[[], str] | None = None
        self.live.start()

    def __call__(self, event: Event) -> None:
        if event.kind is Kind.STARTED:
            self.total += event.queued + event.blocked
            self.note = f"  ({event.part})" if event.part else self.note
        elif event.kind is Kind.ACTIVITY:
            self.activity = event.activity
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
                said = self.causes.say(event)
                if not said.startswith(" (as "):     # a cause already said only counts
                    from rich.markup import escape

                    self.console.print(f"[red]failed[/red] {escape(', '.join(event.assets))}{escape(said)}")
        elif event.kind is Kind.INTERRUPTED:
            self.note = " - interrupted, finishing in-flight actions"
        self.live.refresh()

    def __rich__(self) -> str:
        """Drawn at each refresh, so waits count down between events."""
        from rich.markup import escape

        text = escape(self._text())
        doing = self.activity() if self.activity is not None and self.running else ""
        return f"{text}\n  {escape(doing)}" if doing else text

    def _text(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rpm = self.requests * 60 / elapsed
        left = self.total - self.done
        eta = f"{left * elapsed / self.done:.0f}s" if self.done else "?"
        return (f"done {self.done}/{self.total}  running {self.running}  queued {max(0, left - self.running)}"
                f"  failed {self.failed}  {rpm:.1f} req/min  ETA {eta}{self.note}")

    def close(self) -> None:
        self.live.stop()
