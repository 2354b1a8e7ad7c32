"""End to end with the real model (``tinkex_domain.emulator.model``), through HTTP only."""

from __future__ import annotations

import importlib
import io
import json
import tarfile
from typing import Any

import numpy as np
import pytest
import requests


@pytest.fixture
def real(make_emulator: Any, api_for: Any) -> Any:
    """An Api bound to an emulator serving the real tiny LM."""
    return api_for(make_emulator(backend=importlib.import_module("tinkex_domain.emulator.model")))


def _steps(api: Any, mid: str, seq: int, rounds: range) -> int:
    for i in rounds:
        data = [api.datum([10 + i, 20, 30, 40, 50, 60]), api.datum([70, 80 + i, 90])]
        api.done(api.ok("forward_backward", api.fwdbwd(mid, seq, data))["request_id"])
        api.done(api.ok("optim_step", {"model_id": mid, "seq_id": seq + 1, "adam_params": {
            "learning_rate": 0.01, "weight_decay": 0.01, "grad_clip_norm": 1.0}})["request_id"])
        seq += 2
    return seq


def _archive_arrays(api: Any, path: str) -> dict[str, np.ndarray]:
    run, kind, name = path[len("tinker://"):].split("/")
    url = api.get(f"training_runs/{run}/checkpoints/{kind}/{name}/archive",
                  allow_redirects=False).headers["Location"]
    blob = requests.get(url, timeout=10).content
    arrays: dict[str, np.ndarray] = {}
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for member in ("weights.npz", "optimizer.npz"):
            with np.load(io.BytesIO(tar.extractfile(member).read())) as npz:  # type: ignore[union-attr]
                arrays.update({f"{member}:{k}": npz[k] for k in npz.files})
        config = json.loads(tar.extractfile("adapter_config.json").read())  # type: ignore[union-attr]
    assert config["rank"] == 2
    return arrays


def test_save_load_continue_matches_straight_training_bit_for_bit(real: Any) -> None:
    sid = real.session()
    straight = real.model(sid, seq=0, rank=2)
    seq = _steps(real, straight, 1, range(4))
    save = {"model_id": straight, "seq_id": seq, "path": "end"}
    straight_path = real.done(real.ok("save_weights", save)["request_id"])["path"]

    first = real.model(sid, seq=1, rank=2)
    seq = _steps(real, first, 1, range(2))
    half = real.done(real.ok("save_weights", {"model_id": first, "seq_id": seq, "path": "half"})
                     ["request_id"])["path"]
    out = real.ok("load_weights", {"session_id": sid, "model_seq_id": 2, "path": half, "optimizer": True})
    real.done(out["request_id"])
    seq = _steps(real, out["model_id"], 1, range(2, 4))
    resumed_path = real.done(real.ok("save_weights", {"model_id": out["model_id"], "seq_id": seq,
                                                      "path": "end"})["request_id"])["path"]

    a, b = _archive_arrays(real, straight_path), _archive_arrays(real, resumed_path)
    assert a.keys() == b.keys() and len(a) > 2
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key
    fresh = real.model(sid, seq=3, rank=2)
    fresh_path = real.done(real.ok("save_weights", {"model_id": fresh, "seq_id": 1, "path": "zero"})
                           ["request_id"])["path"]
    untrained = _archive_arrays(real, fresh_path)
    assert any(untrained[k].tobytes() != a[k].tobytes() for k in a if k.startswith("weights.npz"))


def test_sampling_with_the_real_model(real: Any) -> None:
    sid = real.session()
    sampler = real.ok("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                                  "base_model": "tinkex/tiny-byte-lm"})["sampling_session_id"]
    body = {"sampling_session_id": sampler, "prompt": {"chunks": [{"type": "encoded_text",
                                                                   "tokens": list(b"Hello")}]},
            "sampling_params": {"max_tokens": 6, "seed": 5, "temperature": 0.8}, "prompt_logprobs": True,
            "topk_prompt_logprobs": 3}
    one = real.done(real.ok("asample", body)["request_id"])
    assert one == real.done(real.ok("asample", body)["request_id"])
    assert len(one["prompt_logprobs"]) == 5 and one["prompt_logprobs"][0] is None
    assert all(len(row) == 3 for row in one["topk_prompt_logprobs"][1:])
    stream = real.post("stream_sample", {k: v for k, v in body.items() if "logprobs" not in k})
    events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
    assert [e["token_id"] for e in events[:-1]] == one["sequences"][0]["tokens"]
    assert events[-1]["total_tokens"] == len(one["sequences"][0]["tokens"])


def test_rl_losses_and_model_side_user_errors(real: Any) -> None:
    mid = real.model(real.session(), rank=2)
    datum = real.datum([5, 6, 7, 8])
    datum["loss_fn_inputs"]["logprobs"] = {"data": [-1.0, -2.0, -1.5, -0.5], "dtype": "float32", "shape": [4]}
    datum["loss_fn_inputs"]["advantages"] = [1.0, -1.0, 0.5, 0.0]
    for seq, loss_fn in enumerate(("importance_sampling", "ppo", "cispo", "dro"), start=1):
        body = {"model_id": mid, "seq_id": seq,
                "forward_backward_input": {"data": [datum], "loss_fn": loss_fn}}
        out = real.done(real.ok("forward_backward", body)["request_id"])
        assert out["loss_fn_outputs"][0]["elementwise_loss"]["shape"] == [4], loss_fn
    del datum["loss_fn_inputs"]["advantages"]
    r = real.post("forward_backward", {"model_id": mid, "seq_id": 5,
                                       "forward_backward_input": {"data": [datum], "loss_fn": "ppo"}})
    assert r.status_code == 400
    assert r.json()["field"] == "forward_backward_input.data[0].loss_fn_inputs.advantages"
    short = real.datum([5, 6, 7, 8], targets=[6, 7, 8])
    short["loss_fn_inputs"]["target_tokens"]["shape"] = [3]
    failed = real.result(real.ok("forward_backward", real.fwdbwd(mid, 6, [short]))["request_id"]).json()
    assert failed["category"] == "user" and failed["error"].startswith("data[0].loss_fn_inputs.target_tokens")
