"""Consistency with a paired output: :class:`Consistency`.

Penalises the distance between the current logprobs ``x`` and a paired tensor ``y`` (e.g. the
logprobs of an augmented or original input) read from the first datum's ``loss_fn_inputs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinkex_domain.regularizers.base import Regularizer, as_array, check_choice, first_input, reduce
from tinkex_domain.regularizers.types import RegularizerResult

#: Norms are floored at this value in the cosine distance.
COSINE_NORM_FLOOR = 1e-8


class Consistency(Regularizer):
    """Distance between ``x`` and the pair ``y``; ``metric``:

    * ``mse``: mean ``(x - y)²``; ``l1``: mean ``|x - y|`` (sums with ``reduction="sum"``);
    * ``cosine``: ``1 - x·y / (max(‖x‖, 1e-8)·max(‖y‖, 1e-8))`` over the flattened tensors;
    * ``kl``: symmetric ``½(Σ p(log p - log q) + Σ q(log q - log p))`` per row (last axis),
      ``p = exp x``, ``q = exp y``, then the row mean (or sum).

    ``pair`` gives ``y`` directly instead of ``pair_field``. Metric ``consistency_metric``.
    """

    name = "consistency"

    def __init__(
        self, pair_field: str = "original_logprobs", metric: str = "mse", reduction: str = "mean", pair: Any = None
    ) -> None:
        self.pair_field = pair_field
        self.metric = check_choice("metric", metric, ("mse", "l1", "cosine", "kl"))
        self.reduction = check_choice("reduction", reduction, ("mean", "sum"))
        self.pair = None if pair is None else as_array(pair)

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The consistency penalty."""
        y = self.pair if self.pair is not None else first_input(data, self.pair_field)
        if y.shape != x.shape:
            raise ValueError(f"pair shape {y.shape} does not match logprobs shape {x.shape}")
        if self.metric == "mse":
            d = x - y
            value, scale = reduce(d * d, self.reduction)
            grad = 2.0 * scale * d
        elif self.metric == "l1":
            d = x - y
            value, scale = reduce(np.abs(d), self.reduction)
            grad = scale * np.sign(d)
        elif self.metric == "cosine":
            value, grad = self._cosine(x, y)
        else:
            value, grad = self._kl(x, y)
        return RegularizerResult(value, grad, {"consistency_metric": self.metric})

    @staticmethod
    def _cosine(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        nx_raw, ny_raw = float(np.linalg.norm(x)), float(np.linalg.norm(y))
        nx, ny = max(nx_raw, COSINE_NORM_FLOOR), max(ny_raw, COSINE_NORM_FLOOR)
        dot = float(np.sum(x * y))
        value = 1.0 - dot / (nx * ny)
        grad = -y / (nx * ny)
        if nx_raw > COSINE_NORM_FLOOR:  # the norm depends on x only above the floor
            grad = grad + dot * x / (nx_raw**3 * ny)
        return value, grad

    def _kl(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        shape = x.shape
        xr, yr = (x.reshape(1), y.reshape(1)) if x.ndim == 0 else (x, y)
        p, q = np.exp(xr), np.exp(yr)
        per_row = 0.5 * (np.sum(p * (xr - yr), axis=-1) + np.sum(q * (yr - xr), axis=-1))
        value, scale = reduce(np.atleast_1d(per_row), self.reduction)
        grad = 0.5 * scale * (p * (xr - yr + 1.0) - q)
        return value, grad.reshape(shape)
