"""The circuit breaker Tinker's manifest enables: telemetry stops hammering a dead sink."""

from __future__ import annotations

from pristine_core import Client
from pristine_plugins.retry.breaker import CircuitOpenError
from pristine_runtime.clock import FakeClock
from pristine_testing import LoopbackServer, json_reply

MANIFEST = ("tinkex_domain", "manifest.json")


def test_telemetry_breaker_opens_after_five_failed_sends_and_recovers() -> None:
    state = {"down": True}

    def handler(request):  # type: ignore[no-untyped-def]
        return json_reply({"detail": "down"}, status=503) if state["down"] else json_reply({"status": "accepted"})

    clock = FakeClock()
    with LoopbackServer(handler) as srv, Client(MANIFEST, api_key="tml-x", base_url=srv.url, plugins=["retry"],
                                                clock=clock, config={"retry": {"max_retries": 0}}) as client:
        send = client.meta.endpoint("telemetry.send_telemetry")
        body = {"session_id": "s", "platform": "linux", "sdk_version": "0.15.0", "events": []}
        for _ in range(5):
            assert send.raw(body=body).status_code == 503
        try:
            send.raw(body=body)
        except CircuitOpenError as exc:
            assert exc.name == "telemetry" and 0 < exc.retry_in_s <= 30
        else:
            raise AssertionError("the breaker did not open")
        assert len(srv.requests) == 5  # the sixth send never left the process
        state["down"] = False
        clock.advance(30)
        assert send.raw(body=body).status_code == 200  # the half-open trial closes it
        assert send.raw(body=body).status_code == 200
        other = client.meta.endpoint("service.get_server_capabilities")
        state["down"] = True
        for _ in range(7):  # endpoints without a breaker are never short-circuited
            assert other.raw().status_code == 503
