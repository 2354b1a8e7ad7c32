"""Every RetryPolicy field, exercised through a client with ``responses`` mocking HTTP."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses as responses_lib

from pristine_core import APIConnectionError, APITimeoutError, Client, FakeClock, InternalServerError

BASE = "http://api.test"
POST_URL = f"{BASE}/items"
GET_URL = f"{BASE}/items/x"


def statuses(mock: responses_lib.RequestsMock, method: str, url: str, *codes: int, headers: Any = None) -> None:
    """Register one reply per status code, in order (the last one repeats)."""
    for code in codes:
        mock.add(method, url, json={"ok": code < 400}, status=code, headers=headers or {})


def policy(manifest: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Replace the ``std`` policy (the default) with ``fields``."""
    manifest["retry_policies"]["std"] = {"jitter": 0, **fields}
    return manifest


def sent(mock: responses_lib.RequestsMock) -> int:
    return len(mock.calls)


# -- max_retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [0, 1, 4])
def test_max_retries_bounds_the_attempts_and_the_last_response_is_mapped(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], max_retries: int
) -> None:
    statuses(mocked, "POST", POST_URL, 500)
    client = make_client(policy(manifest, max_retries=max_retries))
    with pytest.raises(InternalServerError):
        client.items.create(name="a")
    assert sent(mocked) == max_retries + 1


# -- base_delay_s / max_delay_s / jitter -------------------------------------------------------


def test_delays_double_from_base_and_are_capped_at_max(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "GET", GET_URL, 503)
    client = make_client(policy(manifest, max_retries=5, base_delay_s=0.25, max_delay_s=1.5))
    client.items.get.raw(item_id="x")
    assert clock.sleeps == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_jitter_reduces_each_delay_by_a_random_fraction_up_to_jitter(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "GET", GET_URL, 503)
    manifest = policy(manifest, max_retries=6, base_delay_s=1, max_delay_s=100)
    manifest["retry_policies"]["std"]["jitter"] = 0.5
    client = make_client(manifest, config={"retry_random": random.Random(7)})
    client.items.get.raw(item_id="x")
    reference = random.Random(7)
    expected = [(2.0**n) * (1 - 0.5 * reference.random()) for n in range(6)]
    assert clock.sleeps == pytest.approx(expected)
    assert all(0.5 * 2.0**n <= d <= 2.0**n for n, d in enumerate(clock.sleeps))


def test_default_jitter_never_lengthens_a_delay(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "GET", GET_URL, 503)
    manifest["retry_policies"]["std"] = {"max_retries": 8, "base_delay_s": 0.5, "max_delay_s": 8}
    client = make_client(manifest)
    client.items.get.raw(item_id="x")
    caps = [min(0.5 * 2**n, 8) for n in range(8)]
    assert all(0.75 * cap <= d <= cap for d, cap in zip(clock.sleeps, caps, strict=True))


# -- retry_statuses ----------------------------------------------------------------------------


