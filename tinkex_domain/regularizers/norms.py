"""Elementwise norm penalties: :class:`L1`, :class:`L2` and :class:`ElasticNet`.

Each applies to a :class:`~tinkex_domain.regularizers.base.Target` ``t`` (the logprobs, their
probabilities or a datum field) and returns its gradient with respect to the logprobs.
λ (``lam``) defaults to 1.0; scale with the spec's weight instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinkex_domain.regularizers.base import Regularizer, Target, reduce
from tinkex_domain.regularizers.types import RegularizerResult


class L1(Regularizer):
    """``λ·Σ|t|`` (or ``λ·mean|t|``): pushes the target towards sparsity.

    Metrics ``l1_raw`` (the penalty) and ``l1_mean`` (mean ``|t|``). The gradient uses
    ``sign(t)`` (0 at 0).
    """

    name = "l1_sparsity"

    def __init__(self, target: str | tuple[str, str] = "logprobs", reduction: str = "sum", lam: float = 1.0) -> None:
        self.target = Target(target)
        self.reduction = reduction
        self.lam = float(lam)
        reduce(np.zeros(1), reduction)

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The L1 penalty."""
        t = self.target.values(data, x)
        total, scale = reduce(np.abs(t), self.reduction)
        value = self.lam * total
        grad = self.target.chain(x, t, self.lam * scale * np.sign(t))
        return RegularizerResult(value, grad, {"l1_raw": value, "l1_mean": float(np.abs(t).mean()) if t.size else 0.0})


class L2(Regularizer):
    """``λ·Σ clip(t - c)²`` (or the mean): a quadratic pull towards ``c``.

    ``center``: None (0), ``"mean"`` (the target's mean) or a number; centering happens before
    clipping to ``[-clip, clip]`` (no clipping when ``clip`` is None). Metrics ``l2_raw``,
    ``l2_mean`` (mean ``t²``) and ``center``.
    """

    name = "l2_weight_decay"

    def __init__(
        self, target: str | tuple[str, str] = "logprobs", reduction: str = "sum", lam: float = 1.0,
        clip: float | None = None, center: str | float | None = None,
    ) -> None:
        self.target = Target(target)
        self.reduction = reduction
        self.lam = float(lam)
        if clip is not None and not clip > 0:
            raise ValueError(f"clip must be positive, got {clip!r}")
        self.clip = None if clip is None else float(clip)
        if isinstance(center, str) and center != "mean":
            raise ValueError(f"center must be None, 'mean' or a number, got {center!r}")
        self.center = center
        reduce(np.zeros(1), reduction)

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The L2 penalty."""
        t = self.target.values(data, x)
        if self.center is None:
            c = 0.0
        elif self.center == "mean":
            c = float(t.mean()) if t.size else 0.0
        else:
            c = float(self.center)
        u = t - c
        if self.clip is not None:
            w = np.clip(u, -self.clip, self.clip)
            inside = (np.abs(u) < self.clip).astype(np.float64)
        else:
            w, inside = u, np.ones_like(u)
        total, scale = reduce(w * w, self.reduction)
        value = self.lam * total
        grad_u = self.lam * scale * 2.0 * w * inside
        # c = mean(t) depends on t: d/dt_j of f(t - mean t) = g_j - mean(g).
        grad_t = grad_u - grad_u.mean() if self.center == "mean" and grad_u.size else grad_u
        metrics: dict[str, Any] = {
            "l2_raw": value,
            "l2_mean": float((t * t).mean()) if t.size else 0.0,
            "center": "none" if self.center is None else str(self.center),
        }
        return RegularizerResult(value, self.target.chain(x, t, grad_t), metrics)


class ElasticNet(Regularizer):
    """``λ·(a·Σ|t| + (1-a)·Σt²)`` (means with ``reduction="mean"``), ``a = l1_ratio`` in [0, 1].

    Metrics ``elastic_net`` (the penalty) and ``l1_ratio``.
    """

    name = "elastic_net"

    def __init__(
        self, target: str | tuple[str, str] = "logprobs", reduction: str = "sum", lam: float = 1.0,
        l1_ratio: float = 0.5,
    ) -> None:
        if not 0.0 <= l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")
        self.target = Target(target)
        self.reduction = reduction
        self.lam = float(lam)
        self.l1_ratio = float(l1_ratio)
        reduce(np.zeros(1), reduction)

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The elastic-net penalty."""
        t = self.target.values(data, x)
        a = self.l1_ratio
        total, scale = reduce(a * np.abs(t) + (1.0 - a) * t * t, self.reduction)
        value = self.lam * total
        grad_t = self.lam * scale * (a * np.sign(t) + 2.0 * (1.0 - a) * t)
        return RegularizerResult(value, self.target.chain(x, t, grad_t), {"elastic_net": value, "l1_ratio": a})
