"""The offline server that speaks the Azure OpenAI / OpenAI image API (see README.md here).

`create_app(config)` builds the ASGI app; `testing.run_emulator(...)` serves it in-process.
"""

from assetgen.emulator.app import create_app
from assetgen.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
