"""The regularizer pipeline: composition, validation, gradient norms, execution modes, events."""

from __future__ import annotations

import logging
import math
import pickle
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from pristine_core.errors import ValidationError
from tinkex_domain import types
from tinkex_domain.regularizers import (
    EVENTS,
    L1,
    L2,
    CustomLossOutput,
    Entropy,
    Pipeline,
    RegularizerError,
    RegularizerOutput,
    RegularizerResult,
    RegularizerSpec,
    compute,
    cross_entropy_loss,
    logging_observer,
)


def datum(weights: list[float]) -> types.Datum:
    n = len(weights)
    return types.Datum(
        model_input=types.ModelInput.from_ints(list(range(n))),
        loss_fn_inputs={"target_tokens": list(range(1, n + 1)), "weights": weights},
    )


def value_sum(data: Any, x: np.ndarray) -> float:
    """A user loss without a gradient: Σx (its gradient is all ones)."""
    return float(np.sum(x))


X = np.array([[-0.5, -1.0, -2.0], [-0.25, -3.0, -0.1]])
DATA = [datum([1.0, 0.0, 1.0]), datum([0.5, 1.0, 1.0])]
W = np.array([[1.0, 0.0, 1.0], [0.5, 1.0, 1.0]])


def test_total_is_base_plus_weighted_regularizers() -> None:
    pipeline = Pipeline(
        cross_entropy_loss, [RegularizerSpec(fn=L1(), weight=0.1), RegularizerSpec(fn=L2(), weight=0.01)]
    )
    out = pipeline.compute(DATA, X)
    base = -float(np.sum(W * X))
    l1, l2 = float(np.abs(X).sum()), float(np.sum(X * X))
    assert out.base_loss.value == pytest.approx(base)
    assert out.regularizers["l1_sparsity"].contribution == pytest.approx(0.1 * l1)
    assert out.regularizer_total == pytest.approx(0.1 * l1 + 0.01 * l2)
    assert out.loss_total == pytest.approx(base + 0.1 * l1 + 0.01 * l2)
    assert out.loss == out.loss_total
    assert list(out.regularizers) == ["l1_sparsity", "l2_weight_decay"]
    assert out.total_grad_norm is None and out.base_loss.grad_norm is None


def test_without_regularizers_the_total_is_the_base_loss() -> None:
    out = compute(DATA, X, cross_entropy_loss)
    assert out.loss_total == pytest.approx(-float(np.sum(W * X)))
    assert out.regularizer_total == 0.0 and out.regularizers == {}


def test_specs_are_validated() -> None:
    with pytest.raises(ValidationError, match="duplicate"):
        Pipeline(cross_entropy_loss, [RegularizerSpec(fn=L1()), RegularizerSpec(fn=L1(), weight=2.0)])
    with pytest.raises(ValidationError, match="weight"):
        RegularizerSpec(fn=L1(), weight=-1.0)
    with pytest.raises(ValidationError, match="weight"):
        RegularizerSpec(fn=L1(), weight=float("nan"))
    with pytest.raises(ValidationError, match="name"):
        RegularizerSpec(fn=lambda d, x: 0.0)
    with pytest.raises(ValidationError, match="callable"):
        RegularizerSpec(fn=3, name="three")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown"):
        RegularizerSpec.new({"fn": L1(), "scale": 2})
    with pytest.raises(ValidationError):
        Pipeline("not a function", [])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="reserved"):
        Pipeline(cross_entropy_loss, [RegularizerSpec(fn=L1(), name="base_loss")])
    spec = RegularizerSpec.new({"fn": value_sum, "weight": 2, "async": False})
    assert (spec.name, spec.weight, spec.is_async) == ("value_sum", 2, False)


def test_grad_norms_base_each_regularizer_and_total() -> None:
    x = np.zeros(9) - 1.0
    pipeline = Pipeline(value_sum, [RegularizerSpec(fn=L1(), weight=2.0)], track_grad_norms=True)
    out = pipeline.compute([], x)
    assert out.base_loss.grad_norm == pytest.approx(3.0)  # ‖ones(9)‖ = √9, estimated numerically
    reg = out.regularizers["l1_sparsity"]
    assert reg.grad_norm == pytest.approx(3.0)  # sign(-1) everywhere
    assert reg.grad_norm_weighted == pytest.approx(6.0)
    assert out.total_grad_norm == pytest.approx(3.0)  # ones + 2·(-ones) = -ones


def test_total_gradient_is_the_weighted_sum() -> None:
    pipeline = Pipeline(cross_entropy_loss, [RegularizerSpec(fn=L2(), weight=0.5)], track_grad_norms=True)
    out = pipeline.compute(DATA, X, need_grad=True)
    expected = -W + 0.5 * 2 * X
    np.testing.assert_allclose(out.grad, expected)
    assert out.total_grad_norm == pytest.approx(float(np.linalg.norm(expected)))


