"""Where the remote cache is and what a build may do with it (SPEC section 11).

`cache: {remote: URL, remote_mode: read|write|off}` in assetgen.yaml, or $ASSETGEN_REMOTE_CACHE and
$ASSETGEN_REMOTE_CACHE_MODE (the environment wins, so CI can turn writing on for one job).
"""

from __future__ import annotations

import enum
import os
import urllib.parse
from collections.abc import Mapping

from msgspec import Struct

from assetgen.errors import UserError
from assetgen.recipe.model import CacheConfig

URL_ENV = "ASSETGEN_REMOTE_CACHE"
MODE_ENV = "ASSETGEN_REMOTE_CACHE_MODE"
SCHEMES = ("az", "s3", "gs", "file")
EXAMPLES = "az://CONTAINER/PREFIX, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or file:///PATH"


class Mode(enum.Enum):
    READ = "read"       # the default: look up, never write
    WRITE = "write"     # look up and upload (trusted CI on the main branch)
    OFF = "off"


class RemoteSpec(Struct, frozen=True):
    url: str
    scheme: str        # az | s3 | gs | file
    bucket: str        # container or bucket; the folder for file://
    prefix: str        # "" or a path without leading or trailing slashes
    mode: Mode

    @property
    def writes(self) -> bool:
        return self.mode is Mode.WRITE


def remote_spec(config: CacheConfig, env: Mapping[str, str] | None = None) -> RemoteSpec | None:
    """The remote cache to use, or None (none configured, or mode off)."""
    env = os.environ if env is None else env
    url = env.get(URL_ENV) or config.remote
    mode_text = env.get(MODE_ENV) or config.remote_mode or Mode.READ.value
    where = f"${MODE_ENV}" if env.get(MODE_ENV) else "cache.remote_mode"
    try:
        mode = Mode(mode_text.strip().lower())
    except ValueError:
        raise UserError(f"{where}: {mode_text!r} is not one of: read, write, off") from None
    if not url or mode is Mode.OFF:
        return None
    source = f"${URL_ENV}" if env.get(URL_ENV) else "cache.remote"
    return parse_url(url, mode, source)


def shown(url: str) -> str:
    """`url` as it may be printed: a user name or password, a query and a fragment (where a key or a
    SAS token would be) as `***`."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return "***"
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    query = "?***" if parts.query else ""
    fragment = "#***" if parts.fragment else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query + fragment


def parse_url(url: str, mode: Mode, source: str = "cache.remote") -> RemoteSpec:
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        raise UserError(f"{source}: {shown(url)!r} is not a remote cache URL; expected {EXAMPLES}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UserError(f"{source}: {shown(url)!r} is not a remote cache URL; expected {EXAMPLES}")
    if "@" in parts.netloc or parts.query or parts.fragment:    # a secret in a URL gets printed
        raise UserError(f"{source}: {shown(url)!r} has a user name, password, query or fragment in it; "
                        "the credentials go in the environment (README: Sharing work), never in the URL")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UserError(f"{source}: {url!r}: a file URL names an absolute folder, e.g. file:///srv/cache")
        return RemoteSpec(url, scheme, urllib.parse.unquote(parts.path), "", mode)
    if not parts.netloc:
        raise UserError(f"{source}: {url!r} names no container or bucket; expected {EXAMPLES}")
    prefix = urllib.parse.unquote(parts.path).strip("/")
    if any(seg in ("", ".", "..") for seg in prefix.split("/")) and prefix:
        raise UserError(f"{source}: {url!r}: the prefix may not contain empty, '.' or '..' parts")
    return RemoteSpec(url, scheme, parts.netloc, prefix, mode)
