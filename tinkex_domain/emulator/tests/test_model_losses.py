"""Loss values, outputs, metrics and input validation of TinyLM.forward_backward."""

from __future__ import annotations

import numpy as np
import pytest

from tinkex_domain.emulator.model import (
    LOSS_CONFIG_KEYS,
    LOSS_FUNCTIONS,
    LOSS_INPUT_KEYS,
    DatumArrays,
    LoraSpec,
    TinyLM,
    UserInputError,
)


@pytest.fixture(scope="module")
def lm() -> TinyLM:
    return TinyLM.create("loss-model", LoraSpec(rank=4, seed=0))


def rl_data(lm: TinyLM, seed: int = 0) -> tuple[list[DatumArrays], list[np.ndarray]]:
    """Two datums with sampler logprobs near the model's and mixed-sign advantages."""
    rng = np.random.default_rng(seed)
    plain = [DatumArrays(rng.integers(0, 256, n), {"target_tokens": rng.integers(0, 256, n)}) for n in (9, 5)]
    lps = [o["logprobs"].astype(np.float64)
           for o in lm.forward_backward(plain, "cross_entropy", None, False).loss_fn_outputs]
    data = []
    for d, lp in zip(plain, lps, strict=True):
        q = lp + rng.uniform(-0.6, 0.6, lp.size)
        adv = rng.standard_normal(lp.size)
        data.append(DatumArrays(d.tokens, {**d.loss_fn_inputs, "logprobs": q.astype(np.float32),
                                           "advantages": adv.astype(np.float32)}))
    return data, lps


def expected(loss_fn: str, lp: np.ndarray, q: np.ndarray, a: np.ndarray, cfg: dict[str, float]) -> np.ndarray:
    r = np.exp(lp - q)
    lo, hi = cfg.get("clip_low_threshold", 0.8), cfg.get("clip_high_threshold", 1.2)
    if loss_fn == "importance_sampling":
        return -r * a
    if loss_fn == "ppo":
        return -np.minimum(r * a, np.clip(r, lo, hi) * a)
    if loss_fn == "cispo":
        return -np.clip(r, lo, hi) * lp * a
    assert loss_fn == "dro"
    beta = cfg.get("beta", 0.05)
    return -(lp * a - beta / 2 * (lp - q) ** 2)


def test_contract_tables() -> None:
    assert LOSS_FUNCTIONS == ("cross_entropy", "importance_sampling", "ppo", "cispo", "dro")
    assert set(LOSS_INPUT_KEYS) == set(LOSS_FUNCTIONS) == set(LOSS_CONFIG_KEYS)
    assert LOSS_INPUT_KEYS["cross_entropy"] == (("target_tokens",), ("weights",))
    assert LOSS_CONFIG_KEYS["ppo"] == {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}
    assert LOSS_CONFIG_KEYS["cispo"] == {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}
    assert LOSS_CONFIG_KEYS["dro"] == {"beta": 0.05}


def test_cross_entropy_outputs_and_metrics(lm: TinyLM) -> None:
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 256, 12)
    targets = rng.integers(0, 256, 12)
    weights = rng.uniform(0, 2, 12).astype(np.float32)
    res = lm.forward_backward([DatumArrays(tokens, {"target_tokens": targets, "weights": weights}),
                               DatumArrays(tokens[:4], {"target_tokens": targets[:4]})],
                              "cross_entropy", None, backward=False)
    first, second = res.loss_fn_outputs
    assert first["logprobs"].dtype == np.float32 and first["logprobs"].shape == (12,)
    assert first["elementwise_loss"].dtype == np.float32
    assert np.all(first["logprobs"] < 0)
    np.testing.assert_allclose(first["elementwise_loss"], -weights * first["logprobs"], rtol=1e-6)
    # causal: a prefix gets the same logprobs; no weights means weight 1
    np.testing.assert_allclose(second["logprobs"], first["logprobs"][:4], rtol=1e-5)
    np.testing.assert_allclose(second["elementwise_loss"], -second["logprobs"], rtol=1e-6)
    total = float(first["elementwise_loss"].sum() + second["elementwise_loss"].sum())
    assert res.metrics["loss:sum"] == pytest.approx(total, rel=1e-5)
    assert res.metrics["num_tokens:sum"] == 16
    assert all(":" in key for key in res.metrics)
    assert res.compute_seconds >= 0


