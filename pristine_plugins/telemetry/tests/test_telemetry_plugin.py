"""The plugin end to end against a loopback sink: shape, batching, toggles, dead sinks, sessions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses as responses_lib

from pristine_core import APIConnectionError, Client, FakeClock, ManifestError, ValidationError
from pristine_plugins.session import SessionPlugin
from pristine_plugins.telemetry import SESSION_END, SESSION_START, TelemetryPlugin, process_uuid, telemetry_of
from pristine_testing import LoopbackServer, refused_port

Manifest = Callable[..., dict[str, Any]]
Threads = Callable[[], list[threading.Thread]]
ENV = "PT_TELEMETRY"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections for the whole test (no other test's server can take it)."""
    with refused_port() as port:
        yield port


def test_batches_arrive_with_the_manifest_shape(make_client: Callable[..., Client], sink: Any) -> None:
    client = make_client()
    telemetry = telemetry_of(client)
    assert telemetry is not None
    for i in range(23):
        telemetry.log("step", {"i": i, "blob": b"xyz", "nested": {"t": (1, 2)}})
    assert telemetry.flush(wait=True, timeout=5)
    sizes = [len(b["records"]) for b in sink.batches]
    assert sum(sizes) == 23 and max(sizes) <= 10
    first = sink.batches[0]
    assert first["sdk_version"] == "9.9"
    assert first["process_uuid"] == process_uuid()
    assert isinstance(first["platform"], str)
    assert "session_id" not in first, "no session plugin, no session id"
    events = sink.events()
    assert [e["event_data"]["i"] for e in events] == list(range(23))
    assert events[0]["event_data"]["blob"] == "<3 bytes>"
    assert events[0]["event_data"]["nested"] == {"t": [1, 2]}
    assert {e["event"] for e in events} == {"GENERIC_EVENT"}


def test_full_batches_go_out_without_flush(make_client: Callable[..., Client], sink: Any) -> None:
    telemetry = telemetry_of(make_client())
    assert telemetry is not None
    for i in range(30):
        telemetry.log("e", {"i": i})
    assert sink.wait_for(lambda: len(sink.events()) == 30)
    assert all(len(b["records"]) <= 10 for b in sink.batches)


def test_periodic_flush_sends_small_batches(
    make_client: Callable[..., Client], sink: Any, manifest: Manifest
) -> None:
    telemetry = telemetry_of(make_client(manifest(flush_interval_s=0.05)))
    assert telemetry is not None
    telemetry.log("lonely")
    assert sink.wait_for(lambda: len(sink.events()) == 1)


def test_env_off_means_no_request_and_no_thread(
    make_client: Callable[..., Client], server: LoopbackServer, monkeypatch: pytest.MonkeyPatch,
    telemetry_threads: Threads,
) -> None:
    for value in ("0", "false", "No", "OFF"):
        monkeypatch.setenv(ENV, value)
        client = make_client()
        assert telemetry_of(client) is None
        assert telemetry_threads() == []
        client.work.job(n=1)
        client.close()
    assert {r.path for r in server.requests} == {"/job"}


def test_config_toggle_beats_the_environment(
    make_client: Callable[..., Client], sink: Any, monkeypatch: pytest.MonkeyPatch, telemetry_threads: Threads
) -> None:
    monkeypatch.setenv(ENV, "off")
    forced_on = make_client(config={"telemetry": True})
    reporter = telemetry_of(forced_on)
    assert reporter is not None and reporter.running
    reporter.log("on anyway")
    monkeypatch.setenv(ENV, "1")
    forced_off = make_client(config={"telemetry": {"enabled": False}})
    assert telemetry_of(forced_off) is None
    forced_off.close()
    forced_on.close()
    assert telemetry_threads() == []
    assert [e["event_name"] for e in sink.events()] == ["on anyway"]


@responses_lib.activate
def test_env_off_with_responses_mock(monkeypatch: pytest.MonkeyPatch, manifest: Manifest) -> None:
    monkeypatch.setenv(ENV, "false")
    base = "http://telemetry.test"
    job = responses_lib.post(f"{base}/job", json={})
    with Client(manifest(), base_url=base, plugins=[TelemetryPlugin()], autoload_plugins=False) as client:
        client.work.job(n=1)
    assert len(responses_lib.calls) == 1 and job.call_count == 1


@responses_lib.activate
def test_batches_with_responses_mock(manifest: Manifest) -> None:
    base = "http://telemetry.test"
    sink = responses_lib.post(f"{base}/telemetry", json={"status": "accepted"})
    with Client(manifest(batch_size=4), base_url=base, plugins=[TelemetryPlugin()], autoload_plugins=False) as c:
        telemetry = telemetry_of(c)
        assert telemetry is not None
        for i in range(9):
            telemetry.log("e", {"i": i})
        assert telemetry.flush(timeout=5)
    sizes = [len(json.loads(call.request.body)["records"]) for call in sink.calls]
    assert sum(sizes) == 9 and max(sizes) <= 4


def test_a_closed_port_costs_the_caller_nothing(
    manifest: Manifest, telemetry_threads: Threads, closed_port: int
) -> None:
    client = Client(
        manifest(flush_timeout_s=0.5),
        base_url=f"http://127.0.0.1:{closed_port}",
        plugins=[TelemetryPlugin()],
        autoload_plugins=False,
    )
    telemetry = telemetry_of(client)
    assert telemetry is not None
    for i in range(25):
        assert telemetry.log("e", {"i": i})
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 0.5 + 1.5
    assert telemetry_threads() == []


