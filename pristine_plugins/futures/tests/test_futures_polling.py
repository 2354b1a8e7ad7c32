"""The resolver against a real loopback server: every reply kind and what it leads to."""

from __future__ import annotations

import threading

import pytest

from pristine_core import (
    APIResponseValidationError,
    BadRequestError,
    GoneError,
    NotFoundError,
    RequestFailedError,
    RequestOptions,
    ValidationError,
)
from pristine_plugins.futures import APIFuture, MetadataProtocolError, PromiseExpiredError
from pristine_plugins.futures.queue_state import DEFAULT_REASONS
from pristine_testing import Reply, SeenRequest, json_reply

ITERATION = "X-Test-Iteration"
REQUEST_TYPE = "X-Test-Request-Type"


def try_again(rid: str, state: str | None = None, reason: str | None = None) -> Reply:
    body: dict[str, object] = {"type": "try_again", "request_id": rid}
    if state is not None:
        body["queue_state"] = state
    if reason is not None:
        body["queue_state_reason"] = reason
    return json_reply(body)


def test_try_again_twice_then_408_then_result_notifies_observer(future_server, make_client, recorder):
    client = make_client(future_server.url, extra_plugins=(recorder,))
    future_server.script(
        "r1",
        try_again("r1", "paused_capacity"),
        try_again("r1", "paused_capacity"),
        json_reply({"queue_state": "active", "queue_state_reason": "capacity back"}, 408),
        json_reply({"value": 7, "note": "done"}),
    )
    options = RequestOptions(extensions={"queue_state_observer": recorder})

    future = client.jobs.submit(x=1, request_options=options)

    assert isinstance(future, APIFuture)
    assert future.request_id == "r1"
    result = future.result(timeout=10)
    assert (result.value, result.note) == (7, "done")
    polls = future_server.polls["r1"]
    assert [p.header(ITERATION) for p in polls] == ["0", "1", "2", "3"]
    assert {p.header(REQUEST_TYPE) for p in polls} == {"submit"}
    assert all(p.json() == {"request_id": "r1", "allow_metadata_only": True} for p in polls)
    assert all(p.header("X-API-Key") == "test-key-123" for p in polls)
    # The repeated paused state is reported once; the 408's state change is reported too. The
    # server gave no reason for the pause: the default text stands in.
    fallback = DEFAULT_REASONS["paused_capacity"]
    assert recorder.changes == [("paused_capacity", fallback), ("active", "capacity back")]
    emitted = [(e.fields["state"], e.fields["reason"], e.fields["request_id"]) for e in recorder.named("queue_state")]
    assert emitted == [("paused_capacity", fallback, "r1"), ("active", "capacity back", "r1")]
    done = recorder.named("future.done")
    assert [(e.fields["outcome"], e.fields["polls"]) for e in done] == [("ok", 4)]


def test_submit_returns_before_the_result_exists(future_server, make_client):
    client = make_client(future_server.url)
    release = threading.Event()

    def held(request: SeenRequest) -> Reply:
        release.wait(5)
        return json_reply({"value": 1})

    future_server.script("r1", held)
    future = client.jobs.submit(x=1)
    assert not future.done()
    release.set()
    assert future.result(timeout=10).value == 1


def test_result_in_the_submit_reply_resolves_at_once(future_server, make_client):
    client = make_client(future_server.url)
    future_server.submit_reply = lambda rid: json_reply({"value": 3})
    future = client.jobs.submit(x=1)
    assert future.done()
    assert future.request_id is None
    assert future.result().value == 3
    assert future_server.polls == {}


def test_error_in_the_submit_reply_fails_at_once(future_server, make_client):
    client = make_client(future_server.url)
    future_server.submit_reply = lambda rid: json_reply({"error": "bad input", "category": "user"})
    future = client.jobs.submit(x=1)
    error = future.exception(timeout=0)
    assert isinstance(error, RequestFailedError)
    assert error.category == "user"


