"""The resolver with the transport mocked by ``responses`` (connection errors, non-JSON bodies)."""

from __future__ import annotations

import pytest
import requests
import responses

from pristine_core import APIResponseValidationError

BASE = "http://futures.test"


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_connection_errors_back_off_then_binary_result(mocked, make_client, fake_clock):
    client = make_client(BASE)
    mocked.post(f"{BASE}/jobs/untyped", json={"request_id": "abc"})
    mocked.post(f"{BASE}/retrieve", body=requests.ConnectionError("refused"))
    mocked.post(f"{BASE}/retrieve", body=requests.ConnectionError("refused"))
    mocked.post(f"{BASE}/retrieve", status=429)
    mocked.post(f"{BASE}/retrieve", body=b"\x00\x01proto", content_type="application/x-protobuf")
    future = client.jobs.submit_untyped(x=1)
    assert future.result(timeout=10) == b"\x00\x01proto"
    assert fake_clock.sleeps == [1.0, 2.0, 4.0]
    iterations = [c.request.headers["X-Test-Iteration"] for c in mocked.calls if c.request.url.endswith("/retrieve")]
    assert iterations == ["0", "1", "2", "3"]


def test_non_json_result_for_a_typed_endpoint_fails(mocked, make_client):
    client = make_client(BASE)
    mocked.post(f"{BASE}/jobs", json={"request_id": "abc"})
    mocked.post(f"{BASE}/retrieve", body=b"<html>", content_type="text/html")
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        client.jobs.submit(x=1).result(timeout=10)


def test_non_json_submit_reply_raises_at_submit(mocked, make_client):
    client = make_client(BASE)
    mocked.post(f"{BASE}/jobs", body=b"oops", content_type="text/plain")
    with pytest.raises(APIResponseValidationError, match="submit reply"):
        client.jobs.submit(x=1)


def test_roundtrip_header_on_the_first_poll_only(mocked, make_client):
    client = make_client(BASE, futures={"roundtrip_header": "X-Roundtrip"})
    mocked.post(f"{BASE}/jobs", json={"request_id": "abc"})
    mocked.post(f"{BASE}/retrieve", json={"type": "try_again"})
    mocked.post(f"{BASE}/retrieve", json={"value": 1})
    assert client.jobs.submit(x=1).result(timeout=10).value == 1
    polls = [c.request for c in mocked.calls if c.request.url.endswith("/retrieve")]
    assert float(polls[0].headers["X-Roundtrip"]) >= 0
    assert "X-Roundtrip" not in polls[1].headers
