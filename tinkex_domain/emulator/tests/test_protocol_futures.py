"""retrieve_future: try_again / 408 with queue state, completed, failed (user/server), 410,
metadata-first delivery and the compute-time header."""

from __future__ import annotations

import json
import threading
import types
from typing import Any

from tinkex_domain.emulator import ManualClock


def _submit_fwdbwd(api: Any, data: list[dict[str, Any]] | None = None) -> tuple[str, str]:
    sid = api.session()
    mid = api.model(sid)
    return mid, api.ok("forward_backward", api.fwdbwd(mid, 1, data))["request_id"]


def test_long_operations_answer_a_request_id_at_once(api: Any) -> None:
    sid = api.session()
    out = api.ok("create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "b"})
    assert set(out) == {"request_id", "model_id"}
    assert out["model_id"] == f"{sid}:train:0"


def test_completed_result_is_the_bare_object_with_compute_header(api: Any) -> None:
    _, rid = _submit_fwdbwd(api, [api.datum([5, 6, 7]), api.datum([8, 9])])
    r = api.result(rid)
    body = r.json()
    assert set(body) == {"loss_fn_output_type", "loss_fn_outputs", "metrics"}
    assert [o["logprobs"]["shape"] for o in body["loss_fn_outputs"]] == [[3], [2]]
    assert body["loss_fn_outputs"][0]["elementwise_loss"]["dtype"] == "float32"
    assert "loss:sum" in body["metrics"]
    assert float(r.headers["X-Emulator-Compute-Ms"]) >= 0.0
    assert api.result(rid).json() == body  # results can be fetched again


def test_pending_answers_try_again_with_queue_state(make_emulator: Any, api_for: Any) -> None:
    clock = ManualClock()
    emu = make_emulator(clock=clock, queue_delay_s=5.0, queue_state_reason="warming up")
    api = api_for(emu)
    sid = api.session()
    rid = api.ok("create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "b"})["request_id"]
    r = api.post("retrieve_future", {"request_id": rid})
    assert r.status_code == 200
    assert r.json() == {"type": "try_again", "request_id": rid, "queue_state": "active",
                        "queue_state_reason": "warming up"}
    clock.advance(5.0)
    assert api.post("retrieve_future", {"request_id": rid}).json()["type"] == "create_model"


def test_pending_answers_408_when_configured(make_emulator: Any, api_for: Any) -> None:
    emu = make_emulator(pending_reply="408", queue_state="paused_rate_limit",
                        queue_state_reason="too many clients")
    api = api_for(emu)
    sid = api.session()
    rid = api.ok("create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "b"})["request_id"]
    r = api.post("retrieve_future", {"request_id": rid})
    assert r.status_code == 408
    assert r.json()["queue_state"] == "paused_rate_limit"
    assert r.json()["queue_state_reason"] == "too many clients"
    emu.set_queue_state("active")
    assert api.result(rid).json()["model_id"] == f"{sid}:train:0"


def test_paused_capacity_holds_results_until_active(api: Any) -> None:
    sid = api.session()
    api.emu.set_queue_state("paused_capacity", "GPU shortage")
    rid = api.ok("create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "b"})["request_id"]
    for _ in range(3):
        body = api.post("retrieve_future", {"request_id": rid}).json()
        assert (body["type"], body["queue_state"], body["queue_state_reason"]) == \
            ("try_again", "paused_capacity", "GPU shortage")
    assert api.emu.future_state(rid) == "completed"  # computed, but held back
    api.emu.set_queue_state("active")
    assert api.result(rid).json()["type"] == "create_model"


def test_long_poll_returns_as_soon_as_the_result_is_ready(make_emulator: Any, api_for: Any) -> None:
    clock = ManualClock()
    emu = make_emulator(long_poll_s=10.0, clock=clock, queue_delay_s=1.0)
    api = api_for(emu)
    sid = api.session()
    rid = api.ok("create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "b"})["request_id"]
    emu.set_long_poll(0.05)
    assert api.post("retrieve_future", {"request_id": rid}).json()["type"] == "try_again"
    emu.set_long_poll(10.0)
    emu.set_queue_state("paused_capacity")
    got: list[dict[str, Any]] = []
    t = threading.Thread(target=lambda: got.append(api_for(emu).post(
        "retrieve_future", {"request_id": rid}).json()))
    t.start()
    while emu.stats()["retrieve_future"].count < 2:  # the second poll is in the server
        threading.Event().wait(0.002)
    clock.advance(1.0)
    emu.set_queue_state("active")  # wakes the waiting poll well before its 10 s
    t.join(timeout=5)
    assert not t.is_alive() and got[0]["type"] == "create_model"


def test_failed_future_with_user_category(api: Any) -> None:
    # the test double raises UserInputError when target length != input length
    bad = api.datum([1, 2, 3], targets=[1, 2])
    bad["loss_fn_inputs"]["target_tokens"]["shape"] = [2]
    _, rid = _submit_fwdbwd(api, [bad])
    r = api.result(rid)
    assert r.status_code == 200
    assert r.json()["category"] == "user"
    assert "target_tokens" in r.json()["error"]


def test_failed_future_with_server_category(make_emulator: Any, api_for: Any, double: Any) -> None:
    class Broken(double.TinyLM):  # type: ignore[misc,name-defined]
        def optim_step(self, *a: Any, **k: Any) -> dict[str, float]:
            raise RuntimeError("disk on fire")
    backend = types.SimpleNamespace(**{**vars(double), "TinyLM": Broken})
    api = api_for(make_emulator(backend=backend))
    sid = api.session()
    mid = api.model(sid)
    rid = api.ok("optim_step", api.optim(mid, 1))["request_id"]
    body = api.result(rid).json()
    assert body["category"] == "server" and "disk on fire" in body["error"]


def test_unknown_and_expired_futures_are_410(make_emulator: Any, api_for: Any) -> None:
    clock = ManualClock()
    emu = make_emulator(clock=clock, future_ttl_s=60.0)
    api = api_for(emu)
    r = api.post("retrieve_future", {"request_id": "req-never-issued"})
    assert r.status_code == 410 and r.json()["request_id"] == "req-never-issued"
    sid = api.session()
    rid = api.ok("create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "b"})["request_id"]
    assert api.result(rid).status_code == 200
    clock.advance(59.0)
    assert api.post("retrieve_future", {"request_id": rid}).status_code == 200
    clock.advance(1.0)
    assert api.post("retrieve_future", {"request_id": rid}).status_code == 410
    emu.check_timeouts()
    assert emu.future_state(rid) is None


def test_metadata_only_first_then_payload(make_emulator: Any, api_for: Any) -> None:
    emu = make_emulator(metadata_threshold_bytes=200)
    api = api_for(emu)
    _, rid = _submit_fwdbwd(api, [api.datum(list(range(1, 40)))])
    while True:
        r = api.post("retrieve_future", {"request_id": rid, "allow_metadata_only": True})
        if r.json().get("type") != "try_again":
            break
    meta = r.json()
    assert meta["status"] == "complete_metadata"
    full = api.post("retrieve_future", {"request_id": rid, "allow_metadata_only": False})
    assert meta["response_payload_size"] == len(full.content)
    assert "loss_fn_outputs" in json.loads(full.content)
    small = api.ok("create_model", {"session_id": api.session(), "model_seq_id": 0, "base_model": "b"})
    r = api.result(small["request_id"])
    body = api.post("retrieve_future", {"request_id": small["request_id"], "allow_metadata_only": True})
    assert body.json() == r.json()  # under the threshold: delivered directly


def test_retrieve_future_validation(api: Any) -> None:
    r = api.post("retrieve_future", {})
    assert r.status_code == 400 and r.json()["field"] == "request_id"
    r = api.post("retrieve_future", {"request_id": "x", "allow_metadata_only": "yes"})
    assert r.status_code == 400 and r.json()["field"] == "allow_metadata_only"
