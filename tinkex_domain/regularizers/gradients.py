"""Gradient norms of losses with respect to the logprobs (``GradientTracker`` in the Elixir SDK).

The built-in adapters return analytic gradients. For a user function that returns only a
value, the gradient is estimated with central finite differences (``2·n`` evaluations for
``n`` elements) as long as ``n`` is at most ``max_numeric_elements``; beyond that, or when
the estimate fails, the norm is reported as 0.0 with a logged warning.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pristine_core.logs import get_logger

log = get_logger(__name__)

#: Default cap on the number of elements for finite-difference gradients.
MAX_NUMERIC_ELEMENTS = 4096


def numeric_grad(fn: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central finite-difference gradient of a scalar function at ``x`` (float64)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        step = eps * max(1.0, abs(keep))
        flat[i] = keep + step
        up = float(fn(x))
        flat[i] = keep - step
        down = float(fn(x))
        flat[i] = keep
        out[i] = (up - down) / (2.0 * step)
    return grad


def norm(grad: np.ndarray | None) -> float:
    """The L2 norm (sqrt of the sum of squared entries); 0.0 for None."""
    if grad is None:
        return 0.0
    return float(np.sqrt(np.sum(np.square(np.asarray(grad, dtype=np.float64)))))


def estimate_grad(
    name: str, fn: Callable[[np.ndarray], float], x: np.ndarray, max_elements: int = MAX_NUMERIC_ELEMENTS
) -> np.ndarray | None:
    """A finite-difference gradient, or None (with a warning) when too large or failing."""
    if x.size > max_elements:
        log.warning(
            "tinkex.regularizer.grad_norm_unavailable",
            regularizer=name,
            reason=f"no gradient returned and {x.size} elements (> max_numeric_elements {max_elements})",
            grad_norm=0.0,
        )
        return None
    try:
        return numeric_grad(fn, x)
    except Exception as exc:  # a user function: report, do not fail the pipeline
        log.warning(
            "tinkex.regularizer.grad_norm_unavailable",
            regularizer=name,
            reason=f"finite differences failed: {type(exc).__name__}: {exc}",
            grad_norm=0.0,
        )
        return None