def test_only_listed_statuses_are_retried(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    statuses(mocked, "GET", GET_URL, 418, 200)
    client = make_client(policy(manifest, max_retries=2, retry_statuses=[418]))
    assert client.items.get(item_id="x").ok is True
    assert sent(mocked) == 2


def test_an_unlisted_5xx_is_not_retried(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    statuses(mocked, "GET", GET_URL, 500, 200)
    client = make_client(policy(manifest, max_retries=2, retry_statuses=[503]))
    assert client.items.get.raw(item_id="x").status_code == 500
    assert sent(mocked) == 1


def test_client_errors_and_successes_are_never_retried_by_default(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    statuses(mocked, "GET", GET_URL, 404)
    client = make_client(manifest)
    assert client.items.get.raw(item_id="x").status_code == 404
    assert sent(mocked) == 1


# -- retry_connection_errors / retry_timeouts ---------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_connection_errors_follow_retry_connection_errors(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], enabled: bool
) -> None:
    mocked.add("GET", GET_URL, body=requests.ConnectionError("refused"))
    mocked.add("GET", GET_URL, json={"ok": True})
    client = make_client(policy(manifest, max_retries=2, retry_connection_errors=enabled))
    if enabled:
        assert client.items.get(item_id="x").ok is True
        assert sent(mocked) == 2
    else:
        with pytest.raises(APIConnectionError):
            client.items.get(item_id="x")
        assert sent(mocked) == 1


@pytest.mark.parametrize("enabled", [True, False])
def test_timeouts_follow_retry_timeouts(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], enabled: bool
) -> None:
    mocked.add("GET", GET_URL, body=requests.ReadTimeout("slow"))
    mocked.add("GET", GET_URL, json={"ok": True})
    client = make_client(policy(manifest, max_retries=2, retry_timeouts=enabled, retry_connection_errors=True))
    if enabled:
        assert client.items.get(item_id="x").ok is True
        assert sent(mocked) == 2
    else:
        with pytest.raises(APITimeoutError):
            client.items.get(item_id="x")
        assert sent(mocked) == 1


def test_the_last_timeout_is_raised_when_retries_run_out(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    mocked.add("GET", GET_URL, body=requests.ReadTimeout("slow"))
    client = make_client(policy(manifest, max_retries=2))
    with pytest.raises(APITimeoutError):
        client.items.get(item_id="x")
    assert sent(mocked) == 3


# -- respect_should_retry -----------------------------------------------------------------------


def test_x_should_retry_true_retries_an_unlisted_status(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    mocked.add("GET", GET_URL, status=400, headers={"X-Should-Retry": "true"})
    mocked.add("GET", GET_URL, json={"ok": True})
    client = make_client(policy(manifest, max_retries=2))
    assert client.items.get(item_id="x").ok is True
    assert sent(mocked) == 2


def test_respect_should_retry_false_ignores_the_header(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    statuses(mocked, "GET", GET_URL, 503, 200, headers={"x-should-retry": "false"})
    client = make_client(policy(manifest, max_retries=2, respect_should_retry=False))
    assert client.items.get(item_id="x").ok is True
    assert sent(mocked) == 2


# -- Retry-After and retry_after_cap_s ----------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "0"}, 0.5),  # not positive: backoff
        ({"Retry-After": "-4"}, 0.5),
        ({"Retry-After": "soon"}, 0.5),
        ({"Retry-After": "61"}, 0.5),  # above the cap: backoff
        ({"Retry-After": "60"}, 60.0),  # at the cap: honoured
    ],
)
def test_retry_after_is_honoured_within_the_cap(
    mocked: responses_lib.RequestsMock,
    manifest: dict[str, Any],
    make_client: Callable[..., Client],
    clock: FakeClock,
    headers: dict[str, str],
    expected: float,
) -> None:
    statuses(mocked, "GET", GET_URL, 429, 200, headers=headers)
    client = make_client(policy(manifest, max_retries=1, base_delay_s=0.5, retry_after_cap_s=60))
    client.items.get(item_id="x")
    assert clock.sleeps == [expected]


def test_retry_after_as_an_http_date(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    when = email.utils.formatdate(clock.time() + 20, usegmt=True)
    statuses(mocked, "GET", GET_URL, 503, 200, headers={"Retry-After": when})
    client = make_client(policy(manifest, max_retries=1), clock=clock)
    client.items.get(item_id="x")
    assert clock.sleeps == [pytest.approx(20.0, abs=1.0)]


def test_a_small_cap_turns_retry_after_into_backoff(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "GET", GET_URL, 503, 503, 200, headers={"Retry-After": "5"})
    client = make_client(policy(manifest, max_retries=2, base_delay_s=1, retry_after_cap_s=4))
    client.items.get(item_id="x")
    assert clock.sleeps == [1.0, 2.0]


# -- deadline_s ----------------------------------------------------------------------------------


def test_the_deadline_ends_retries_before_the_next_attempt_would_start_too_late(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "GET", GET_URL, 503)
    client = make_client(policy(manifest, max_retries=50, base_delay_s=1, max_delay_s=64, deadline_s=10))
    response = client.items.get.raw(item_id="x")
    assert response.status_code == 503
    assert clock.sleeps == [1.0, 2.0, 4.0]  # a further 8 s wait would end past 10 s
    assert sent(mocked) == 4


def test_the_deadline_also_bounds_connection_error_retries(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    mocked.add("GET", GET_URL, body=requests.ConnectionError("down"))
    client = make_client(policy(manifest, max_retries=50, base_delay_s=2, max_delay_s=2, deadline_s=5))
    with pytest.raises(APIConnectionError):
        client.items.get(item_id="x")
    assert clock.sleeps == [2.0, 2.0]


def test_the_deadline_caps_the_attempt_timeout(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    seen: list[Any] = []

    def reply(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        seen.append(request.req_kwargs["timeout"])  # type: ignore[attr-defined]
        return 200, {}, '{"ok": true}'

    mocked.add_callback("GET", GET_URL, callback=reply)
    client = make_client(policy(manifest, deadline_s=2))
    client.items.get(item_id="x")
    assert seen and seen[0][1] == 2.0  # read timeout: min(endpoint 5 s, 2 s left)


# -- retry_methods --------------------------------------------------------------------------------


def test_retry_methods_limit_which_methods_retry(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    statuses(mocked, "POST", POST_URL, 503, 200)
    statuses(mocked, "GET", GET_URL, 503, 200)
    client = make_client(policy(manifest, max_retries=2, retry_methods=["GET"]))
    assert client.items.create.raw(name="a").status_code == 503
    assert client.items.get.raw(item_id="x").status_code == 200
    assert [c.request.method for c in mocked.calls] == ["POST", "GET", "GET"]


def test_retry_methods_null_retries_every_method(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    statuses(mocked, "POST", POST_URL, 503, 200)
    client = make_client(policy(manifest, max_retries=2, retry_methods=None))
    assert client.items.create.raw(name="a").status_code == 200


# -- pause_statuses -------------------------------------------------------------------------------


def test_a_pause_status_is_waited_through_without_consuming_retries(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "POST", POST_URL, 402, 402, 402, 402, 200)
    client = make_client(policy(manifest, max_retries=0, pause_statuses={"402": {"delay_s": 5, "max_pause_s": 3600}}))
    response = client.items.create.raw(name="a")
    assert response.status_code == 200
    assert response.attempts == 5
    assert clock.sleeps == [5.0] * 4
    counts = [c.request.headers["X-Retry-Count"] for c in mocked.calls]
    assert counts == ["0", "1", "2", "3", "4"]


def test_a_pause_ends_after_max_pause_s(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "POST", POST_URL, 402)
    client = make_client(policy(manifest, max_retries=3, pause_statuses={"402": {"delay_s": 5, "max_pause_s": 12}}))
    response = client.items.create.raw(name="a")
    assert response.status_code == 402
    assert clock.sleeps == [5.0, 5.0]  # a third 5 s pause would exceed 12 s; 402 is not retryable


def test_pauses_and_retries_combine(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    statuses(mocked, "POST", POST_URL, 503, 402, 503, 200)
    client = make_client(
        policy(manifest, max_retries=2, base_delay_s=1, pause_statuses={"402": {"delay_s": 7, "max_pause_s": 60}})
    )
    assert client.items.create.raw(name="a").status_code == 200
    assert clock.sleeps == [1.0, 7.0, 2.0]
