"""Unit tests of the custom-loss steps (gradients become cross-entropy weights)."""

from __future__ import annotations

import numpy as np
import pytest

from pristine_core import ValidationError
from tinkex_domain import custom_loss
from tinkex_domain.types import Datum, ModelInput, TensorData


def _datum(n: int) -> Datum:
    return Datum(model_input=ModelInput.from_ints(range(n)), loss_fn_inputs={"target_tokens": list(range(1, n + 1))})


def test_forward_data_zero_fills_weights_and_rejects_other_inputs() -> None:
    out = custom_loss.forward_data([_datum(3)])
    np.testing.assert_array_equal(out[0].loss_fn_inputs["weights"].to_numpy(), np.zeros(3, dtype=np.float32))
    bad = Datum(model_input=ModelInput.from_ints([1]), loss_fn_inputs={"target_tokens": [2], "advantages": [1.0]})
    with pytest.raises(ValidationError, match="advantages"):
        custom_loss.forward_data([bad])
    with pytest.raises(ValidationError, match="target_tokens"):
        custom_loss.forward_data([Datum(model_input=ModelInput.from_ints([1]))])


def test_numpy_gradients_become_negated_weights() -> None:
    data = [_datum(2), _datum(3)]
    logprobs = [np.array([-1.0, -2.0], dtype=np.float32), np.array([-0.5, -0.5, -3.0], dtype=np.float32)]

    def squared(batch: list[Datum], lps: list[np.ndarray]) -> tuple[float, list[np.ndarray], dict[str, float]]:
        return float(sum((lp**2).sum() for lp in lps)), [2 * lp for lp in lps], {"n:sum": 2.0}

    grads = custom_loss.compute_gradients(squared, data, logprobs, "numpy")
    assert grads.loss == pytest.approx(1 + 4 + 0.25 + 0.25 + 9)
    assert grads.metrics == {"n:sum": 2.0}
    linear = custom_loss.linear_loss_data(data, grads.grads)
    np.testing.assert_allclose(linear[1].loss_fn_inputs["weights"].to_numpy(), [1.0, 1.0, 6.0])
    assert linear[0].loss_fn_inputs["target_tokens"] == data[0].loss_fn_inputs["target_tokens"]


def test_numpy_loss_must_return_matching_gradients() -> None:
    data, logprobs = [_datum(2)], [np.zeros(2, dtype=np.float32)]
    with pytest.raises(ValueError, match="shape"):
        custom_loss.compute_gradients(lambda d, lp: (0.0, [np.zeros(3)]), data, logprobs, "numpy")
    with pytest.raises(TypeError):
        custom_loss.compute_gradients(lambda d, lp: 0.0, data, logprobs, "numpy")


def test_extract_logprobs_checks_the_count() -> None:
    from tinkex_domain.types import ForwardBackwardOutput

    out = ForwardBackwardOutput(loss_fn_outputs=[{"logprobs": TensorData.from_numpy(np.array([-1.0]))}])
    assert custom_loss.extract_logprobs(out, 1)[0].tolist() == [-1.0]
    with pytest.raises(ValueError):
        custom_loss.extract_logprobs(out, 2)
