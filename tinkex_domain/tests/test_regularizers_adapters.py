"""The eight regularizer adapters: each formula against a hand computation, each gradient against
finite differences computed here (independently of the package's own helper)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinkex_domain import types
from tinkex_domain.regularizers import (
    ADAPTERS,
    L1,
    L2,
    Consistency,
    ElasticNet,
    Entropy,
    GradientPenalty,
    KLDivergence,
    Orthogonality,
    Regularizer,
)


def fd_grad(fn: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences, written out for the tests."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        up, down = x.astype(np.float64).copy(), x.astype(np.float64).copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (fn(up) - fn(down)) / (2 * h)
    return grad


def datum(**inputs: Any) -> types.Datum:
    return types.Datum(model_input=types.ModelInput.from_ints([1, 2]), loss_fn_inputs=inputs)


def logp(*rows: list[float]) -> np.ndarray:
    return np.log(np.array(rows, dtype=np.float64))


def test_there_are_eight_adapters_with_their_names() -> None:
    assert set(ADAPTERS) == {
        "l1_sparsity", "l2_weight_decay", "elastic_net", "entropy", "kl_divergence", "consistency",
        "orthogonality", "gradient_penalty",
    }


# ---------------------------------------------------------------------------- L1 / L2 / elastic net


def test_l1_sum_mean_and_lambda() -> None:
    x = np.array([-1.0, 2.0, -3.0])
    out = L1()([], x)
    assert out.value == pytest.approx(6.0)
    assert out.metrics == {"l1_raw": pytest.approx(6.0), "l1_mean": pytest.approx(2.0)}
    assert L1(reduction="mean", lam=0.5)([], x).value == pytest.approx(1.0)
    np.testing.assert_allclose(L1(lam=0.5)([], x).grad, [-0.5, 0.5, -0.5])


def test_l1_on_probabilities_and_on_a_field() -> None:
    x = np.log([0.5, 0.25])
    assert L1(target="probs")([], x).value == pytest.approx(0.75)
    out = L1(target=("field", "mask"))([datum(mask=np.array([1.0, -2.0], dtype=np.float32))], x)
    assert out.value == pytest.approx(3.0)
    np.testing.assert_array_equal(out.grad, [0.0, 0.0])  # the field does not depend on the logprobs


def test_l2_centering_clipping_and_reduction() -> None:
    x = np.array([1.0, 2.0, 3.0])
    assert L2()([], x).value == pytest.approx(14.0)
    assert L2(reduction="mean")([], x).value == pytest.approx(14.0 / 3)
    assert L2(center="mean")([], x).value == pytest.approx(2.0)  # (-1)² + 0² + 1²
    assert L2(center=1.0)([], x).value == pytest.approx(5.0)  # 0 + 1 + 4
    out = L2(center="mean", clip=0.5)([], x)  # centred first, then clipped to ±0.5
    assert out.value == pytest.approx(0.5)
    assert out.metrics["center"] == "mean"
    assert out.metrics["l2_mean"] == pytest.approx(14.0 / 3)
    assert L2()([], x).metrics["center"] == "none"


def test_elastic_net_mixes_l1_and_l2() -> None:
    x = np.array([1.0, -2.0])
    out = ElasticNet(l1_ratio=0.25)([], x)
    assert out.value == pytest.approx(0.25 * 3 + 0.75 * 5)
    assert out.metrics["l1_ratio"] == 0.25
    assert ElasticNet(l1_ratio=1.0, reduction="mean", lam=2.0)([], x).value == pytest.approx(3.0)
    with pytest.raises(ValueError):
        ElasticNet(l1_ratio=1.5)


# ---------------------------------------------------------------------------- entropy


def test_entropy_of_a_uniform_distribution_modes_and_normalisation() -> None:
    x = logp([0.25] * 4)
    assert Entropy()([], x).value == pytest.approx(math.log(4))
    assert Entropy(mode="maximize")([], x).value == pytest.approx(-math.log(4))
    assert Entropy(normalize=True)([], x).value == pytest.approx(1.0)
    assert Entropy()([], x).metrics["mode"] == "minimize"


def test_entropy_rows_reduction_and_masking() -> None:
    x = logp([0.5, 0.5], [1.0, 1e-30])  # the second row's tiny term (log p < -50) is masked: H = 0
    assert Entropy()([], x).value == pytest.approx(math.log(2) / 2)
    assert Entropy(reduction="sum")([], x).value == pytest.approx(math.log(2))


def test_entropy_temperature_rescales_the_distribution() -> None:
    x = logp([0.8, 0.2])  # at T = 2: p ∝ sqrt(p) = [2/3, 1/3]
    expected = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    out = Entropy(temperature=2.0)([], x)
    assert out.value == pytest.approx(expected)
    assert out.metrics["temperature"] == 2.0


def test_minimising_the_entropy_term_sharpens_the_distribution() -> None:
    x = logp([0.4, 0.35, 0.25])
    grad = Entropy()([], x).grad
    sharper = x - 0.1 * grad
    sharper -= np.log(np.exp(sharper).sum())
    assert Entropy()([], sharper).value < Entropy()([], x).value


# ---------------------------------------------------------------------------- KL


def test_kl_forward_reverse_symmetric() -> None:
    p, q = logp([0.5, 0.5]), logp([0.25, 0.75])
    forward = 0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75)
    reverse = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert KLDivergence(reference_logprobs=q)([], p).value == pytest.approx(forward)
    assert KLDivergence(reference_logprobs=q, direction="reverse")([], p).value == pytest.approx(reverse)
    out = KLDivergence(reference_logprobs=q, symmetric=True, direction="reverse")([], p)
    assert out.value == pytest.approx((forward + reverse) / 2)  # symmetric overrides direction
    assert out.metrics["kl_direction"] == "reverse"


def test_kl_rows_extremes_and_reference_sources() -> None:
    p = logp([0.5, 0.5], [0.25, 0.75])
    q = logp([0.25, 0.75], [0.25, 0.75])
    first = 0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75)
    out = KLDivergence(reference_logprobs=q)([], p)
    assert out.value == pytest.approx(first / 2)
    assert out.metrics["kl_max"] == pytest.approx(first)
    assert out.metrics["kl_min"] == pytest.approx(0.0)
    assert KLDivergence(reference_logprobs=q, reduction="sum")([], p).value == pytest.approx(first)
    data = [datum(ref=q.astype(np.float32))]
    assert KLDivergence(reference_field="ref")(data, p).value == pytest.approx(first / 2, rel=1e-5)
    assert KLDivergence(compute_reference=lambda d: q)([], p).value == pytest.approx(first / 2)


def test_kl_needs_a_matching_reference() -> None:
    with pytest.raises(ValueError):
        KLDivergence()
    with pytest.raises(ValueError, match="shape"):
        KLDivergence(reference_logprobs=logp([0.5, 0.5]))([], logp([0.2, 0.3, 0.5]))


# ---------------------------------------------------------------------------- consistency


@pytest.mark.parametrize(
    ("metric", "x", "y", "expected"),
    [
        ("mse", [1.0, 2.0], [0.0, 0.0], 2.5),
        ("l1", [1.0, -2.0], [0.0, 0.0], 1.5),
        ("cosine", [1.0, 0.0], [0.0, 1.0], 1.0),
        ("cosine", [1.0, 2.0], [2.0, 4.0], 0.0),
    ],
)
def test_consistency_metrics(metric: str, x: list[float], y: list[float], expected: float) -> None:
    data = [datum(original_logprobs=np.array(y, dtype=np.float32))]
    out = Consistency(metric=metric)(data, np.array(x))
    assert out.value == pytest.approx(expected, abs=1e-12)
    assert out.metrics == {"consistency_metric": metric}


def test_consistency_symmetric_kl_and_custom_pair_field() -> None:
    p, q = logp([0.5, 0.5]), logp([0.25, 0.75])
    forward = 0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75)
    reverse = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    data = [datum(augmented=q.astype(np.float32))]
    out = Consistency(pair_field="augmented", metric="kl")(data, p)
    assert out.value == pytest.approx((forward + reverse) / 2, rel=1e-6)
    with pytest.raises(KeyError):
        Consistency()(data, p)


# ---------------------------------------------------------------------------- orthogonality


def test_orthogonality_modes() -> None:
    ortho = np.array([[1.0, 0.0], [0.0, 1.0]])
    same = np.array([[1.0, 0.0], [3.0, 0.0]])  # normalised: G = all ones
    for mode in ("soft", "hard", "spectral"):
        assert Orthogonality(mode=mode)([], ortho).value == pytest.approx(0.0)
    assert Orthogonality(mode="soft")([], same).value == pytest.approx(2.0)
    assert Orthogonality(mode="hard")([], same).value == pytest.approx(2.0)
    assert Orthogonality(mode="spectral")([], same).value == pytest.approx(2.0)
    scaled = np.array([[2.0, 0.0], [0.0, 1.0]])  # unnormalised: G = diag(4, 1)
    assert Orthogonality(mode="soft", normalize=False)([], scaled).value == pytest.approx(0.0)
    assert Orthogonality(mode="hard", normalize=False)([], scaled).value == pytest.approx(9.0)
    assert Orthogonality(mode="spectral", normalize=False)([], scaled).value == pytest.approx(9.0)


def test_orthogonality_axes() -> None:
    x = np.array([[[1.0], [0.0]], [[0.0], [1.0]]])  # [B=2, S=2, V=1]
    assert Orthogonality(axis="sequence")([], x).value == pytest.approx(0.0)  # rows s: [1,0], [0,1]
    assert Orthogonality(axis="rows")([], x).value == pytest.approx(2.0)  # rows [1],[0],[0],[1]
    y = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert Orthogonality(axis="vocabulary")([], y).value == pytest.approx(2.0)  # columns [1,0], [1,0]
    assert Orthogonality(axis="rows")([], y).value == pytest.approx(0.0)


# ---------------------------------------------------------------------------- gradient penalty


def test_gradient_penalty_output_mode() -> None:
    gp = GradientPenalty(lambda z: float(np.sum(z * z)), grad_fn=lambda z: 2 * z)
    out = gp([], np.array([3.0, 4.0]))  # ‖∇‖ = 2·5 = 10
    assert out.value == pytest.approx(81.0)
    np.testing.assert_allclose(out.grad, 4 * 9 * np.array([0.6, 0.8]), rtol=1e-6)
    numeric = GradientPenalty(lambda z: float(np.sum(z * z)), target_norm=2.0)([], np.array([3.0, 4.0]))
    assert numeric.value == pytest.approx(64.0, rel=1e-6)


def test_gradient_penalty_interpolated_mode_uses_one_uniform_epsilon() -> None:
    x, ref = np.array([3.0, 4.0]), np.array([0.0, 1.0])
    eps = np.random.default_rng(7).uniform(0.0, 1.0)
    point = eps * x + (1 - eps) * ref
    expected = (2 * np.linalg.norm(point) - 1.0) ** 2
    gp = GradientPenalty(lambda z: float(np.sum(z * z)), grad_fn=lambda z: 2 * z, mode="interpolated", seed=7)
    out = gp([datum(reference_logprobs=ref.astype(np.float32))], x)
    assert out.value == pytest.approx(expected)
    assert out.metrics["gp_epsilon"] == pytest.approx(eps)
    gp_ref = GradientPenalty(lambda z: 0.0, grad_fn=lambda z: 2 * z, mode="interpolated", reference=ref, seed=7)
    assert gp_ref([], x).value == pytest.approx(expected)


# ---------------------------------------------------------------------------- gradients


RNG = np.random.default_rng(1234)
MATRIX = np.log(RNG.dirichlet(np.ones(4), size=3))  # 3 rows of log-distributions over 4
REFERENCE = np.log(RNG.dirichlet(np.ones(4), size=3))
PAIR = RNG.normal(size=(3, 4))

GRADIENT_CASES: list[tuple[str, Regularizer, list[Any]]] = [
    ("l1", L1(), []),
    ("l1-probs-mean", L1(target="probs", reduction="mean", lam=0.3), []),
    ("l2", L2(lam=0.7), []),
    ("l2-mean-center-clip", L2(center="mean", clip=0.8, reduction="mean"), []),
    ("l2-probs-number-center", L2(target="probs", center=0.1), []),
    ("elastic-net", ElasticNet(l1_ratio=0.3, reduction="mean"), []),
    ("entropy", Entropy(), []),
    ("entropy-max-normalized-sum", Entropy(mode="maximize", normalize=True, reduction="sum"), []),
    ("entropy-temperature", Entropy(temperature=0.7), []),
    ("kl-forward", KLDivergence(reference_logprobs=REFERENCE), []),
    ("kl-reverse-sum", KLDivergence(reference_logprobs=REFERENCE, direction="reverse", reduction="sum"), []),
    ("kl-symmetric", KLDivergence(reference_logprobs=REFERENCE, symmetric=True), []),
    ("consistency-mse", Consistency(pair=PAIR), []),
    ("consistency-l1-sum", Consistency(pair=PAIR, metric="l1", reduction="sum"), []),
    ("consistency-cosine", Consistency(pair=PAIR, metric="cosine"), []),
    ("consistency-kl", Consistency(pair=REFERENCE, metric="kl"), []),
    ("orthogonality-soft", Orthogonality(), []),
    ("orthogonality-hard-raw", Orthogonality(mode="hard", normalize=False), []),
    ("orthogonality-spectral-vocab", Orthogonality(mode="spectral", axis="vocabulary"), []),
    ("gradient-penalty", GradientPenalty(lambda z: float(np.sum(np.sin(z))), grad_fn=np.cos, target_norm=0.5), []),
]


@pytest.mark.parametrize(("label", "reg", "data"), GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_adapter_gradient_matches_finite_differences(label: str, reg: Regularizer, data: list[Any]) -> None:
    analytic = reg(data, MATRIX).grad
    numeric = fd_grad(lambda z: reg(data, z).value, MATRIX)
    assert analytic is not None and analytic.shape == MATRIX.shape
    tol = 1e-3 if label == "gradient-penalty" else 1e-5  # its Hessian-vector product is itself numeric
    np.testing.assert_allclose(analytic, numeric, rtol=tol, atol=tol)


def test_orthogonality_sequence_axis_gradient() -> None:
    x = RNG.normal(size=(2, 3, 4))
    reg = Orthogonality(axis="sequence", mode="spectral")
    np.testing.assert_allclose(reg([], x).grad, fd_grad(lambda z: reg([], z).value, x), rtol=1e-5, atol=1e-6)


def test_adapters_accept_tensor_data_and_per_datum_lists() -> None:
    rows = [MATRIX[0], MATRIX[1]]
    stacked = L2()([], rows)
    assert stacked.value == pytest.approx(float(np.sum(MATRIX[:2] ** 2)))
    ragged = L1()([], [MATRIX[0], MATRIX[1][:2]])
    assert ragged.value == pytest.approx(float(np.abs(MATRIX[0]).sum() + np.abs(MATRIX[1][:2]).sum()))
    tensor = types.TensorData.from_numpy(MATRIX.astype(np.float32))
    assert L1()([], tensor).value == pytest.approx(float(np.abs(MATRIX).sum()), rel=1e-6)


def test_invalid_options_are_rejected() -> None:
    for make in (
        lambda: L1(target="weights"),
        lambda: L1(reduction="max"),
        lambda: L2(clip=0),
        lambda: L2(center="median"),
        lambda: Entropy(mode="up"),
        lambda: Entropy(temperature=0),
        lambda: Consistency(metric="dot"),
        lambda: Orthogonality(axis="diagonal"),
        lambda: GradientPenalty(None),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError):
            make()
