"""Canonical hashing: the one place that turns a request description into a cache key.

A key is the sha256 of canonical JSON (sorted keys, compact separators, no NaN) of a dict that
always carries the key-format version. Mtimes and sizes never enter a key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from assetgen.catalog import NON_IMAGE_PARAMS

KEY_VERSION = 1


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(value: dict[str, Any]) -> str:
    """sha256 hex of the canonical form of `value` plus the key-format version."""
    return hashlib.sha256(canonical({**value, "key_version": KEY_VERSION}).encode("utf-8")).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_params(params: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The request parameters that can change the image (model excluded: it has its own field)."""
    return {k: v for k, v in params if k not in NON_IMAGE_PARAMS and k != "model"}
