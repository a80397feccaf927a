"""Credentials: token reuse until near expiry, key headers, redaction."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from assetgen.errors import UserError
from assetgen.providers.auth import REFRESH_MARGIN, KeyAuth, TokenAuth, redact
from assetgen.providers.azure import AuthMode, make_auth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.issued = 0
        self.closed = False

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.issued += 1
        return AccessToken(f"tok-{self.issued}", int(self.clock.now) + 3600)

    def close(self) -> None:
        self.closed = True


def test_token_is_reused_until_near_expiry() -> None:
    clock = Clock()
    credential = Counting(clock)
    auth = TokenAuth(credential, clock=clock)

    async def go() -> list[str]:
        seen = [await auth.token()]
        clock.now += 3600 - REFRESH_MARGIN - 1
        seen.append(await auth.token())
        clock.now += 2
        seen.append(await auth.token())
        return seen

    assert asyncio.run(go()) == ["tok-1", "tok-1", "tok-2"]
    assert auth.secrets() == ("tok-2",)


def test_concurrent_first_use_fetches_one_token() -> None:
    clock = Clock()
    credential = Counting(clock)
    auth = TokenAuth(credential, clock=clock)

    async def go() -> list[dict[str, str]]:
        return list(await asyncio.gather(*(auth.headers() for _ in range(10))))

    assert asyncio.run(go()) == [{"Authorization": "Bearer tok-1"}] * 10
    assert credential.issued == 1


def test_only_an_owned_credential_is_closed() -> None:
    given, owned = Counting(Clock()), Counting(Clock())
    asyncio.run(TokenAuth(given).aclose())
    asyncio.run(TokenAuth(owned, owned=True).aclose())
    assert (given.closed, owned.closed) == (False, True)


def test_key_headers() -> None:
    assert asyncio.run(KeyAuth("k1", "$X").headers()) == {"api-key": "k1"}
    assert asyncio.run(KeyAuth("k1", "$X", bearer=True).headers()) == {"Authorization": "Bearer k1"}


def test_auto_uses_the_key_when_set_and_the_credential_otherwise() -> None:
    credential = Counting(Clock())
    assert isinstance(make_auth(AuthMode.AUTO, {"AZURE_OPENAI_API_KEY": "k"}), KeyAuth)
    assert isinstance(make_auth(AuthMode.AUTO, {}, credential), TokenAuth)
    assert isinstance(make_auth(AuthMode.ENTRA, {"AZURE_OPENAI_API_KEY": "k"}, credential), TokenAuth)
    with pytest.raises(UserError):
        make_auth(AuthMode.KEY, {}, credential)


def test_redact_removes_every_secret() -> None:
    assert redact("key sk-1 and tok-2 here", ("sk-1", "tok-2", "")) == "key *** and *** here"


def test_redact_removes_the_escaped_form_of_a_secret_too() -> None:
    assert redact("Illegal header value b'k\\r1'", ("k\r1",)) == "Illegal header value b'***'"
