"""Sessions: heartbeats, expiry on the injectable clock, listing; telemetry sink; stats."""

from __future__ import annotations

from typing import Any

import requests

from tinkex_domain.emulator import ManualClock


def test_heartbeats_keep_a_session_alive_and_silence_expires_it(make_emulator: Any, api_for: Any) -> None:
    clock = ManualClock()
    emu = make_emulator(clock=clock, session_timeout_s=60.0)
    api = api_for(emu)
    sid = api.session()
    for _ in range(3):
        clock.advance(50.0)
        r = api.post("session_heartbeat", {"session_id": sid, "type": "session_heartbeat"})
        assert r.status_code == 200 and r.json() == {"type": "session_heartbeat"}
    assert emu.heartbeat_count(sid) == 3 and not emu.session_expired(sid)
    mid = api.model(sid)
    clock.advance(60.0)
    assert emu.session_expired(sid)
    for path, body in (("session_heartbeat", {"session_id": sid}),
                       ("create_model", {"session_id": sid, "model_seq_id": 1, "base_model": "b"}),
                       ("forward_backward", api.fwdbwd(mid, 1)),
                       ("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                                    "base_model": "b"})):
        r = api.post(path, body)
        assert r.status_code == 404, path
        assert "expired" in r.json()["error"] and r.json()["code"] == "session_expired"
    assert api.get(f"sessions/{sid}").status_code == 200  # still listed for history


def test_sessions_list_and_get(api: Any) -> None:
    a, b = api.session(), api.session()
    mid = api.model(b)
    listing = api.get("sessions", params={"limit": 1}).json()
    assert listing["sessions"] == [b] and listing["cursor"]["total_count"] == 2
    assert api.get("sessions", params={"offset": 1}).json()["sessions"] == [a]
    assert api.get(f"sessions/{b}").json() == {"training_run_ids": [mid], "sampler_ids": []}
    assert api.get("sessions/nobody").status_code == 404
    assert api.get("sessions", params={"limit": "many"}).json()["field"] == "limit"


def test_telemetry_batches_are_stored_and_inspectable(api: Any) -> None:
    batch = {"session_id": "s", "platform": "unix/linux", "sdk_version": "0.15.0",
             "events": [{"event": "SESSION_START", "event_id": "e1", "event_session_index": 0,
                         "severity": "INFO", "timestamp": "2024-01-01T00:00:00Z"}]}
    assert api.ok("telemetry", batch) == {"status": "accepted"}
    assert api.emu.telemetry_batches() == [batch]
    assert requests.get(f"{api.emu.base_url}/_emulator/telemetry", timeout=5).json() == {"batches": [batch]}
    r = api.post("telemetry", {"session_id": "s"})
    assert r.status_code == 400 and r.json()["field"] == "events"


def test_capabilities_and_health(api: Any) -> None:
    caps = api.get("get_server_capabilities").json()["supported_models"]
    assert caps and all({"model_name", "arch", "max_context_length"} <= set(m) for m in caps)
    assert api.get("healthz").json() == {"status": "ok"}


def test_stats_count_requests_and_compute_time(api: Any) -> None:
    api.emu.reset_stats()
    mid = api.model(api.session())
    rid = api.ok("forward_backward", api.fwdbwd(mid, 1, [api.datum(list(range(1, 60)))]))["request_id"]
    header = float(api.result(rid).headers["X-Emulator-Compute-Ms"])
    api.post("forward_backward", {"model_id": mid})  # a 400
    stats = api.emu.stats()
    fb = stats["forward_backward"]
    assert fb.count == 2 and fb.errors == 1 and fb.compute_count == 1
    assert fb.compute_seconds > 0 and abs(fb.compute_seconds * 1000 - header) < 0.01
    assert stats["create_model"].compute_count == 1
    over_http = requests.get(f"{api.emu.base_url}/_emulator/stats", timeout=5).json()
    assert over_http["forward_backward"]["count"] == 2
    seq_ids = requests.get(f"{api.emu.base_url}/_emulator/models/{mid}/seq_ids", timeout=5).json()
    assert seq_ids == {"received": [1], "applied": [1]}
