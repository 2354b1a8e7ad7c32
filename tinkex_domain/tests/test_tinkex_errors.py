"""Typed errors from ``tinkex_domain`` and the ``user_error`` / ``retry_after_ms`` helpers,
including a real 429 from a loopback server."""

from __future__ import annotations

import email.utils

import pytest

import tinkex_domain
from pristine_core import Client
from pristine_testing import LoopbackServer, json_reply
from tinkex_domain import RateLimitError, ValidationError, retry_after_ms, user_error
from tinkex_domain.errors import BadRequestError, InternalServerError, RequestFailedError


def test_every_typed_error_is_exported() -> None:
    for name in ("BadRequestError", "AuthenticationError", "NotFoundError", "RateLimitError",
                 "InternalServerError", "RequestFailedError", "APITimeoutError", "ValidationError"):
        assert name in tinkex_domain.__all__ and issubclass(getattr(tinkex_domain, name), Exception)


def test_user_error_classification() -> None:
    assert user_error(BadRequestError("bad", status_code=400))
    assert not user_error(RateLimitError("slow", status_code=429))
    assert not user_error(InternalServerError("boom", status_code=500))
    assert user_error(ValidationError([("x", "bad")]))
    assert user_error(RequestFailedError("no", category="user"))
    assert not user_error(RequestFailedError("no", category="server"))
    try:
        try:
            raise BadRequestError("inner", status_code=422)
        except BadRequestError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert user_error(outer)
    assert not user_error(RuntimeError("plain"))


def test_retry_after_forms() -> None:
    assert retry_after_ms(RateLimitError("x", status_code=429, headers={"retry-after-ms": "250"})) == 250
    assert retry_after_ms(RateLimitError("x", status_code=429, headers={"Retry-After": "2"})) == 2000
    date = email.utils.formatdate(1_000_010, usegmt=True)
    assert retry_after_ms(RateLimitError("x", status_code=429, headers={"Retry-After": date}), now=1_000_000) == 10000
    assert retry_after_ms(RateLimitError("x", status_code=429)) is None
    assert retry_after_ms(RuntimeError("no headers")) is None


def test_retry_after_from_a_real_response() -> None:
    reply = json_reply({"detail": "slow down"}, status=429, headers={"Retry-After": "3"})
    with LoopbackServer(lambda request: reply) as srv, Client(
        ("tinkex_domain", "manifest.json"), api_key="tml-x", base_url=srv.url, autoload_plugins=False
    ) as client, pytest.raises(RateLimitError) as info:
        client.meta.endpoint("service.get_server_capabilities")()
    assert retry_after_ms(info.value) == 3000 and not user_error(info.value)
