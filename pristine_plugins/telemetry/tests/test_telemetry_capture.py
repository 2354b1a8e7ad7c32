"""``capture`` and the user-error classification, through a real client and sink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pristine_core import (
    APIConnectionError,
    BadRequestError,
    Client,
    InternalServerError,
    RateLimitError,
    RequestFailedError,
    RequestTimeoutError,
    ValidationError,
)
from pristine_plugins.telemetry import (
    UNHANDLED_EXCEPTION,
    USER_ERROR_EVENT,
    Telemetry,
    capture,
    find_user_error,
    is_user_error,
    telemetry_of,
)


def _reporter(client: Client) -> Telemetry:
    reporter = telemetry_of(client)
    assert reporter is not None
    return reporter


def _delivered(client: Client, sink: Any) -> list[dict[str, Any]]:
    assert _reporter(client).flush(timeout=5)
    return list(sink.events())


def _status_error(cls: type, status: int) -> Exception:
    return cls(f"HTTP {status}", status_code=status)  # type: ignore[no-any-return]


def test_context_manager_reports_and_reraises(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()

    def explode() -> None:
        raise RuntimeError("boom in the engine")

    with pytest.raises(RuntimeError, match="boom"), capture(client):
        explode()
    [event] = _delivered(client, sink)
    assert event["event"] == UNHANDLED_EXCEPTION
    assert event["severity"] == "ERROR"
    assert event["error_type"] == "RuntimeError"
    assert event["error_message"] == "boom in the engine"
    assert "explode" in event["traceback"] and "boom in the engine" in event["traceback"]


def test_decorator_reports_reraises_and_passes_results(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()

    @capture(client, severity="CRITICAL")
    def divide(a: int, b: int) -> float:
        return a / b

    assert divide(6, 3) == 2
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    [event] = _delivered(client, sink)
    assert (event["error_type"], event["severity"]) == ("ZeroDivisionError", "CRITICAL")
    assert divide.__name__ == "divide"


def test_async_functions_are_decorated_too(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()

    @capture(_reporter(client))
    async def fail() -> None:
        raise KeyError("k")

    with pytest.raises(KeyError):
        asyncio.run(fail())
    assert [e["error_type"] for e in _delivered(client, sink)] == ["KeyError"]


def test_nested_captures_report_once(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()
    with pytest.raises(ValueError), capture(client), capture(client):
        raise ValueError("once")
    assert len(_delivered(client, sink)) == 1


def test_capture_without_telemetry_only_reraises(
    make_client: Callable[..., Client], server: Any
) -> None:
    off = make_client(config={"telemetry": False})
    for target in (None, off):
        with pytest.raises(OSError), capture(target):
            raise OSError("still raised")
    assert server.requests == []


def test_keyboard_interrupt_is_not_reported(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()
    with pytest.raises(KeyboardInterrupt), capture(client):
        raise KeyboardInterrupt
    assert _delivered(client, sink) == []


def test_http_400_from_a_call_is_a_user_error(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()
    with pytest.raises(BadRequestError), capture(client):
        client.work.fail(n=1, request_options={"query": {"status": 400}})
    [event] = _delivered(client, sink)
    assert event["event"] == "GENERIC_EVENT" and event["event_name"] == USER_ERROR_EVENT
    assert event["severity"] == "WARNING"
    data = event["event_data"]
    assert data["error_type"] == "BadRequestError" and data["status_code"] == 400
    assert data["body"] == {"detail": "nope"}


def test_validation_error_before_sending_is_a_user_error(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()
    with pytest.raises(ValidationError), capture(client):
        client.work.job(n="not a number")
    [event] = _delivered(client, sink)
    assert event["event_name"] == USER_ERROR_EVENT
    assert event["event_data"]["error_type"] == "ValidationError"


def test_server_errors_are_crashes(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()
    with pytest.raises(InternalServerError), capture(client):
        client.work.fail(n=1, request_options={"query": {"status": 500}})
    [event] = _delivered(client, sink)
    assert event["event"] == UNHANDLED_EXCEPTION and event["error_type"] == "InternalServerError"


def test_user_error_found_through_the_cause_chain(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()
    with pytest.raises(RuntimeError), capture(client):
        try:
            client.work.fail(n=1, request_options={"query": {"status": 404}})
        except Exception as exc:
            raise RuntimeError("while loading the model") from exc
    [event] = _delivered(client, sink)
    assert event["event_name"] == USER_ERROR_EVENT
    assert event["event_data"]["status_code"] == 404


@pytest.mark.parametrize(
    "exc,user",
    [
        (_status_error(BadRequestError, 400), True),
        (_status_error(BadRequestError, 409), True),
        (_status_error(RequestTimeoutError, 408), False),
        (_status_error(RateLimitError, 429), False),
        (_status_error(InternalServerError, 503), False),
        (RequestFailedError("bad input", category="user"), True),
        (RequestFailedError("node died", category="server"), False),
        (ValidationError([("n", "expected an integer")]), True),
        (APIConnectionError("refused"), False),
        (ValueError("plain"), False),
    ],
)
def test_classification(exc: Exception, user: bool) -> None:
    assert is_user_error(exc) is user
    assert (find_user_error(exc) is exc) is user


def test_foreign_exceptions_with_statuses_and_context_chains() -> None:
    class Foreign(Exception):
        def __init__(self, status: int) -> None:
            super().__init__(f"status {status}")
            self.status_code = status

    assert is_user_error(Foreign(403)) and not is_user_error(Foreign(429))
    outer = RuntimeError("outer")
    inner = Foreign(422)
    outer.__context__ = inner
    inner.__context__ = outer  # a cycle must not hang the search
    assert find_user_error(outer) is inner
    lonely = RuntimeError("a")
    lonely.__cause__ = RuntimeError("b")
    lonely.__cause__.__cause__ = lonely
    assert find_user_error(lonely) is None


def test_fatal_capture_ends_the_session_and_flushes(
    make_client: Callable[..., Client], sink: Any, manifest: Callable[..., dict[str, Any]]
) -> None:
    from pristine_plugins.session import SessionPlugin

    doc = manifest()
    doc["features"]["session"] = {"create_endpoint": "session.open", "heartbeat_endpoint": None}
    client = make_client(doc, plugins=[SessionPlugin()])

    @capture(client, fatal=True)
    def main() -> None:
        raise LookupError("fatal")

    with pytest.raises(LookupError):
        main()
    # Delivered by the fatal path itself, before any flush by the test or the close.
    assert [e["event"] for e in sink.events()] == ["SESSION_START", UNHANDLED_EXCEPTION, "SESSION_END"]
    client.close()
    assert [e["event"] for e in sink.events()].count("SESSION_END") == 1