def test_logprobs_follow_tinker_semantics(lm: TinyLM) -> None:
    """logprobs[t] = log p(target[t] | tokens[:t+1]), as prompt_logprobs of the joined sequence."""
    seq = np.array(list(b"river banks"), dtype=np.int64)
    res = lm.forward_backward([DatumArrays(seq[:-1], {"target_tokens": seq[1:]})], "cross_entropy",
                              None, False)
    plp = lm.prompt_logprobs(seq)
    assert plp[0] is None
    np.testing.assert_allclose(res.loss_fn_outputs[0]["logprobs"], np.array(plp[1:], dtype=float), rtol=1e-5)


@pytest.mark.parametrize("loss_fn", ["importance_sampling", "ppo", "cispo", "dro"])
@pytest.mark.parametrize("cfg", [None, "custom"])
def test_rl_losses_match_formulas(lm: TinyLM, loss_fn: str, cfg: str | None) -> None:
    data, lps = rl_data(lm)
    config: dict[str, float] = {}
    if cfg == "custom":
        config = {"beta": 0.3} if loss_fn == "dro" else (
            {} if loss_fn == "importance_sampling" else {"clip_low_threshold": 0.9, "clip_high_threshold": 1.05})
    res = lm.forward_backward(data, loss_fn, config or None, backward=False)
    total = 0.0
    for d, lp, out in zip(data, lps, res.loss_fn_outputs, strict=True):
        q = d.loss_fn_inputs["logprobs"].astype(np.float64)
        a = d.loss_fn_inputs["advantages"].astype(np.float64)
        np.testing.assert_allclose(out["logprobs"], lp, rtol=1e-6)
        want = expected(loss_fn, lp, q, a, config)
        np.testing.assert_allclose(out["elementwise_loss"], want, rtol=2e-4, atol=2e-5)
        total += float(want.sum())
    assert res.metrics["loss:sum"] == pytest.approx(total, rel=1e-4, abs=1e-4)


def test_clip_config_changes_ppo(lm: TinyLM) -> None:
    data, _ = rl_data(lm, seed=3)
    default = lm.forward_backward(data, "ppo", None, False)
    explicit = lm.forward_backward(data, "ppo", {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}, False)
    tight = lm.forward_backward(data, "ppo", {"clip_low_threshold": 0.99, "clip_high_threshold": 1.01}, False)
    assert default.metrics == explicit.metrics
    assert tight.metrics["loss:sum"] != default.metrics["loss:sum"]
    assert tight.metrics["clip_fraction:mean"] > default.metrics["clip_fraction:mean"]


def test_on_policy_ppo_gradient_equals_importance_sampling(lm: TinyLM) -> None:
    """With q = logp every ratio is 1 (unclipped), so PPO's gradient is the IS gradient."""
    data, lps = rl_data(lm, seed=4)
    on_policy = [DatumArrays(d.tokens, {**d.loss_fn_inputs, "logprobs": lp.astype(np.float32)})
                 for d, lp in zip(data, lps, strict=True)]
    model = TinyLM.create("loss-model", LoraSpec(rank=4, seed=0))
    model.forward_backward(on_policy, "ppo", None, True)
    g_ppo = model.gradients()
    other = TinyLM.create("loss-model", LoraSpec(rank=4, seed=0))
    other.forward_backward(on_policy, "importance_sampling", None, True)
    for key, g in other.gradients().items():
        np.testing.assert_allclose(g_ppo[key], g, rtol=1e-5, atol=1e-6)