def test_untyped_endpoint_resolves_to_raw_json_with_its_request_type(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", json_reply({"status": "completed", "result": {"anything": [1, 2]}}))
    future = client.jobs.submit_untyped(x=1)
    assert future.result(timeout=10) == {"anything": [1, 2]}
    assert future_server.polls["r1"][0].header(REQUEST_TYPE) == "Untyped"


def test_request_type_per_call_wins(future_server, make_client):
    client = make_client(future_server.url)
    future = client.jobs.submit(x=1, request_options={"extensions": {"request_type": "ForwardBackward"}})
    future.result(timeout=10)
    assert future_server.polls["r1"][0].header(REQUEST_TYPE) == "ForwardBackward"


@pytest.mark.parametrize("category", ["user", "server"])
def test_failed_future_raises_request_failed_with_category(future_server, make_client, category):
    client = make_client(future_server.url)
    future_server.script("r1", try_again("r1"), json_reply({"error": f"{category} broke it", "category": category}))
    future = client.jobs.submit(x=1)
    with pytest.raises(RequestFailedError) as info:
        future.result(timeout=10)
    assert info.value.category == category
    assert info.value.request_id == "r1"
    assert "broke it" in str(info.value)
    assert info.value.retryable is (category == "server")


def test_failed_status_envelope_and_unknown_category(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", json_reply({"status": "failed", "error": {"message": "oops", "category": "weird"}}))
    error = client.jobs.submit(x=1).exception(timeout=10)
    assert isinstance(error, RequestFailedError)
    assert (error.message, error.category) == ("oops", "unknown")


def test_410_raises_promise_expired(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", try_again("r1"), json_reply({"detail": "gone"}, 410))
    future = client.jobs.submit(x=1)
    with pytest.raises(PromiseExpiredError) as info:
        future.result(timeout=10)
    assert isinstance(info.value, GoneError)
    assert info.value.retryable is True
    assert "resubmit" in str(info.value)
    assert info.value.request_id == "r1"


def test_blank_400s_are_tolerated_up_to_the_limit(future_server, make_client):
    client = make_client(future_server.url)
    blank = Reply(400, b"")
    future_server.script("r1", blank, json_reply({}, 400), blank, json_reply({"value": 5}))
    assert client.jobs.submit(x=1).result(timeout=10).value == 5
    assert len(future_server.polls["r1"]) == 4


def test_one_blank_400_too_many_fails(future_server, make_client):
    client = make_client(future_server.url, futures={"max_blank_400s": 2})
    future_server.script("r1", *[Reply(400, b"")] * 3, json_reply({"value": 5}))
    with pytest.raises(BadRequestError):
        client.jobs.submit(x=1).result(timeout=10)
    assert len(future_server.polls["r1"]) == 3


def test_blank_400_counter_resets_on_other_replies(future_server, make_client):
    client = make_client(future_server.url, futures={"max_blank_400s": 1})
    blank = Reply(400, b"")
    future_server.script("r1", blank, try_again("r1"), blank, try_again("r1"), blank, json_reply({"value": 2}))
    assert client.jobs.submit(x=1).result(timeout=10).value == 2


def test_400_with_a_message_fails_at_once(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", json_reply({"detail": "unknown request id"}, 400))
    with pytest.raises(BadRequestError, match="unknown request id"):
        client.jobs.submit(x=1).result(timeout=10)
    assert len(future_server.polls["r1"]) == 1


def test_429_backs_off_exponentially_on_the_clock_and_resets(future_server, make_client, fake_clock):
    client = make_client(future_server.url, futures={"backoff_cap_s": 3})
    limited = json_reply({"detail": "slow down"}, 429)
    future_server.script("r1", limited, limited, limited, try_again("r1"), limited, json_reply({"value": 9}))
    assert client.jobs.submit(x=1).result(timeout=10).value == 9
    # 1, 2, then capped at 3; the try_again resets the exponent.
    assert fake_clock.sleeps == [1.0, 2.0, 3.0, 1.0]


def test_connection_errors_back_off(future_server, make_client, fake_clock):
    client = make_client(future_server.url)
    reset = Reply(reset=True)
    future_server.script("r1", reset, reset, json_reply({"value": 4}))
    assert client.jobs.submit(x=1).result(timeout=10).value == 4
    assert fake_clock.sleeps == [1.0, 2.0]


def test_5xx_and_408_repoll_without_sleeping(future_server, make_client, fake_clock):
    client = make_client(future_server.url)
    future_server.script("r1", Reply(500, b"boom"), Reply(503), json_reply({}, 408), json_reply({"value": 1}))
    assert client.jobs.submit(x=1).result(timeout=10).value == 1
    assert fake_clock.sleeps == []
    assert len(future_server.polls["r1"]) == 4


def test_poll_backoff_spaces_out_408_and_5xx_polls(future_server, make_client, fake_clock):
    client = make_client(future_server.url, futures={"poll_backoff": True, "backoff_cap_s": 3})
    slow = json_reply({}, 408)
    future_server.script(
        "r1", Reply(500, b"boom"), slow, Reply(503), slow, try_again("r1"), slow, json_reply({"value": 2})
    )
    assert client.jobs.submit(x=1).result(timeout=10).value == 2
    # 1, 2, 4 capped at 3, 3; the try_again payload resets the count.
    assert fake_clock.sleeps == [1.0, 2.0, 3.0, 3.0, 1.0]


def test_other_4xx_fails_with_the_mapped_error(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", json_reply({"detail": "no such future"}, 404))
    with pytest.raises(NotFoundError):
        client.jobs.submit(x=1).result(timeout=10)


def test_retry_after_ms_and_pending_wait_on_the_clock(future_server, make_client, fake_clock):
    client = make_client(future_server.url, futures={"pending_delay_s": 0.5})
    future_server.script(
        "r1",
        json_reply({"type": "try_again", "request_id": "r1", "queue_state": "active", "retry_after_ms": 250}),
        json_reply({"status": "pending"}),
        json_reply({"value": 1}),
    )
    assert client.jobs.submit(x=1).result(timeout=10).value == 1
    assert fake_clock.sleeps == [0.25, 0.5]


def test_malformed_result_fails_with_response_validation_error(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", json_reply({"value": "not a number"}))
    with pytest.raises(APIResponseValidationError):
        client.jobs.submit(x=1).result(timeout=10)


def test_metadata_reply_twice_is_a_protocol_error(future_server, make_client, plugin):
    client = make_client(future_server.url)
    meta = json_reply({"status": "complete_metadata", "response_payload_size": 10})
    future_server.script("r1", meta, meta)
    with pytest.raises(MetadataProtocolError):
        client.jobs.submit(x=1).result(timeout=10)
    assert plugin(client).budget.in_use == 0


def test_bad_per_call_override_is_rejected_before_sending(future_server, make_client):
    client = make_client(future_server.url)
    with pytest.raises(ValidationError, match="max_workers"):
        client.jobs.submit(x=1, request_options={"extensions": {"futures": {"max_workers": 2}}})
    assert future_server.server.requests == []


def test_per_call_override_applies_to_that_future_only(future_server, make_client):
    client = make_client(future_server.url)
    future_server.script("r1", *[Reply(400, b"")] * 2, json_reply({"value": 1}))
    future_server.script("r2", *[Reply(400, b"")] * 2, json_reply({"value": 1}))
    strict = {"extensions": {"futures": {"max_blank_400s": 1, "iteration_header": None}}}
    with pytest.raises(BadRequestError):
        client.jobs.submit(x=1, request_options=strict).result(timeout=10)
    assert client.jobs.submit(x=1).result(timeout=10).value == 1
    assert future_server.polls["r1"][0].header(ITERATION) is None
    assert future_server.polls["r2"][0].header(ITERATION) == "0"


def test_polls_retry_through_the_retrieve_endpoints_retry_policy(future_server, client_factory, fake_clock):
    """No private retry loop: with the retry plugin and a policy on the retrieve endpoint, a 429
    and a reset are retried inside one poll (policy delays on the clock), and every HTTP request
    still gets its own iteration number."""
    from pristine_plugins.futures import FuturesPlugin
    from pristine_plugins.retry import RetryPlugin

    from .conftest import manifest

    spec = manifest()
    spec["retry_policies"] = {
        "poll": {"max_retries": 5, "base_delay_s": 0.25, "max_delay_s": 1, "jitter": 0, "retry_statuses": [429]}
    }
    spec["resources"]["futures"]["retrieve"]["retry"] = "poll"
    client = client_factory(
        spec, base_url=future_server.url, plugins=[FuturesPlugin(), RetryPlugin()], clock=fake_clock, api_key="k"
    )
    future_server.script("r1", json_reply({}, 429), Reply(reset=True), try_again("r1"), json_reply({"value": 6}))
    assert client.jobs.submit(x=1).result(timeout=10).value == 6
    assert fake_clock.sleeps == [0.25, 0.5]  # the policy's back-off, not the table's 1, 2 s
    assert [p.header(ITERATION) for p in future_server.polls["r1"]] == ["0", "1", "2", "3"]
