"""Training operations are applied in seq_id order, exactly once, whatever the arrival order."""

from __future__ import annotations

import threading
from typing import Any

from tinkex_domain.emulator import ManualClock


def test_out_of_order_arrivals_are_applied_in_seq_order(api: Any) -> None:
    mid = api.model(api.session())
    r1 = api.ok("forward_backward", api.fwdbwd(mid, 1))["request_id"]
    api.done(r1)
    r3 = api.ok("optim_step", api.optim(mid, 3))["request_id"]
    assert api.post("retrieve_future", {"request_id": r3}).json()["type"] == "try_again"
    assert api.emu.future_state(r3) == "pending"  # buffered behind the missing seq 2
    r2 = api.ok("forward_backward", api.fwdbwd(mid, 2))["request_id"]
    api.done(r2)
    step = api.done(r3)
    assert api.emu.received_seq_ids(mid) == [1, 3, 2]
    assert api.emu.applied_seq_ids(mid) == [1, 2, 3]
    # optim after two fwd/bwd passes saw both gradients: step count 1
    assert step["metrics"]["step:max"] == 1.0


def test_shuffled_burst_is_applied_in_order(api: Any) -> None:
    mid = api.model(api.session())
    order = [5, 2, 4, 1, 3]
    rids = {seq: api.ok("forward_backward", api.fwdbwd(mid, seq))["request_id"] for seq in order}
    for rid in rids.values():
        api.done(rid)
    assert api.emu.received_seq_ids(mid) == order
    assert api.emu.applied_seq_ids(mid) == [1, 2, 3, 4, 5]


def test_resending_the_same_step_applies_it_once(api: Any) -> None:
    mid = api.model(api.session())
    api.done(api.ok("forward_backward", api.fwdbwd(mid, 1))["request_id"])
    body = api.optim(mid, 2)
    key = {"X-Idempotency-Key": "step-2-key"}
    ids = [api.post("optim_step", body, headers=key).json()["request_id"] for _ in range(3)]
    assert len(set(ids)) == 1
    # a resend with a fresh key (a higher-level retry) is matched by (model, seq_id)
    again = api.post("optim_step", body, headers={"X-Idempotency-Key": "other"}).json()["request_id"]
    assert again == ids[0]
    result = api.done(ids[0])
    assert result["metrics"]["step:max"] == 1.0
    assert api.emu.applied_seq_ids(mid) == [1, 2]
    assert api.emu.received_seq_ids(mid) == [1, 2, 2]  # key replays never reach the model queue
    state = api.emu.model_state(mid)
    assert int(state["adam.step"]) == 1


def test_idempotency_key_replays_the_original_reply(api: Any) -> None:
    key = {"X-Idempotency-Key": "create-session-1"}
    first = api.post("create_session", {}, headers=key).json()
    assert api.post("create_session", {}, headers=key).json() == first
    assert api.post("create_session", {}).json() != first
    sid = first["session_id"]
    body = {"session_id": sid, "model_seq_id": 0, "base_model": "b"}
    a = api.post("create_model", body).json()
    b = api.post("create_model", body).json()  # same (session, model_seq_id)
    assert a == b


def test_concurrent_resends_are_applied_once(api: Any) -> None:
    mid = api.model(api.session())
    body = api.fwdbwd(mid, 1)
    ids: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        rid = api.post("forward_backward", body, headers={"X-Idempotency-Key": "k"}).json()["request_id"]
        with lock:
            ids.append(rid)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1
    api.done(ids[0])
    assert api.emu.applied_seq_ids(mid) == [1]


def test_rejected_request_keeps_its_seq_slot(api: Any) -> None:
    mid = api.model(api.session())
    bad = api.fwdbwd(mid, 1)
    bad["forward_backward_input"]["loss_fn"] = "nope"
    assert api.post("forward_backward", bad).status_code == 400
    assert api.post("forward_backward", bad).status_code == 400  # resend: same answer
    api.done(api.ok("forward_backward", api.fwdbwd(mid, 2))["request_id"])  # not blocked
    assert api.emu.applied_seq_ids(mid) == [2]


def test_gap_that_never_fills_fails_after_timeout(make_emulator: Any, api_for: Any) -> None:
    clock = ManualClock()
    emu = make_emulator(clock=clock, sequence_gap_timeout_s=30.0)
    api = api_for(emu)
    mid = api.model(api.session())
    r2 = api.ok("forward_backward", api.fwdbwd(mid, 2))["request_id"]
    r3 = api.ok("optim_step", api.optim(mid, 3))["request_id"]
    clock.advance(29.0)
    assert api.post("retrieve_future", {"request_id": r2}).json()["type"] == "try_again"
    clock.advance(1.0)
    failed = api.result(r2).json()
    assert failed["category"] == "user" and "seq_id 1 never arrived" in failed["error"]
    assert "seq_id 3 was not applied" in api.result(r3).json()["error"]
    late = api.post("forward_backward", api.fwdbwd(mid, 1))
    assert late.status_code == 409 and late.json()["field"] == "seq_id"
    api.done(api.ok("forward_backward", api.fwdbwd(mid, 4))["request_id"])  # the model moves on
    assert api.emu.applied_seq_ids(mid) == [4]


def test_seq_zero_is_reserved_for_creation(api: Any) -> None:
    mid = api.model(api.session())
    r = api.post("forward_backward", api.fwdbwd(mid, 0))
    assert r.status_code == 400 and r.json()["field"] == "seq_id"


def test_ops_sent_before_creation_finishes_wait_for_it(make_emulator: Any, api_for: Any) -> None:
    emu = make_emulator()
    api = api_for(emu)
    sid = api.session()
    emu.set_queue_state("paused_capacity")
    out = api.ok("create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "b"})
    mid = out["model_id"]
    r1 = api.ok("forward_backward", api.fwdbwd(mid, 1))["request_id"]
    emu.set_queue_state("active")
    api.done(out["request_id"])
    api.done(r1)
    assert emu.applied_seq_ids(mid) == [1]
