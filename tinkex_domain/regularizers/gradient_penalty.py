"""Gradient-norm penalty (WGAN-GP style): :class:`GradientPenalty`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinkex_domain.regularizers.base import Regularizer, as_array, check_choice, first_input
from tinkex_domain.regularizers.gradients import norm, numeric_grad
from tinkex_domain.regularizers.types import RegularizerResult

#: Step of the finite-difference Hessian-vector product.
HVP_STEP = 1e-4


class GradientPenalty(Regularizer):
    """``(‖∇ₓ loss_fn(x̂)‖₂ - target_norm)²``.

    ``mode="output"``: ``x̂`` = the logprobs. ``mode="interpolated"``: ``x̂ = ε·logprobs +
    (1-ε)·reference`` with one ``ε ~ U(0, 1)`` per call (from ``rng``, or ``seed``); the
    reference is ``reference`` or the first datum's ``loss_fn_inputs[reference_field]``.
    ``loss_fn(x) -> float`` is required; ``grad_fn(x) -> array`` gives its gradient (else
    finite differences). The penalty's own gradient uses a finite-difference Hessian-vector
    product along ``∇ loss_fn / ‖∇ loss_fn‖``. Metrics ``gp_grad_norm`` and ``gp_epsilon``.
    """

    name = "gradient_penalty"

    def __init__(
        self, loss_fn: Callable[[np.ndarray], Any], grad_fn: Callable[[np.ndarray], Any] | None = None,
        mode: str = "output", target_norm: float = 1.0, reference_field: str = "reference_logprobs",
        reference: Any = None, seed: int | None = None, rng: np.random.Generator | None = None,
    ) -> None:
        if not callable(loss_fn):
            raise ValueError("GradientPenalty needs loss_fn (a tensor -> scalar function)")
        self.loss_fn = loss_fn
        self.grad_fn = grad_fn
        self.mode = check_choice("mode", mode, ("output", "interpolated"))
        self.target_norm = float(target_norm)
        self.reference_field = reference_field
        self.reference = None if reference is None else as_array(reference)
        self._rng = rng if rng is not None else np.random.default_rng(seed)

    def _scalar(self, x: np.ndarray) -> float:
        return float(as_array(self.loss_fn(x)).sum())

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """∇ loss_fn at ``x``."""
        if self.grad_fn is not None:
            return as_array(self.grad_fn(x)).reshape(x.shape)
        return numeric_grad(self._scalar, x)

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The penalty at ``x̂``."""
        epsilon = 1.0
        point = x
        if self.mode == "interpolated":
            ref = self.reference if self.reference is not None else first_input(data, self.reference_field)
            if ref.shape != x.shape:
                raise ValueError(f"reference shape {ref.shape} does not match logprobs shape {x.shape}")
            epsilon = float(self._rng.uniform(0.0, 1.0))
            point = epsilon * x + (1.0 - epsilon) * ref
        g = self.gradient(point)
        g_norm = norm(g)
        gap = g_norm - self.target_norm
        value = gap * gap
        if g_norm > 0.0:
            u = g / g_norm
            hvp = (self.gradient(point + HVP_STEP * u) - self.gradient(point - HVP_STEP * u)) / (2.0 * HVP_STEP)
            grad = 2.0 * gap * hvp * epsilon
        else:
            grad = np.zeros_like(x)
        return RegularizerResult(value, grad, {"gp_grad_norm": g_norm, "gp_epsilon": epsilon})
