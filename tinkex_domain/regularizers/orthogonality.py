"""Decorrelation of rows: :class:`Orthogonality` (Gram-matrix penalties)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinkex_domain.regularizers.base import Regularizer, check_choice
from tinkex_domain.regularizers.types import RegularizerResult

#: Row norms are floored at this value when normalising.
ROW_NORM_FLOOR = 1e-8


class Orthogonality(Regularizer):
    """Penalise overlap between the rows of a matrix ``M`` built from the logprobs.

    ``axis``: ``rows`` flattens the leading axes (``[N, last]``); ``sequence`` turns a 3-D
    ``[B, S, V]`` into ``[S, B·V]`` (other ranks as ``rows``); ``vocabulary`` puts the last
    axis first (``[V, rest]``). With ``normalize`` rows are scaled to unit norm (floor 1e-8).
    With ``G = M·Mᵀ`` (n rows): ``soft`` = ``Σ_{i≠j} G²ᵢⱼ``; ``hard`` = ``Σ(G - I)²``;
    ``spectral`` = ``(trace G - n)² + Σ_{i≠j} G²ᵢⱼ``; times λ. Metric ``orthogonality``.
    """

    name = "orthogonality"

    def __init__(self, mode: str = "soft", normalize: bool = True, axis: str = "rows", lam: float = 1.0) -> None:
        self.mode = check_choice("mode", mode, ("soft", "hard", "spectral"))
        self.axis = check_choice("axis", axis, ("rows", "sequence", "vocabulary"))
        self.normalize = bool(normalize)
        self.lam = float(lam)

    def _matrix(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """M and a function mapping a gradient on M back to x's shape."""
        shape = x.shape
        if x.ndim <= 1:
            m = x.reshape(1, -1)
            return (m.T.copy(), lambda g: g.T.reshape(shape)) if self.axis == "vocabulary" else (
                m, lambda g: g.reshape(shape))
        if self.axis == "sequence" and x.ndim == 3:
            b, s, v = shape
            m = np.transpose(x, (1, 0, 2)).reshape(s, b * v)
            return m, lambda g: np.transpose(g.reshape(s, b, v), (1, 0, 2))
        if self.axis == "vocabulary":
            moved = np.moveaxis(x, -1, 0)
            mshape = moved.shape
            return moved.reshape(mshape[0], -1), lambda g: np.moveaxis(g.reshape(mshape), 0, -1)
        return x.reshape(-1, shape[-1]), lambda g: g.reshape(shape)

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The Gram penalty."""
        m, back = self._matrix(x)
        if self.normalize:
            raw_norms = np.linalg.norm(m, axis=1, keepdims=True)
            norms = np.maximum(raw_norms, ROW_NORM_FLOOR)
            r = m / norms
        else:
            r = m
        n = r.shape[0]
        g = r @ r.T
        eye = np.eye(n)
        off = g * (1.0 - eye)
        if self.mode == "soft":
            value, d_g = float(np.sum(off * off)), 2.0 * off
        elif self.mode == "hard":
            value, d_g = float(np.sum((g - eye) ** 2)), 2.0 * (g - eye)
        else:
            trace_gap = float(np.trace(g)) - n
            value = trace_gap**2 + float(np.sum(off * off))
            d_g = 2.0 * trace_gap * eye + 2.0 * off
        value *= self.lam
        d_r = self.lam * 2.0 * d_g @ r  # d_g is symmetric
        if self.normalize:
            along = np.sum(d_r * r, axis=1, keepdims=True)
            above = raw_norms > ROW_NORM_FLOOR  # below the floor the norm is a constant
            d_m = np.where(above, (d_r - along * r) / norms, d_r / norms)
        else:
            d_m = d_r
        return RegularizerResult(value, back(d_m), {"orthogonality": value})
