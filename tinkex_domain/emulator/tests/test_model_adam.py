"""AdamW (bias correction, decoupled weight decay, global-norm clipping) against a hand-written reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinkex_domain.emulator.model import DatumArrays, LoraSpec, TinyLM
from tinkex_domain.emulator.model.adam import AdamHyper, adam_step


def reference_adamw(params: list[list[float]], grads_per_step: list[list[list[float]]],
                    lr: float, b1: float, b2: float, eps: float, wd: float, clip: float) -> list[list[float]]:
    """Plain-Python AdamW, one scalar at a time (torch.optim.AdamW order: decay, then update)."""
    p = [list(row) for row in params]
    m = [[0.0] * len(row) for row in p]
    v = [[0.0] * len(row) for row in p]
    for t, grads in enumerate(grads_per_step, start=1):
        norm = math.sqrt(sum(g * g for row in grads for g in row))
        factor = clip / norm if clip > 0 and norm > clip else 1.0
        for i, row in enumerate(grads):
            for j, g_raw in enumerate(row):
                g = g_raw * factor
                m[i][j] = b1 * m[i][j] + (1 - b1) * g
                v[i][j] = b2 * v[i][j] + (1 - b2) * g * g
                m_hat = m[i][j] / (1 - b1 ** t)
                v_hat = v[i][j] / (1 - b2 ** t)
                p[i][j] = p[i][j] * (1 - lr * wd) - lr * m_hat / (math.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize(("wd", "clip"), [(0.0, 0.0), (0.1, 0.0), (0.0, 0.5), (0.05, 2.0)])
def test_adam_step_matches_reference(wd: float, clip: float) -> None:
    rng = np.random.default_rng(0)
    start = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal((1, 4))}
    steps = [{"a": rng.standard_normal((2, 3)), "b": rng.standard_normal((1, 4)) * 3} for _ in range(4)]
    hp = AdamHyper(learning_rate=0.01, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=wd, grad_clip_norm=clip)
    params = {k: v.copy() for k, v in start.items()}
    m = {k: np.zeros_like(v) for k, v in start.items()}
    v = {k: np.zeros_like(x) for k, x in start.items()}
    for t, grads in enumerate(steps, start=1):
        metrics = adam_step(params, grads, m, v, t, hp)
        want_norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
        assert metrics["grad_norm:mean"] == pytest.approx(want_norm)
    # clipping is global, so the reference sees both tensors as rows of one parameter list
    want = reference_adamw([*start["a"].tolist(), *start["b"].tolist()],
                           [[*s["a"].tolist(), *s["b"].tolist()] for s in steps], 0.01, 0.9, 0.95, 1e-8, wd, clip)
    np.testing.assert_allclose(params["a"], np.array(want[:2]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(params["b"], np.array(want[2:]), rtol=1e-12, atol=1e-12)


def test_first_step_moves_each_weight_by_lr() -> None:
    """Bias correction: after one step m_hat = g and v_hat = g^2, so each update is lr * sign(g)."""
    params = {"w": np.array([1.0, -2.0, 0.5])}
    grads = {"w": np.array([3.0, -0.001, 40.0])}
    zeros = {"w": np.zeros(3)}
    adam_step(params, grads, {"w": np.zeros(3)}, dict(zeros), 1,
              AdamHyper(learning_rate=0.1, beta1=0.9, beta2=0.999, eps=1e-12))
    np.testing.assert_allclose(params["w"], [0.9, -1.9, 0.4], rtol=1e-9)


def test_clipping_only_above_threshold() -> None:
    params = {"w": np.zeros(2)}
    grads = {"w": np.array([3.0, 4.0])}  # norm 5
    m, v = {"w": np.zeros(2)}, {"w": np.zeros(2)}
    out = adam_step(params, grads, m, v, 1, AdamHyper(0.1, 0.9, 0.95, 1e-8, grad_clip_norm=10.0))
    assert out["grad_scale:mean"] == 1.0
    np.testing.assert_allclose(m["w"], [0.3, 0.4])
    m2, v2 = {"w": np.zeros(2)}, {"w": np.zeros(2)}
    out = adam_step({"w": np.zeros(2)}, grads, m2, v2, 1, AdamHyper(0.1, 0.9, 0.95, 1e-8, grad_clip_norm=1.0))
    assert out["grad_scale:mean"] == pytest.approx(0.2)
    np.testing.assert_allclose(m2["w"], [0.1 * 0.6, 0.1 * 0.8])


def test_tiny_lm_optim_step_applies_adamw_to_accumulated_grads() -> None:
    lm = TinyLM.create("adam-model", LoraSpec(rank=2, seed=0, train_attn=False, train_mlp=False),
                       dtype=np.float64)
    rng = np.random.default_rng(1)
    data = [DatumArrays(rng.integers(0, 256, 10), {"target_tokens": rng.integers(0, 256, 10)})]
    start = lm.state_dict(False)
    names = sorted(start)
    flat_start = [x for k in names for x in start[k].ravel().tolist()]
    grads_seen = []
    for _ in range(3):
        lm.forward_backward(data, "cross_entropy", None, True)
        grads = lm.gradients()
        grads_seen.append([x for k in names for x in grads[k].ravel().tolist()])
        metrics = lm.optim_step(learning_rate=0.02, beta1=0.8, beta2=0.9, eps=1e-8,
                                weight_decay=0.1, grad_clip_norm=5.0)
        assert all(not g.any() for g in lm.gradients().values())  # zeroed by the step
    assert metrics["step:max"] == 3
    want = reference_adamw([flat_start], [[g] for g in grads_seen], 0.02, 0.8, 0.9, 1e-8, 0.1, 5.0)[0]
    got = lm.state_dict(True)
    flat_got = [x for k in names for x in got[k].ravel().tolist()]
    np.testing.assert_allclose(flat_got, want, rtol=1e-10, atol=1e-12)
    assert int(got["adam.step"]) == 3
    assert max(abs(x) for x in grads_seen[0]) > 0
