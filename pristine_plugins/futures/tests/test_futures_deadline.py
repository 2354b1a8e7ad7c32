"""A future's overall deadline (``deadline_s``, in the manifest block or per call)."""

from __future__ import annotations

import pytest

from pristine_core import APITimeoutError, RequestOptions, SystemClock, ValidationError
from pristine_plugins.futures import FutureDeadlineError
from pristine_testing import json_reply


def forever_try_again(rid: str):  # type: ignore[no-untyped-def]
    return json_reply({"type": "try_again", "request_id": rid})


def test_a_future_that_keeps_answering_try_again_times_out_naming_its_request(future_server, make_client, fake_clock):
    future_server.default = forever_try_again
    client = make_client(future_server.url, futures={"deadline_s": 30})
    started = fake_clock.monotonic()
    future = client.jobs.submit(x=1)
    with pytest.raises(FutureDeadlineError) as caught:
        future.result(timeout=10)
    error = caught.value
    assert isinstance(error, APITimeoutError)
    assert error.request_id == future.request_id == "r1" and "r1" in str(error) and "30s" in str(error)
    # Fake time: the timer thread jumps to the deadline at once (no real 30 s wait), so whether
    # any poll ran before it is a race; only the outcome is asserted.
    assert fake_clock.monotonic() - started >= 30


def test_a_per_call_deadline_overrides_the_manifest(future_server, make_client, fake_clock):
    future_server.default = forever_try_again
    client = make_client(future_server.url, futures={"deadline_s": 3600})
    options = RequestOptions(extensions={"futures": {"deadline_s": 5}})
    started = fake_clock.monotonic()
    with pytest.raises(FutureDeadlineError, match="5s"):
        client.jobs.submit(x=1, request_options=options).result(timeout=10)
    assert 5 <= fake_clock.monotonic() - started < 3600


def test_a_future_resolving_in_time_cancels_its_deadline(future_server, make_client):
    client = make_client(future_server.url, futures={"deadline_s": 60}, clock=SystemClock())
    future = client.jobs.submit(x=1)
    assert future.result(timeout=10).value == 1
    scheduler = client.meta.plugin("futures").scheduler
    assert scheduler.pending() == 0  # the 60 s deadline timer was called off


def test_a_bad_deadline_is_rejected_before_any_request(future_server, make_client):
    client = make_client(future_server.url)
    with pytest.raises(ValidationError, match="deadline_s"):
        client.jobs.submit(x=1, request_options=RequestOptions(extensions={"futures": {"deadline_s": -1}}))
    assert future_server.server.requests == []
