"""Credentials for the HTTP providers: an API key in a header, or an Entra ID bearer token.

Every auth object can say where its secret comes from (for messages about refused credentials)
and which strings are secret (so that no error text ever carries them).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from assetgen.errors import UserError

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
REFRESH_MARGIN = 300.0      # seconds: a token is renewed this long before it expires


class Auth(Protocol):
    async def headers(self) -> dict[str, str]: ...

    def describe(self) -> str: ...

    def secrets(self) -> tuple[str, ...]: ...

    async def aclose(self) -> None: ...


class KeyAuth:
    """A key sent as `api-key: KEY` (Azure) or `Authorization: Bearer KEY` (OpenAI)."""

    def __init__(self, key: str, source: str, *, bearer: bool = False) -> None:
        self._key = key
        self._source = source
        self._bearer = bearer

    async def headers(self) -> dict[str, str]:
        if self._bearer:
            return {"Authorization": f"Bearer {self._key}"}
        return {"api-key": self._key}

    def describe(self) -> str:
        return f"the API key in {self._source}"

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)

    async def aclose(self) -> None:
        return None


class TokenAuth:
    """An Entra ID token from any TokenCredential (sync or async `get_token(scope)`), reused
    until `REFRESH_MARGIN` seconds before it expires."""

    def __init__(self, credential: Any, *, owned: bool = False, scope: str = ENTRA_SCOPE,
                 clock: Callable[[], float] = time.time, why: str = "") -> None:
        self._credential = credential
        self._why = why                      # why Entra ID is used, for messages
        self._owned = owned                  # created here: closed here
        self._scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0                     # tokens obtained, for tests and diagnostics

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_on - REFRESH_MARGIN:
                access = await self._get_token()
                self._token, self._expires_on = access.token, float(access.expires_on)
                self.fetched += 1
            return self._token

    async def _get_token(self) -> Any:
        get_token = self._credential.get_token
        if inspect.iscoroutinefunction(get_token):
            return await get_token(self._scope)
        result = await asyncio.to_thread(get_token, self._scope)
        return await result if inspect.isawaitable(result) else result

    @property
    def credential(self) -> Any:
        return self._credential

    @property
    def why(self) -> str:
        return self._why

    def describe(self) -> str:
        why = f"; {self._why}" if self._why else ""
        return f"the Entra ID credential ({type(self._credential).__name__}, scope {self._scope}{why})"

    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    async def aclose(self) -> None:
        if not self._owned:
            return
        close = getattr(self._credential, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


def describe_failure(auth: Auth, exc: Exception) -> str:
    """One line for credentials that could not be had. azure-identity's DefaultAzureCredential
    lists every credential it tried, one per line; what matters is whether a key was set and what
    `az login` said."""
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else type(exc).__name__
    if not isinstance(auth, TokenAuth):
        return f"could not get credentials from {auth.describe()}: {first}"
    tried = dict(re.findall(r"^\s*(\w+Credential): *(.+?)\s*$", text, re.M))   # the ones it tried, in order
    if "AzureCliCredential" in tried:
        said = f"az login: {tried['AzureCliCredential']}"
    elif tried:
        said = ": ".join(next(iter(tried.items())))
    else:
        said = first
    if len(said) > 160:
        said = said[:159] + "…"
    name = type(auth.credential).__name__
    if auth.why:            # auth: auto, and no key
        return (f"no credentials: {auth.why}, and Entra ID ({name}) found none ({said}); set "
                f"{auth.why.split()[0]}, or sign in with `az login`")
    return f"Entra ID ({name}) gave no token ({said}); sign in with `az login`, or check its settings"


def default_credential() -> Any:
    """azure-identity's DefaultAzureCredential (imported only when Entra ID is used).

    The synchronous one: its async twin needs aiohttp, which assetgen does not depend on.
    `TokenAuth` calls it in a worker thread."""
    from azure.identity import DefaultAzureCredential

    # its failures reach the user in our own message; without this they also go to stderr as a log line
    logging.getLogger("azure.identity").setLevel(logging.ERROR)
    try:
        return DefaultAzureCredential()
    except ValueError as exc:        # e.g. an unknown $AZURE_TOKEN_CREDENTIALS
        raise UserError(f"azure provider: cannot set up Entra ID credentials: {exc}") from None


def clean_key(key: str | None, provider: str, source: str) -> str | None:
    """A key from the environment as it can be sent: surrounding whitespace (a pasted space, the CR of
    a Windows-edited env file) dropped; None when nothing is left. A character no HTTP header can
    carry is a UserError that never shows the key."""
    key = (key or "").strip()
    if not key:
        return None
    if not all(" " <= c <= "~" for c in key):
        raise UserError(f"{provider} provider: {source} holds a character that cannot be sent in an HTTP "
                        f"header (only printable ASCII can); check how it was set")
    return key


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` without any secret, written as is or escaped (as in the repr of a header value)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            escaped = repr(secret)[1:-1]
            if escaped != secret:
                text = text.replace(escaped, "***")
    return text
