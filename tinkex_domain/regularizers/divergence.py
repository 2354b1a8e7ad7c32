"""Distribution penalties over the last axis: :class:`Entropy` and :class:`KLDivergence`.

The last axis is the distribution (e.g. the vocabulary); leading axes are rows, reduced with
``mean`` or ``sum``. A 1-D input is one row. Unlike the Elixir SDK, which returns zero while
being traced, both return their true gradient with respect to the logprobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinkex_domain.regularizers.base import Regularizer, as_array, check_choice, first_input
from tinkex_domain.regularizers.types import RegularizerResult

#: Terms whose logprob is at or below this are masked (p ≈ 0).
ENTROPY_LOG_FLOOR = -50.0
#: KL terms whose probability is at or below this are masked.
KL_PROB_FLOOR = 1e-10
#: Log-ratio clip of the KL terms.
KL_LOG_RATIO_CLIP = 100.0


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(1) if x.ndim == 0 else x


def _logsumexp(z: np.ndarray) -> np.ndarray:
    top = np.max(z, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.sum(np.exp(z - top), axis=-1, keepdims=True))


def _reduce_rows(per_row: np.ndarray, reduction: str) -> tuple[float, np.ndarray]:
    """(value, d value / d each row)."""
    if reduction == "mean":
        n = max(per_row.size, 1)
        return float(per_row.sum()) / n, np.full(per_row.shape, 1.0 / n)
    return float(per_row.sum()), np.ones(per_row.shape)


class Entropy(Regularizer):
    """Shannon entropy ``H(p) = -Σ p·log p`` of each row, ``p = exp(logprobs)``.

    ``temperature`` T ≠ 1 first rescales: ``logp' = logp/T - logsumexp(logp/T)``.
    ``normalize`` divides by ``log(last-axis length)``. ``mode="minimize"`` returns **+H**
    (adding it to a minimised loss lowers the entropy); ``"maximize"`` returns **-H** (raises
    it). Terms with ``logp ≤ -50`` count as 0. Metrics ``entropy``, ``mode``, ``temperature``.
    """

    name = "entropy"

    def __init__(
        self, mode: str = "minimize", reduction: str = "mean", normalize: bool = False, temperature: float = 1.0
    ) -> None:
        self.mode = check_choice("mode", mode, ("minimize", "maximize"))
        self.reduction = check_choice("reduction", reduction, ("mean", "sum"))
        self.normalize = bool(normalize)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.temperature = float(temperature)

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The signed entropy."""
        shape, x = x.shape, _rows(x)
        t = self.temperature
        y = x / t - _logsumexp(x / t) if t != 1.0 else x
        keep = y > ENTROPY_LOG_FLOOR
        p = np.where(keep, np.exp(np.where(keep, y, 0.0)), 0.0)
        y_safe = np.where(keep, y, 0.0)
        per_row = -np.sum(p * y_safe, axis=-1)
        scale = 1.0
        vocab = x.shape[-1]
        if self.normalize and vocab > 1:
            scale = 1.0 / float(np.log(vocab))
        h, d_rows = _reduce_rows(per_row * scale, self.reduction)
        sign = 1.0 if self.mode == "minimize" else -1.0
        # dH_row/dy_k = -p_k (y_k + 1) on unmasked terms.
        g_y = -p * (y_safe + 1.0) * (sign * scale * d_rows)[..., None]
        if t != 1.0:
            s = np.exp(y)
            g_x = (g_y - s * g_y.sum(axis=-1, keepdims=True)) / t
        else:
            g_x = g_y
        metrics = {"entropy": h, "mode": self.mode, "temperature": t}
        return RegularizerResult(sign * h, g_x.reshape(shape), metrics)


class KLDivergence(Regularizer):
    """KL divergence between the current distribution P (the logprobs) and a reference Q.

    Per row: ``KL(P‖Q) = Σ p·clip(log p - log q, -100, 100)`` over terms with ``p > 1e-10``.
    ``direction="reverse"`` computes ``KL(Q‖P)``; ``symmetric=True`` the mean of both. The
    reference comes from ``reference_logprobs`` (an array/TensorData), ``reference_field``
    (a key of the first datum's ``loss_fn_inputs``) or ``compute_reference(data)``. Rows are
    reduced with ``mean``, ``sum`` or ``none`` (summed too: a penalty is a scalar). Metrics
    ``kl_divergence``, ``kl_direction``, ``kl_symmetric``, ``kl_max``, ``kl_min``.
    """

    name = "kl_divergence"

    def __init__(
        self, reference_logprobs: Any = None, reference_field: str | None = None,
        compute_reference: Callable[[Sequence[Any]], Any] | None = None, reduction: str = "mean",
        direction: str = "forward", symmetric: bool = False,
    ) -> None:
        if reference_logprobs is None and reference_field is None and compute_reference is None:
            raise ValueError("KLDivergence needs reference_logprobs, reference_field or compute_reference")
        self.reference_logprobs = None if reference_logprobs is None else as_array(reference_logprobs)
        self.reference_field = reference_field
        self.compute_reference = compute_reference
        self.reduction = check_choice("reduction", reduction, ("mean", "sum", "none"))
        self.direction = check_choice("direction", direction, ("forward", "reverse"))
        self.symmetric = bool(symmetric)

    def reference(self, data: Sequence[Any]) -> np.ndarray:
        """The reference logprobs for this batch."""
        if self.reference_logprobs is not None:
            return self.reference_logprobs
        if self.reference_field is not None:
            return first_input(data, self.reference_field)
        assert self.compute_reference is not None
        return as_array(self.compute_reference(data))

    @staticmethod
    def _kl(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row KL(A‖B) and its partial derivatives with respect to log a and log b."""
        pa = np.exp(a)
        keep = pa > KL_PROB_FLOOR
        diff = a - b
        ratio = np.clip(np.where(keep, diff, 0.0), -KL_LOG_RATIO_CLIP, KL_LOG_RATIO_CLIP)
        inside = keep & (np.abs(diff) < KL_LOG_RATIO_CLIP)
        terms = np.where(keep, pa * ratio, 0.0)
        d_a = np.where(keep, pa * ratio, 0.0) + np.where(inside, pa, 0.0)
        d_b = -np.where(inside, pa, 0.0)
        return terms.sum(axis=-1), d_a, d_b

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The divergence."""
        ref = self.reference(data)
        if ref.shape != x.shape:
            raise ValueError(f"reference shape {ref.shape} does not match logprobs shape {x.shape}")
        shape, x, ref = x.shape, _rows(x), _rows(ref)
        fwd, fwd_dx, _ = self._kl(x, ref)
        if self.symmetric:
            rev, _, rev_dx = self._kl(ref, x)
            per_row, grad_rows = 0.5 * (fwd + rev), 0.5 * (fwd_dx + rev_dx)
        elif self.direction == "forward":
            per_row, grad_rows = fwd, fwd_dx
        else:
            per_row, _, grad_rows = self._kl(ref, x)
        value, d_rows = _reduce_rows(per_row, "mean" if self.reduction == "mean" else "sum")
        grad = (grad_rows * d_rows[..., None]).reshape(shape)
        metrics = {
            "kl_divergence": value, "kl_direction": self.direction, "kl_symmetric": float(self.symmetric),
            "kl_max": float(np.max(per_row)), "kl_min": float(np.min(per_row)),
        }
        return RegularizerResult(value, grad, metrics)