def test_forward_only_accumulates_nothing_and_backward_accumulates_sum(lm: TinyLM) -> None:
    model = TinyLM.create("acc", LoraSpec(rank=2, seed=0))
    rng = np.random.default_rng(5)
    d1 = DatumArrays(rng.integers(0, 256, 7), {"target_tokens": rng.integers(0, 256, 7)})
    d2 = DatumArrays(rng.integers(0, 256, 9), {"target_tokens": rng.integers(0, 256, 9)})
    model.forward_backward([d1, d2], "cross_entropy", None, backward=False)
    assert all(not g.any() for g in model.gradients().values())
    model.forward_backward([d1], "cross_entropy", None, backward=True)
    model.forward_backward([d2], "cross_entropy", None, backward=True)
    separate = model.gradients()
    joint = TinyLM.create("acc", LoraSpec(rank=2, seed=0))
    joint.forward_backward([d1, d2], "cross_entropy", None, backward=True)
    for key, g in joint.gradients().items():
        np.testing.assert_allclose(separate[key], g, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("loss_fn", "config", "data_change", "field"), [
    ("mse", None, None, "loss_fn"),
    ("ppo", {"clip_low": 0.5}, None, "loss_fn_config.clip_low"),
    ("cross_entropy", {"beta": 0.1}, None, "loss_fn_config.beta"),
    ("ppo", {"clip_low_threshold": 1.5}, None, "loss_fn_config.clip_low_threshold"),
    ("dro", None, {"drop": "advantages"}, "data[1].loss_fn_inputs.advantages"),
    ("cross_entropy", None, {"short": "target_tokens"},
     "data[1].loss_fn_inputs.target_tokens: length 7 != model_input length 8"),
    ("cross_entropy", None, {"short": "weights"}, "data[1].loss_fn_inputs.weights"),
    ("cross_entropy", None, {"bad_target": 300}, "data[1].loss_fn_inputs.target_tokens"),
    ("cross_entropy", None, {"bad_token": -1}, "data[1].model_input"),
    ("cross_entropy", None, {"extra": "advantages"}, "data[1].loss_fn_inputs.advantages"),
    ("importance_sampling", None, {"nan": "logprobs"}, "data[1].loss_fn_inputs.logprobs"),
])
def test_bad_input_names_the_field(loss_fn: str, config: dict[str, float] | None,
                                   data_change: dict[str, object] | None, field: str) -> None:
    model = TinyLM.create("errors", LoraSpec(rank=2, seed=0))
    ones = np.ones(8, dtype=np.float32)
    inputs = _valid_inputs(loss_fn)
    tokens = np.arange(8)
    change = data_change or {}
    if "drop" in change:
        inputs.pop(str(change["drop"]))
    if "short" in change:
        inputs[str(change["short"])] = inputs[str(change["short"])][:7]
    if "bad_target" in change:
        inputs["target_tokens"] = np.array([1, 2, 3, 4, 5, 6, 7, change["bad_target"]])
    if "bad_token" in change:
        tokens = np.array([change["bad_token"], 1, 2, 3, 4, 5, 6, 7])
    if "extra" in change:
        inputs[str(change["extra"])] = ones
    if "nan" in change:
        inputs[str(change["nan"])] = np.full(8, np.nan, dtype=np.float32)
    good = DatumArrays(np.arange(8), _valid_inputs(loss_fn))
    with pytest.raises(UserInputError) as info:
        model.forward_backward([good, DatumArrays(tokens, inputs)], loss_fn, config, backward=True)
    assert str(info.value).startswith(field), str(info.value)
    assert all(not g.any() for g in model.gradients().values())  # nothing was accumulated


def _valid_inputs(loss_fn: str) -> dict[str, np.ndarray]:
    ones = np.ones(8, dtype=np.float32)
    if loss_fn in ("cross_entropy", "mse"):
        return {"target_tokens": np.arange(8), "weights": ones}
    return {"target_tokens": np.arange(8), "logprobs": -ones, "advantages": ones}


def test_empty_data_and_empty_datum_rejected(lm: TinyLM) -> None:
    with pytest.raises(UserInputError, match=r"^data"):
        lm.forward_backward([], "cross_entropy", None, False)
    empty = DatumArrays(np.zeros(0, dtype=np.int64), {"target_tokens": np.zeros(0, dtype=np.int64)})
    with pytest.raises(UserInputError, match=r"^data\[0\]\.model_input"):
        lm.forward_backward([empty], "cross_entropy", None, False)


def test_float_encoded_target_tokens_accepted(lm: TinyLM) -> None:
    tokens = np.array([1, 2, 3])
    as_int = lm.forward_backward([DatumArrays(tokens, {"target_tokens": np.array([4, 5, 6])})],
                                 "cross_entropy", None, False)
    as_float = lm.forward_backward([DatumArrays(tokens, {"target_tokens": np.array([4.0, 5.0, 6.0])})],
                                   "cross_entropy", None, False)
    np.testing.assert_array_equal(as_int.loss_fn_outputs[0]["logprobs"], as_float.loss_fn_outputs[0]["logprobs"])
    with pytest.raises(UserInputError, match="target_tokens"):
        lm.forward_backward([DatumArrays(tokens, {"target_tokens": np.array([4.5, 5.0, 6.0])})],
                            "cross_entropy", None, False)
