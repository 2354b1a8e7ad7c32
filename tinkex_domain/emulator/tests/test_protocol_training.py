"""forward vs forward_backward, pipelined save→load, and other training-endpoint details."""

from __future__ import annotations

from typing import Any


def test_forward_computes_outputs_without_gradients(api: Any) -> None:
    mid = api.model(api.session())
    body = {"model_id": mid, "seq_id": 1,
            "forward_input": {"data": [api.datum([3, 4, 5])], "loss_fn": "cross_entropy"}}
    out = api.done(api.ok("forward", body)["request_id"])
    assert out["loss_fn_outputs"][0]["logprobs"]["shape"] == [3]
    step = api.done(api.ok("optim_step", api.optim(mid, 2))["request_id"])
    assert step["metrics"]["grad_norm:mean"] == 0.0  # nothing accumulated
    only = api.fwdbwd(mid, 3)
    only["forward_only"] = True
    api.done(api.ok("forward_backward", only)["request_id"])
    assert api.done(api.ok("optim_step", api.optim(mid, 4))["request_id"])["metrics"]["grad_norm:mean"] == 0.0
    api.done(api.ok("forward_backward", api.fwdbwd(mid, 5))["request_id"])
    assert api.done(api.ok("optim_step", api.optim(mid, 6))["request_id"])["metrics"]["grad_norm:mean"] > 0.0
    r = api.post("forward", {"model_id": mid, "seq_id": 7, "forward_input": {"data": [api.datum([1, 2])]}})
    assert r.status_code == 400 and r.json()["field"] == "forward_input.loss_fn"


def test_forward_and_forward_backward_agree_on_outputs(api: Any) -> None:
    mid = api.model(api.session())
    data = [api.datum([7, 8, 9, 10]), api.datum([11, 12])]
    fwd = api.done(api.ok("forward", {"model_id": mid, "seq_id": 1, "forward_input": {
        "data": data, "loss_fn": "cross_entropy"}})["request_id"])
    fb = api.done(api.ok("forward_backward", api.fwdbwd(mid, 2, data))["request_id"])
    assert fwd == fb


def test_save_then_load_pipelined_without_waiting(api: Any) -> None:
    sid = api.session()
    mid = api.model(sid)
    rids = [api.ok("forward_backward", api.fwdbwd(mid, 1))["request_id"],
            api.ok("optim_step", api.optim(mid, 2, lr=0.3))["request_id"],
            api.ok("save_weights", {"model_id": mid, "seq_id": 3, "path": "p"})["request_id"],
            api.ok("forward_backward", api.fwdbwd(mid, 4))["request_id"],
            api.ok("optim_step", api.optim(mid, 5, lr=0.3))["request_id"],
            api.ok("load_weights", {"model_id": mid, "seq_id": 6, "path": f"tinker://{mid}/weights/p",
                                    "optimizer": True})["request_id"]]
    for rid in rids:
        api.done(rid)
    state = api.emu.model_state(mid)
    assert int(state["adam.step"]) == 1  # back at the saved state after two steps
    assert api.emu.applied_seq_ids(mid) == [1, 2, 3, 4, 5, 6]


def test_bad_tinker_paths_are_rejected_immediately(api: Any) -> None:
    mid = api.model(api.session())
    paths = ("weights/x", "tinker://a/b", "tinker://run/checkpoints/x", "tinker:///weights/x")
    for seq, path in enumerate(paths, start=1):
        r = api.post("load_weights", {"model_id": mid, "seq_id": seq, "path": path})
        assert r.status_code == 400 and r.json()["field"] == "path", path
    r = api.post("load_weights", {"session_id": "nobody", "model_seq_id": 0, "path": "tinker://r/weights/x"})
    assert r.status_code == 404  # create-from-checkpoint needs an existing checkpoint


def test_optim_step_takes_its_parameters_under_any_of_tinkers_three_names(api: Any) -> None:
    mid = api.model(api.session())
    api.done(api.ok("forward_backward", api.fwdbwd(mid, 1))["request_id"])
    step = {"model_id": mid, "seq_id": 2, "optim_params": {"learning_rate": 0.1}}
    assert api.done(api.ok("optim_step", step)["request_id"])["metrics"]["grad_norm:mean"] > 0.0
    both = {"model_id": mid, "seq_id": 3, "adam_params": {"learning_rate": 0.1},
            "optim_params": {"learning_rate": 0.1}}
    r = api.post("optim_step", both)
    assert r.status_code == 400 and r.json()["field"] == "optim_params"
    dimuon = {"model_id": mid, "seq_id": 4, "optim_params": {"type": "dimuon", "learning_rate": 0.1}}
    r = api.post("optim_step", dimuon)
    assert r.status_code == 400 and r.json()["field"] == "optim_params.type"
    bad = {"model_id": mid, "seq_id": 5, "optim_params": {"learning_rate": -1}}
    r = api.post("optim_step", bad)
    assert r.status_code == 400 and r.json()["field"] == "optim_params.learning_rate"
    # The rejected steps used up their seq_ids: the next one runs at once (no gap to wait for).
    assert api.done(api.ok("optim_step", api.optim(mid, 6))["request_id"])["metrics"]["grad_norm:mean"] == 0.0


def test_a_load_that_creates_its_model_picks_the_optimizer(api: Any) -> None:
    sid = api.session()
    mid = api.model(sid)
    api.done(api.ok("save_weights", {"model_id": mid, "seq_id": 1, "path": "o"})["request_id"])
    path = f"tinker://{mid}/weights/o"
    created = api.ok("load_weights", {"session_id": sid, "model_seq_id": 1, "path": path,
                                      "optimizer": False, "optimizer_config": {"type": "adamw"}})
    assert api.done(created["request_id"])["model_id"] == created["model_id"]
    refused = {
        "optimizer_config": ({"session_id": sid, "model_seq_id": 2, "path": path, "optimizer": True,
                              "optimizer_config": {"type": "adamw"}}),
        "optimizer_config.type": ({"session_id": sid, "model_seq_id": 3, "path": path,
                                   "optimizer_config": {"type": "dimuon", "version": 1}}),
    }
    for field, body in refused.items():
        r = api.post("load_weights", body)
        assert r.status_code == 400 and r.json()["field"] == field, r.text
    r = api.post("load_weights", {"model_id": mid, "seq_id": 2, "path": path, "optimizer_config": {"type": "adamw"}})
    assert r.status_code == 400 and r.json()["field"] == "optimizer_config"  # an existing model keeps its own
