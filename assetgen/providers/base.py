"""The provider seam: one Protocol, and a registry of kinds.

A provider turns one `ImageRequest` into one `ImageResult`. HTTP providers own their wire format,
authentication, quota pacing and retries; the build's executor only owns the DAG and `-j`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from msgspec import Struct, field

from assetgen.recipe.model import Op


class InputImage(Struct, frozen=True):
    filename: str        # e.g. "banner-sky.png": sent as the part's filename
    data: bytes
    content_type: str    # image/png | image/jpeg | image/webp


class ImageRequest(Struct, frozen=True):
    op: Op
    model: str
    prompt: str
    params: dict[str, Any]              # API parameters the recipe set (model and prompt excluded)
    label: str = ""                     # the variant name: the local provider draws it
    history: tuple[str, ...] = ()       # `api: responses`: the earlier turns' text, oldest first
    images: tuple[InputImage, ...] = () # edits: the working image first, then references
    mask: InputImage | None = None
    partial_images: int | None = None   # stream with previews when set
    on_partial: Callable[[int, bytes], Awaitable[None] | None] | None = None


class ImageResult(Struct, frozen=True):
    images: tuple[bytes, ...]           # one per candidate, encoded as the API returned them
    usage: dict[str, Any] = field(default_factory=dict)
    requests: int = 1                   # HTTP requests sent for this result, retries included
    revised_prompt: str | None = None
    served_by: str = ""                 # the deployment that made it (recorded, never part of a key)


class ProviderError(Exception):
    """A call failed for one asset. `retryable` is False for filtered or invalid requests.

    `message` is the cause, the same for every call that fails for the same reason; `detail` what
    is this call's own (the prompt the safety system refused). `str()` is both. `about_recipe`
    marks a failure caused by what the recipe asks (filtered, a parameter refused): its message is
    worth the recipe's FILE:LINE. `filtered`: the content filter refused it (the build remembers)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 fatal: bool = False, requests: int = 1, detail: str = "",
                 about_recipe: bool = False, filtered: bool = False) -> None:
        super().__init__(f"{message}: {detail}" if detail else message)
        self.cause = message
        self.detail = detail
        self.about_recipe = about_recipe
        self.filtered = filtered
        self.status = status
        self.retryable = retryable
        self.fatal = fatal          # stops the whole build (bad credentials)
        self.requests = requests


class NotSent(Exception):
    """A call ended before sending the request that would have made its image, because the build is
    stopping (first Ctrl-C, refused credentials). Nothing was paid for; `requests` counts what it did
    send before (answers 429 or 5xx)."""

    def __init__(self, requests: int = 0) -> None:
        super().__init__("not sent: the build is stopping")
        self.requests = requests


class Provider(Protocol):
    kind: str   # "local" | "azure" | "openai": part of every cache key

    async def run(self, request: ImageRequest) -> ImageResult: ...

    def stop(self) -> None:
        """Send no new request: calls waiting (for quota, a backoff) raise NotSent; calls on the
        wire finish."""

    async def aclose(self) -> None: ...

    def activity(self) -> str:
        """What the calls under way are doing, for a live display ("" when nothing to say)."""