def test_too_large_for_finite_differences_reports_zero_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = Pipeline(value_sum, [], track_grad_norms=True, max_numeric_elements=2)
    with caplog.at_level(logging.WARNING):
        out = pipeline.compute([], np.zeros(5))
    assert out.base_loss.grad_norm == 0.0 and out.total_grad_norm == 0.0
    assert "tinkex.regularizer.grad_norm_unavailable" in caplog.text and "grad_norm=0.0" in caplog.text
    with pytest.raises(RegularizerError, match="no gradient"):
        pipeline.compute([], np.zeros(5), need_grad=True)


def test_parallel_equals_sequential() -> None:
    specs = [
        RegularizerSpec(fn=L1(), weight=0.1),
        RegularizerSpec(fn=Entropy(mode="maximize"), weight=0.3),
        RegularizerSpec(fn=value_sum, weight=0.2, name="total"),
    ]
    sequential = Pipeline(cross_entropy_loss, specs, track_grad_norms=True).compute(DATA, X)
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = Pipeline(cross_entropy_loss, specs, track_grad_norms=True, executor=pool).compute(DATA, X)
    assert parallel.to_dict() == sequential.to_dict()
    assert list(parallel.regularizers) == ["l1_sparsity", "entropy", "total"]


def test_async_specs_are_awaited_and_time_out() -> None:
    def later(data: Any, x: np.ndarray) -> Future[float]:
        future: Future[float] = Future()
        future.set_result(float(np.sum(x * x)))
        return future

    out = Pipeline(value_sum, [RegularizerSpec(fn=later, name="later", is_async=True)]).compute([], np.ones(4))
    assert out.regularizers["later"].value == pytest.approx(4.0)

    def never(data: Any, x: np.ndarray) -> Future[float]:
        return Future()

    pipeline = Pipeline(value_sum, [RegularizerSpec(fn=never, name="never", is_async=True)], timeout_s=0.01)
    with pytest.raises(RegularizerError, match=r"'never'.*timed out") as info:
        pipeline.compute([], np.ones(4))
    assert info.value.name == "never"


def test_a_failing_regularizer_is_named_and_the_run_reports_the_exception() -> None:
    def broken(data: Any, x: np.ndarray) -> float:
        raise ZeroDivisionError("boom")

    events: list[tuple[str, dict[str, Any]]] = []
    pipeline = Pipeline(
        value_sum, [RegularizerSpec(fn=L1()), RegularizerSpec(fn=broken, weight=1.0)],
        on_event=lambda name, fields: events.append((name, dict(fields))),
    )
    with pytest.raises(RegularizerError, match=r"'broken'.*ZeroDivisionError: boom") as info:
        pipeline.compute([], np.ones(3))
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    names = [name for name, _ in events]
    assert names[-2:] == ["regularizer.compute.exception", "custom_loss.exception"]
    assert events[-1][1]["reason"] == "regularizer_error"
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.name == "broken" and str(copy) == str(info.value)


def test_events_in_order_with_measurements() -> None:
    ticks = iter(range(100))
    events: list[tuple[str, dict[str, Any]]] = []
    pipeline = Pipeline(
        cross_entropy_loss, [RegularizerSpec(fn=L1(), weight=0.5)],
        on_event=lambda name, fields: events.append((name, dict(fields))), clock=lambda: float(next(ticks)),
    )
    out = pipeline.compute(DATA, X)
    assert [name for name, _ in events] == [
        "custom_loss.start", "regularizer.compute.start", "regularizer.compute.stop", "custom_loss.stop",
    ]
    assert set(name for name, _ in events) <= set(EVENTS)
    stop = events[2][1]
    assert stop["regularizer_name"] == "l1_sparsity" and stop["contribution"] == pytest.approx(0.5 * np.abs(X).sum())
    assert stop["duration_s"] > 0
    assert events[3][1]["loss_total"] == pytest.approx(out.loss_total)


def test_a_failing_observer_does_not_break_the_pipeline(caplog: pytest.LogCaptureFixture) -> None:
    def explode(name: str, fields: Any) -> None:
        raise RuntimeError("observer down")

    with caplog.at_level(logging.ERROR):
        out = Pipeline(value_sum, [RegularizerSpec(fn=L1())], on_event=explode).compute([], np.ones(2))
    assert out.loss_total == pytest.approx(4.0)
    assert "tinkex.regularizer.observer_failed" in caplog.text


