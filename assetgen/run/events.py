"""Progress as events: the executor emits them, a reporter renders them. The executor never prints."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field


class Kind(enum.Enum):
    STARTED = "started"        # the build starts: `total` actions, `queued` of them to execute
    ACTION_START = "action_start"
    ACTION_DONE = "action_done"
    ACTION_FAILED = "action_failed"
    ACTION_STOPPED = "action_stopped"   # a call that ended before sending: the build is stopping
    INTERRUPTED = "interrupted"
    ACTIVITY = "activity"      # `activity` says what the provider's calls under way are doing


@dataclass(frozen=True)
class Event:
    kind: Kind
    action: str = ""           # action id
    op: str = ""               # generate | edit | render
    assets: tuple[str, ...] = ()
    message: str = ""
    total: int = 0
    queued: int = 0            # STARTED: actions to run
    blocked: int = 0           # STARTED: actions blocked (a lost locked image), and what needs them
    requests: int = 0          # HTTP requests this action sent
    wrote: str = ""            # the output path written, for renders that changed a file
    cause: str = ""            # ACTION_FAILED: the part of `message` every failure of the same cause shares
    activity: Callable[[], str] | None = field(default=None, compare=False)
    kept: str = ""             # why a render left its output as it was (changed by hand)
    part: str = ""             # STARTED of a build in parts (`run.parts`): "part 2 of 5"


Sink = Callable[[Event], None]


def discard(event: Event) -> None:
    return None
