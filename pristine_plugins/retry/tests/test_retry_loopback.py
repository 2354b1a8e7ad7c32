"""The retry plugin against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pristine_core import APIConnectionError, Client, FakeClock, InternalServerError, RequestOptions
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply, refused_port


class Script:
    """Answers requests with a fixed sequence of replies (the last one repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def __call__(self, request: SeenRequest) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback server whose handler each test sets."""
    with LoopbackServer() as srv:
        yield srv


def test_503_503_200_succeeds_on_third_attempt_with_one_idempotency_key(
    server: LoopbackServer, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    server.handler = Script(json_reply({}, 503), json_reply({}, 503), json_reply({"ok": True}))
    client = make_client(manifest, base_url=server.url)

    result = client.items.create(name="a")

    assert result.ok is True
    assert len(server.requests) == 3
    keys = [r.header("X-Idempotency-Key") for r in server.requests]
    assert keys[0] is not None and re.fullmatch(r"[0-9a-f]{32}", keys[0])
    assert keys == [keys[0]] * 3
    assert [r.header("X-Retry-Count") for r in server.requests] == ["0", "1", "2"]
    assert clock.sleeps == [0.5, 1.0]


def test_each_logical_call_gets_its_own_key(
    server: LoopbackServer, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    server.handler = lambda request: json_reply({"ok": True})  # a body that is an Out ({} is refused)
    client = make_client(manifest, base_url=server.url)
    client.items.create(name="a")
    client.items.create(name="b")
    first, second = (r.header("X-Idempotency-Key") for r in server.requests)
    assert first and second and first != second


def test_x_should_retry_false_stops_the_retry(
    server: LoopbackServer, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    server.handler = Script(json_reply({"error": "no"}, 503, {"x-should-retry": "false"}), json_reply({"ok": True}))
    client = make_client(manifest, base_url=server.url)

    with pytest.raises(InternalServerError) as info:
        client.items.create(name="a")

    assert info.value.status_code == 503
    assert len(server.requests) == 1
    assert clock.sleeps == []


def test_retry_after_two_seconds_is_a_two_second_delay_on_the_fake_clock(
    server: LoopbackServer, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    server.handler = Script(json_reply({}, 429, {"Retry-After": "2"}), json_reply({"ok": True}))
    client = make_client(manifest, base_url=server.url)
    before = clock.monotonic()

    response = client.items.create.raw(name="a")

    assert response.status_code == 200
    assert response.attempts == 2
    assert clock.sleeps == [2.0]
    assert clock.monotonic() - before == 2.0


def test_post_on_a_policy_with_max_retries_0_is_sent_once(
    server: LoopbackServer, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    server.handler = Script(json_reply({}, 503), json_reply({"ok": True}))
    client = make_client(manifest, base_url=server.url)

    response = client.items.once.raw(name="a")

    assert response.status_code == 503
    assert response.attempts == 1
    assert len(server.requests) == 1
    assert server.requests[0].method == "POST"
    assert server.requests[0].header("X-Retry-Count") == "0"
    assert clock.sleeps == []


def test_a_reset_connection_is_retried(
    server: LoopbackServer, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    server.handler = Script(Reply(reset=True), json_reply({"ok": True}))
    client = make_client(manifest, base_url=server.url)

    assert client.items.get(item_id="x").ok is True
    assert len(server.requests) == 2
    assert clock.sleeps == [0.5]


def test_the_final_connection_error_is_raised(
    manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    with refused_port() as port:  # nothing listens there, and no other test's server can take it
        client = make_client(manifest, base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(APIConnectionError):
            client.items.get(item_id="x", request_options=RequestOptions(extensions={"max_retries": 2}))

    assert clock.sleeps == [0.5, 1.0]


def test_get_requests_carry_no_idempotency_key(
    server: LoopbackServer, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    server.handler = lambda request: json_reply({"ok": True})
    client = make_client(manifest, base_url=server.url)
    client.items.get(item_id="x")
    assert server.requests[0].header("X-Idempotency-Key") is None
    assert server.requests[0].header("X-Retry-Count") == "0"
