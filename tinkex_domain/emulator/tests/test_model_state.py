"""Base-model determinism, LoRA configuration, state_dict round trips and adapter metadata."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from tinkex_domain.emulator.model import VOCAB_SIZE, DatumArrays, LoraSpec, TinyLM, UserInputError

TEXT = np.array(list(b"Soft rain fell on the garden and the river rose."), dtype=np.int64)
DATUM = DatumArrays(TEXT[:-1], {"target_tokens": TEXT[1:]})
ADAM = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.01,
        "grad_clip_norm": 1.0}


def logprobs(lm: TinyLM) -> np.ndarray:
    return lm.forward_backward([DATUM], "cross_entropy", None, False).loss_fn_outputs[0]["logprobs"]


def train(lm: TinyLM, steps: int) -> None:
    for _ in range(steps):
        lm.forward_backward([DATUM], "cross_entropy", None, True)
        lm.optim_step(**ADAM)


def npz_roundtrip(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf) as f:
        return {k: f[k] for k in f.files}


def test_base_depends_only_on_name_and_fresh_adapter_is_the_base() -> None:
    a = logprobs(TinyLM.create("base-x", LoraSpec(rank=1)))
    b = logprobs(TinyLM.create("base-x", LoraSpec(rank=16, seed=5, train_attn=False)))
    c = logprobs(TinyLM.create("base-y", LoraSpec(rank=1)))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_base_is_stable_across_processes() -> None:
    code = ("import json\nimport numpy as np\nfrom tinkex_domain.emulator.model import DatumArrays, LoraSpec, TinyLM\n"
            f"t = np.array({TEXT.tolist()})\n"
            "m = TinyLM.create('base-x', LoraSpec(rank=2))\n"
            "r = m.forward_backward([DatumArrays(t[:-1], {'target_tokens': t[1:]})], 'cross_entropy', None, False)\n"
            "print(json.dumps(r.loss_fn_outputs[0]['logprobs'].tolist()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    np.testing.assert_array_equal(np.array(json.loads(out.stdout), dtype=np.float32),
                                  logprobs(TinyLM.create("base-x", LoraSpec(rank=2))))


def test_lora_seed_controls_a_matrices() -> None:
    s1 = TinyLM.create("m", LoraSpec(rank=4, seed=1)).state_dict(False)
    s1b = TinyLM.create("m", LoraSpec(rank=4, seed=1)).state_dict(False)
    s2 = TinyLM.create("m", LoraSpec(rank=4, seed=2)).state_dict(False)
    default = TinyLM.create("m", LoraSpec(rank=4)).state_dict(False)
    for key in s1:
        np.testing.assert_array_equal(s1[key], s1b[key])
        if key.endswith(".B"):
            assert not s1[key].any()
        else:
            assert not np.array_equal(s1[key], s2[key]) and not np.array_equal(s1[key], default[key])


@pytest.mark.parametrize(("flags", "prefixes"), [
    ({}, {"lora.attn.q", "lora.attn.k", "lora.attn.v", "lora.attn.o", "lora.mlp.up", "lora.mlp.down", "lora.unembed"}),
    ({"train_attn": False}, {"lora.mlp.up", "lora.mlp.down", "lora.unembed"}),
    ({"train_mlp": False, "train_unembed": False}, {"lora.attn.q", "lora.attn.k", "lora.attn.v", "lora.attn.o"}),
    ({"train_mlp": False, "train_unembed": False, "train_attn": False}, set()),
])
def test_train_flags_choose_adapters(flags: dict[str, bool], prefixes: set[str]) -> None:
    lm = TinyLM.create("flags", LoraSpec(rank=3, **flags))
    state = lm.state_dict(False)
    assert {k.rsplit(".", 1)[0] for k in state} == prefixes
    cfg = lm.adapter_config()
    d, f = cfg["d_model"], cfg["d_ff"]
    sizes = {"lora.attn.q": (d, d), "lora.attn.k": (d, d), "lora.attn.v": (d, d), "lora.attn.o": (d, d),
             "lora.mlp.up": (d, f), "lora.mlp.down": (f, d), "lora.unembed": (d, VOCAB_SIZE)}
    for p in prefixes:
        assert state[f"{p}.A"].shape == (sizes[p][0], 3) and state[f"{p}.B"].shape == (3, sizes[p][1])
    assert lm.num_trainable_params == sum(3 * (sizes[p][0] + sizes[p][1]) for p in prefixes)
    train(lm, 1)  # works even with nothing to train


def test_adapter_config_is_json() -> None:
    lm = TinyLM.create("cfg-model", LoraSpec(rank=8, seed=3, train_mlp=False))
    cfg = json.loads(json.dumps(lm.adapter_config()))
    assert cfg["base_model"] == "cfg-model" and cfg["rank"] == 8 and cfg["vocab_size"] == 256
    assert cfg["train_mlp"] is False and cfg["train_attn"] is True and cfg["architecture"] == "tinkex-tiny-lm"
    assert cfg["num_trainable_params"] == lm.num_trainable_params


def test_invalid_rank() -> None:
    with pytest.raises(UserInputError, match=r"^lora_config\.rank"):
        TinyLM.create("m", LoraSpec(rank=0))


def test_save_load_continue_is_bit_identical() -> None:
    straight = TinyLM.create("resume", LoraSpec(rank=4, seed=0))
    train(straight, 6)
    first = TinyLM.create("resume", LoraSpec(rank=4, seed=0))
    train(first, 3)
    saved = npz_roundtrip(first.state_dict(with_optimizer=True))
    resumed = TinyLM.create("resume", LoraSpec(rank=4, seed=0))
    resumed.load_state_dict(saved, with_optimizer=True)
    train(resumed, 3)
    a, b = straight.state_dict(True), resumed.state_dict(True)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert int(b["adam.step"]) == 6
    np.testing.assert_array_equal(logprobs(straight), logprobs(resumed))


def test_weights_only_load_restarts_adam() -> None:
    src = TinyLM.create("w-only", LoraSpec(rank=2, seed=0))
    train(src, 2)
    dst = TinyLM.create("w-only", LoraSpec(rank=2, seed=0))
    train(dst, 1)
    dst.forward_backward([DATUM], "cross_entropy", None, True)  # pending grads are dropped by a load
    full = src.state_dict(True)
    dst.load_state_dict(full, with_optimizer=False)  # optimizer keys present but ignored
    np.testing.assert_array_equal(logprobs(dst), logprobs(src))
    state = dst.state_dict(True)
    assert int(state["adam.step"]) == 0
    assert all(not state[k].any() for k in state if k.startswith("adam.m.") or k.startswith("adam.v."))
    assert all(not g.any() for g in dst.gradients().values())
    weights = src.state_dict(False)
    assert set(weights) < set(full) and all(k.startswith("lora.") for k in weights)


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda s: s.pop("lora.unembed.B"), "state.lora.unembed.B"),
    (lambda s: s.__setitem__("lora.mlp.up.A", np.zeros((64, 3), np.float32)), "state.lora.mlp.up.A"),
    (lambda s: s.pop("adam.step"), "state.adam.step"),
    (lambda s: s.pop("adam.v.lora.attn.q.A"), "state.adam.v.lora.attn.q.A"),
    (lambda s: s.__setitem__("lora.attn.q.A", np.full((64, 2), np.nan, np.float32)), "state.lora.attn.q.A"),
])
def test_bad_state_rejected_without_change(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    src = TinyLM.create("bad", LoraSpec(rank=2, seed=0))
    train(src, 1)
    state = src.state_dict(True)
    mutate(state)
    dst = TinyLM.create("bad", LoraSpec(rank=2, seed=9))
    before = dst.state_dict(True)
    with pytest.raises(UserInputError) as info:
        dst.load_state_dict(state, with_optimizer=True)
    assert str(info.value).startswith(field)
    after = dst.state_dict(True)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_rank_or_flag_mismatch_rejected() -> None:
    state = TinyLM.create("mm", LoraSpec(rank=4)).state_dict(False)
    with pytest.raises(UserInputError, match="rank"):
        TinyLM.create("mm", LoraSpec(rank=8)).load_state_dict(state, with_optimizer=False)
    with pytest.raises(UserInputError, match=r"^state\.lora\.attn"):
        TinyLM.create("mm", LoraSpec(rank=4, train_attn=False)).load_state_dict(state, with_optimizer=False)