def test_logging_observer_rounds_to_four_decimals(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = Pipeline(value_sum, [RegularizerSpec(fn=L1(), weight=1 / 3)], on_event=logging_observer())
    with caplog.at_level(logging.INFO, logger="tinkex_domain.regularizers"):
        pipeline.compute([], np.ones(2))
    assert "regularizer.compute.stop" in caplog.text and "contribution=0.6667" in caplog.text


def test_outputs_serialise_and_omit_untracked_gradients() -> None:
    plain = RegularizerOutput.from_computation("r", 2.0, 0.5, {"m": np.float32(1.5), "mode": "x"})
    assert plain.to_dict() == {
        "name": "r", "value": 2.0, "weight": 0.5, "contribution": 1.0, "custom": {"m": 1.5, "mode": "x"},
    }
    tracked = RegularizerOutput.from_computation("t", 2.0, 0.5, None, grad_norm=4.0)
    assert tracked.to_dict()["grad_norm_weighted"] == 2.0
    out = CustomLossOutput.build(RegularizerResult(1.0, None, {}), [plain, tracked])
    assert "total_grad_norm" not in out.to_dict() and "grad_norm" not in out.to_dict()["base_loss"]
    metrics = out.metrics()
    assert metrics["r:m"] == 1.5 and "r:mode" not in metrics  # labels stay out of numeric metrics
    assert metrics["t:grad_norm"] == 4.0
    assert out.loss_total == pytest.approx(3.0)


def test_loss_fn_for_forward_backward_custom_splits_gradients_per_datum() -> None:
    ragged = [np.array([-0.5, -1.0, -2.0], dtype=np.float32), np.array([-0.25, -3.0], dtype=np.float32)]
    data = [datum([1.0, 0.0, 1.0]), datum([0.5, 1.0])]
    loss_fn = Pipeline(cross_entropy_loss, [RegularizerSpec(fn=L2(), weight=0.5)]).loss_fn()
    loss, grads, metrics = loss_fn(data, ragged)
    flat_x = np.concatenate(ragged).astype(np.float64)
    flat_w = np.array([1.0, 0.0, 1.0, 0.5, 1.0])
    assert loss == pytest.approx(-np.sum(flat_w * flat_x) + 0.5 * np.sum(flat_x**2), rel=1e-6)
    assert [g.shape for g in grads] == [(3,), (2,)]
    assert all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(np.concatenate(grads), -flat_w + flat_x, rtol=1e-6)
    assert metrics["l2_weight_decay:contribution"] == pytest.approx(0.5 * np.sum(flat_x**2), rel=1e-6)
    assert all(isinstance(v, float) for v in metrics.values())


def test_user_regularizers_may_return_metrics_or_results() -> None:
    def with_metrics(data: Any, x: np.ndarray) -> tuple[float, dict[str, float]]:
        return float(np.max(x)), {"peak": float(np.max(x))}

    def with_result(data: Any, x: np.ndarray) -> RegularizerResult:
        return RegularizerResult(float(np.sum(x)), np.ones_like(x), {"n": x.size})

    out = Pipeline(
        value_sum, [RegularizerSpec(fn=with_metrics), RegularizerSpec(fn=with_result)], track_grad_norms=True
    ).compute([], np.array([1.0, 3.0]))
    assert out.regularizers["with_metrics"].custom == {"peak": 3.0}
    assert out.regularizers["with_result"].grad_norm == pytest.approx(math.sqrt(2))
    assert out.regularizers["with_metrics"].grad_norm == pytest.approx(1.0, rel=1e-4)  # d max/dx = e_argmax


def test_a_pipeline_drives_forward_backward_custom_on_the_emulator(service: Any) -> None:
    from .conftest import BASE_MODEL, text_datum

    training = service.create_lora_training_client(BASE_MODEL, rank=4, seed=5)
    data = [text_datum("regularised training on the emulator"), text_datum("a second, shorter one")]
    pipeline = Pipeline(
        cross_entropy_loss,
        [RegularizerSpec(fn=L2(), weight=0.001), RegularizerSpec(fn=Entropy(mode="maximize"), weight=0.01)],
    )
    output = training.forward_backward_custom(data, pipeline.loss_fn(), backend="numpy").result()
    training.optim_step(types.AdamParams(learning_rate=1e-2)).result()
    assert output.metrics["custom_loss:sum"] == pytest.approx(output.metrics["loss_total"])
    assert output.metrics["l2_weight_decay:contribution"] > 0
    # the regularised total differs from the plain cross-entropy by exactly the contributions
    contributions = output.metrics["l2_weight_decay:contribution"] + output.metrics["entropy:contribution"]
    assert output.metrics["loss_total"] == pytest.approx(output.metrics["base_loss"] + contributions)
