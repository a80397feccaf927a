"""`assetgen emulator`: serve the offline Azure OpenAI / OpenAI image API until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from assetgen.emulator.app import create_app
from assetgen.emulator.config import EmulatorConfig


def main(args: argparse.Namespace) -> int:
    config = EmulatorConfig.from_args(args)
    base = f"http://{config.host}:{config.port}"
    print(f"assetgen emulator: serving on {base}  (AZURE_OPENAI_ENDPOINT={base}, OpenAI base_url={base}/v1)",
          file=sys.stderr)
    uvicorn.run(create_app(config), host=config.host, port=config.port, http="h11", lifespan="off",
                log_level="warning")
    return 0