def test_a_hanging_sink_costs_the_caller_nothing(
    make_client: Callable[..., Client], sink: Any, server: LoopbackServer
) -> None:
    sink.mode = "hang"
    client = make_client()
    telemetry = telemetry_of(client)
    assert telemetry is not None
    for i in range(10):
        telemetry.log("e", {"i": i})
    assert sink.entered.wait(5), "the reporter is now stuck in a request"
    started = time.monotonic()
    client.work.job(n=1)
    assert time.monotonic() - started < 2.0, "the caller's own call is not held up"
    for _ in range(2000):
        telemetry.log("more")
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 0.5 + 1.5  # flush_timeout_s is 0.5
    sink.release.set()


def test_queue_cap_holds_while_the_sink_is_down(
    make_client: Callable[..., Client], sink: Any, manifest: Manifest
) -> None:
    sink.mode = "fail"
    telemetry = telemetry_of(make_client(manifest(queue_cap=50, batch_size=5)))
    assert telemetry is not None
    for _ in range(200):
        telemetry.log("e")
    assert telemetry.pending <= 50
    # At most queue_cap events wait and one batch is out at a time: the rest are lost, either
    # refused at the door (dropped) or accepted and then pushed out by a failed batch (discarded).
    assert telemetry.dropped + telemetry.discarded >= 200 - 50 - 5
    assert telemetry.accepted + telemetry.dropped == 200


def test_rejected_batches_are_discarded(make_client: Callable[..., Client], sink: Any) -> None:
    sink.mode = "reject"
    telemetry = telemetry_of(make_client())
    assert telemetry is not None
    telemetry.log("e")
    assert telemetry.flush(timeout=5)
    assert telemetry.discarded == 1 and telemetry.pending == 0


def test_session_start_and_end_carry_the_session(
    make_client: Callable[..., Client], sink: Any, manifest: Manifest
) -> None:
    doc = manifest()
    doc["features"]["session"] = {"create_endpoint": "session.open", "heartbeat_endpoint": None}
    clock = FakeClock()
    client = make_client(doc, plugins=[SessionPlugin()], clock=clock)
    telemetry = telemetry_of(client)
    assert telemetry is not None
    telemetry.log("work")
    clock.advance(3723.25)
    client.close()
    events = sink.events()
    assert [e["event"] for e in events] == [SESSION_START, "GENERIC_EVENT", SESSION_END]
    assert events[-1]["duration"] == "1:02:03.250000"
    assert {b["session_id"] for b in sink.batches} == {"sess-42"}


def test_request_errors_become_generic_events(manifest: Manifest, closed_port: int) -> None:
    # request.error is emitted for failures inside dispatch (connection errors, not statuses).
    broken = Client(
        manifest(flush_timeout_s=0.2), base_url=f"http://127.0.0.1:{closed_port}",
        plugins=[TelemetryPlugin()], autoload_plugins=False,
    )
    reporter = telemetry_of(broken)
    assert reporter is not None
    try:
        with pytest.raises(APIConnectionError):
            broken.work.job(n=1)
        assert reporter.pending == 1
        event = reporter._queue[0]
        assert event["event_name"] == "request.error"
        assert event["event_data"]["endpoint"] == "work.job"
        assert event["event_data"]["error"] == "APIConnectionError"
        assert event["event_data"]["is_user_error"] is False
        assert event["severity"] == "ERROR"
    finally:
        broken.close()
    assert reporter.pending == 1, "its own failed sends added no events"


def test_telemetry_failures_do_not_produce_telemetry(
    make_client: Callable[..., Client], sink: Any, manifest: Manifest
) -> None:
    sink.fail_first = 3  # the first three sends are reset: connection errors inside dispatch
    telemetry = telemetry_of(make_client(manifest(flush_interval_s=0.05)))
    assert telemetry is not None
    telemetry.log("only one")
    assert sink.wait_for(lambda: sink.attempts >= 4 and len(sink.events()) >= 1)
    assert telemetry.flush(timeout=2) and telemetry.pending == 0
    assert [e.get("event_name") for e in sink.events()] == ["only one"]
    assert telemetry.failed_sends >= 3


def test_manifest_problems(server: LoopbackServer, manifest: Manifest) -> None:
    doc = manifest(batch_size=0, flush_timeout_s="soon", colour="blue", ignore_endpoints=["nope.nothing"])
    doc["types"]["Shipment"]["properties"]["records"]["items"] = {"type": "string"}
    with pytest.raises(ManifestError) as info:
        Client(doc, base_url=server.url, plugins=[TelemetryPlugin()], autoload_plugins=False)
    paths = {p for p, _ in info.value.problems}
    assert {"features.telemetry.batch_size", "features.telemetry.flush_timeout_s", "features.telemetry.colour"} <= paths
    doc = manifest(ignore_endpoints=["nope.nothing"])
    doc["types"]["Shipment"]["properties"]["records"]["items"] = {"type": "string"}
    with pytest.raises(ManifestError) as info:
        Client(doc, base_url=server.url, plugins=[TelemetryPlugin()], autoload_plugins=False)
    paths = {p for p, _ in info.value.problems}
    assert {"features.telemetry.batch_type", "features.telemetry.ignore_endpoints[0]"} <= paths


def test_bad_config_override_is_rejected(make_client: Callable[..., Client]) -> None:
    with pytest.raises(ValidationError, match="queue_cap"):
        make_client(config={"telemetry": {"queue_cap": -1}})
