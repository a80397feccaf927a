"""Emulator settings: one frozen value built from the `assetgen emulator` options."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from assetgen import catalog
from assetgen.emulator.errors import FILTER_CODES
from assetgen.errors import UserError

DEFAULT_BLOCK_WORD = "forbidden"


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves. `deployments` maps deployment name -> catalog model name;
    empty means every catalog model is a deployment of itself."""

    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str | None = None
    deployments: tuple[tuple[str, str], ...] = ()
    rpm: int | None = None
    latency: float = 0.0          # seconds per 1,000 output tokens
    fault_rate: float = 0.0       # fraction of image requests answered with 500, 503 or a dropped connection
    seed: int = 0
    block_word: str = DEFAULT_BLOCK_WORD
    log: Path | None = None
    filter_code: str = "content_policy_violation"   # the content-filter answer's shape (errors.FILTER_CODES)
    batch_delay: float = 5.0      # seconds from a batch's creation to its completion
    batch_hold: float = 0.0       # tests: seconds an upload or a batch create waits, done, before answering
    vary: bool = False            # each request's images differ (its number drawn in), as a real API's do
    cut_streams: bool = False     # tests: a streamed answer's connection is cut after its last event

    def __post_init__(self) -> None:
        for name, model in self.deployments:
            if catalog.get(model) is None:
                known = ", ".join(sorted(catalog.models()))
                raise UserError(f"--deployment {name}={model}: unknown model {model!r} (known: {known})")
        if self.filter_code not in FILTER_CODES:
            allowed = ", ".join(FILTER_CODES)
            raise UserError(f"--filter-code must be one of {allowed}, got {self.filter_code!r}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise UserError(f"--fault-rate must be between 0 and 1, got {self.fault_rate}")
        if self.rpm is not None and self.rpm < 1:
            raise UserError(f"--rpm must be at least 1, got {self.rpm}")
        if not (math.isfinite(self.batch_delay) and self.batch_delay >= 0):
            raise UserError(f"--batch-delay must be a finite number of seconds, at least 0, "
                            f"got {self.batch_delay}")
        if not math.isfinite(self.latency):
            raise UserError(f"--latency must be a finite number of seconds, got {self.latency}")
        if self.latency < 0:
            raise UserError(f"--latency must not be negative, got {self.latency}")
        if not 0 <= self.port <= 65535:
            raise UserError(f"--port must be between 0 and 65535, got {self.port}")

    def deployment_map(self) -> dict[str, str]:
        """Deployment name -> model name."""
        if self.deployments:
            return dict(self.deployments)
        return {name: name for name in catalog.models()}

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EmulatorConfig:
        return cls(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            deployments=tuple(parse_deployment(text) for text in args.deployment),
            rpm=args.rpm,
            latency=args.latency,
            fault_rate=args.fault_rate,
            seed=args.seed,
            block_word=args.block_word,
            log=Path(args.log) if args.log else None,
            filter_code=args.filter_code,
            batch_delay=args.batch_delay,
            vary=args.vary,
        )


def parse_deployment(text: str) -> tuple[str, str]:
    """`"img15-prod=gpt-image-1.5"` -> ("img15-prod", "gpt-image-1.5")."""
    name, sep, model = text.partition("=")
    if not sep or not name.strip() or not model.strip():
        raise UserError(f"--deployment expects NAME=MODEL, got {text!r}")
    return name.strip(), model.strip()
