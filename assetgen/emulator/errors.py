"""Error envelopes as the real services send them.

Validation errors use the OpenAI envelope `{"error": {message, type, param, code}}` on every path
(Azure answers gpt-image validation errors with it too). Gateway errors on Azure paths (401, 404,
429, 5xx, content filter, unsupported operation) use Azure's own shapes (reference section 6.2).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

INVALID_REQUEST = "invalid_request_error"


class Mode(enum.Enum):
    """Which service a path emulates: errors and response fields differ."""

    AZURE = "azure"       # /openai/deployments/{d}/images/... and /openai/v1/images/...
    OPENAI = "openai"     # /v1/images/...

    @property
    def catalog_key(self) -> str:
        """The key of `ModelSpec.output_formats` for this service."""
        return self.value


class ApiError(Exception):
    """A request the emulator refuses: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code")


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str = INVALID_REQUEST) -> ApiError:
    return ApiError(status, {"error": {"message": message, "type": type_, "param": param, "code": code}})


def azure_error(status: int, code: str, message: str, **extra: Any) -> ApiError:
    return ApiError(status, {"error": {"code": code, "message": message, **extra}})


def quoted_list(values: Sequence[str]) -> str:
    """`['a', 'b', 'c']` -> `'a', 'b', and 'c'` as the OpenAI messages write it."""
    items = [f"'{v}'" for v in values]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def invalid_value(param: str, value: Any, supported: Sequence[str]) -> ApiError:
    return openai_error(400, f"Invalid value: '{value}'. Supported values are: {quoted_list(supported)}.",
                        param=param, code="invalid_value")


def unknown_parameter(param: str) -> ApiError:
    return openai_error(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def missing_parameter(param: str) -> ApiError:
    return openai_error(400, f"Missing required parameter: '{param}'.", param=param,
                        code="missing_required_parameter")


def invalid_type(param: str, expected: str, got: str) -> ApiError:
    return openai_error(400, f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
                        param=param, code="invalid_type")


def above_max(param: str, maximum: int, value: int) -> ApiError:
    return openai_error(
        400, f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, "
        f"but got {value} instead.", param=param, code="integer_above_max_value")


def below_min(param: str, minimum: int, value: int) -> ApiError:
    return openai_error(
        400, f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
        f"but got {value} instead.", param=param, code="integer_below_min_value")


def unauthorized(mode: Mode, key_given: bool) -> ApiError:
    if mode is Mode.AZURE:
        return azure_error(
            401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
            "provide a valid key for an active subscription and use a correct regional API endpoint "
            "for your resource.")
    if not key_given:
        return openai_error(
            401, "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
    return openai_error(401, "Incorrect API key provided. You can find your API key at "
                        "https://platform.openai.com/account/api-keys.", code="invalid_api_key")


def deployment_not_found() -> ApiError:
    return azure_error(
        404, "DeploymentNotFound", "The API deployment for this resource does not exist. If you created "
        "the deployment within the last 5 minutes, please wait a moment and try again.")


def resource_not_found() -> ApiError:
    return azure_error(404, "404", "Resource not found")


def missing_api_version() -> ApiError:
    return azure_error(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")


def operation_not_supported(operation: str, model: str) -> ApiError:
    return azure_error(
        400, "OperationNotSupported", f"The {operation} operation does not work with the specified model, "
        f"{model}. Please choose different model and try again. You can learn more about which models "
        "can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.")


FILTER_CODES = ("content_policy_violation", "contentFilter", "moderation_blocked")


def v1_needs_preview(api_version: str | None) -> ApiError:
    """An image call on Azure's v1 path without api-version=preview: the GA flavour of v1 has no image
    operations (reference section 1.2). Azure's exact answer is not in the sources; this is ours."""
    sent = f"api-version '{api_version}' was sent" if api_version else "no api-version was sent"
    return azure_error(400, "BadRequest", f"Image operations of the v1 API exist only in its preview "
                       f"flavour: add the query api-version=preview ({sent}).", type="error")


def content_filtered(mode: Mode, code: str = "content_policy_violation", *, v1: bool = False,
                     created: int = 0) -> ApiError:
    """A refused prompt in one of the shapes the services send (reference section 6):
    `content_policy_violation` (OpenAI; Azure with `inner_error`), Azure's documented `contentFilter`
    (with `created`, code and message only) or `moderation_blocked` (gpt-image through Azure).
    On the OpenAI path `contentFilter` is answered as `content_policy_violation`: OpenAI never sends it.
    Azure's `type`: `invalid_request_error` on the deployment path (as observed), `error` on v1
    (the v1 spec documents it as always "error")."""
    message = ("Your request was rejected as a result of our safety system. Your prompt may contain text "
               "that is not allowed by our safety system.")
    if code == "moderation_blocked":
        blocked = ("Your request was rejected by the safety system. If you believe this is an error, "
                   "contact us. safety_violations=[violence].")
        return openai_error(400, blocked, param="", code="moderation_blocked",
                            type_="image_generation_user_error")
    if mode is Mode.OPENAI:
        return openai_error(400, message, code="content_policy_violation")
    if code == "contentFilter":
        return ApiError(400, {"created": created, "error": {
            "code": "contentFilter", "message": "Your task failed as a result of our safety system."}})
    results = {
        "hate": {"filtered": False, "severity": "safe"},
        "jailbreak": {"detected": False, "filtered": False},
        "self_harm": {"filtered": False, "severity": "safe"},
        "sexual": {"filtered": False, "severity": "safe"},
        "violence": {"filtered": True, "severity": "high"},
    }
    inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_results": results}
    return azure_error(400, "content_policy_violation", message, type="error" if v1 else INVALID_REQUEST,
                       param="prompt", inner_error=inner)


def rate_limited(mode: Mode, operation: str, api_version: str | None, retry_s: int,
                 headers: dict[str, str]) -> ApiError:
    if mode is Mode.OPENAI:
        error = openai_error(
            429, f"Rate limit exceeded for images per minute. Please try again in {retry_s}s.",
            code="rate_limit_exceeded", type_="requests")
    else:
        error = azure_error(
            429, "429", f"Requests to the {operation} Operation under Azure OpenAI API version "
            f"{api_version or 'v1'} have exceeded call rate limit of your current AIServices S0 pricing "
            f"tier. Please retry after {retry_s} seconds.")
    error.headers.update(headers)
    return error


def server_error(mode: Mode, status: int) -> ApiError:
    if status == 503:
        message = "The service is temporarily unable to process your request. Please try again later."
        return (openai_error(503, message, type_="server_error") if mode is Mode.OPENAI
                else azure_error(503, "ServiceUnavailable", message))
    message = "The server had an error while processing your request. Sorry about that!"
    return (openai_error(500, message, type_="server_error") if mode is Mode.OPENAI
            else azure_error(500, "InternalServerError", message))
