"""Reading an image request: the key (either header) and the body (JSON, or multipart for edits)."""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from assetgen.emulator import errors, uploads
from assetgen.emulator.errors import Mode
from assetgen.recipe.model import Op

MAX_EDIT_FILES = 64


def authenticate(request: Request, expected_key: str | None, mode: Mode) -> None:
    key = request.headers.get("api-key", "").strip()
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise errors.unauthorized(mode, key_given=False)
    if expected_key is not None and not hmac.compare_digest(key.encode(), expected_key.encode()):
        raise errors.unauthorized(mode, key_given=True)


async def read_body(request: Request, op: Op) -> tuple[dict[str, Any], uploads.EditForm | None]:
    content_type = request.headers.get("content-type", "")
    if op is Op.EDIT and content_type.startswith("multipart/form-data"):
        try:
            async with request.form(max_files=MAX_EDIT_FILES, max_part_size=8 * 1024 * 1024) as raw:
                form = await uploads.read_form(raw)
        except (HTTPException, MultiPartException) as exc:
            message = exc.detail if isinstance(exc, HTTPException) else exc.message
            raise errors.openai_error(400, f"Invalid multipart body: {message}",
                                      code="invalid_multipart") from None
        return dict(form.fields), form
    if op is Op.EDIT:
        raise errors.openai_error(
            400, "Invalid Content-Type header ({}), expected multipart/form-data.".format(
                content_type or "none"), code="invalid_content_type")
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise errors.openai_error(
            400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
            "was not valid JSON.)")
    return body, None


def describe_files(form: uploads.EditForm) -> dict[str, Any]:
    described: dict[str, Any] = {"image[]": [u.describe() for u in form.images]}
    if form.mask is not None:
        described["mask"] = form.mask.describe()
    return described
