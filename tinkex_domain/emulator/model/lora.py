"""LoRA algebra: effective weights from (base, A, B) and A/B gradients from effective-weight ones."""

from __future__ import annotations

import numpy as np

from .weights import TARGETS


def effective_weights(base: dict[str, np.ndarray], params: dict[str, np.ndarray],
                      scale: float) -> dict[str, np.ndarray]:
    """``W + scale * A @ B`` for adapted targets, the base matrix for the others."""
    out: dict[str, np.ndarray] = {}
    for target in TARGETS:
        a = params.get(f"lora.{target}.A")
        if a is None:
            out[target] = base[target]
        else:
            b = params[f"lora.{target}.B"]
            out[target] = base[target] + a.dtype.type(scale) * (a @ b)
    return out


def adapter_grads(weight_grads: dict[str, np.ndarray], params: dict[str, np.ndarray],
                  scale: float) -> dict[str, np.ndarray]:
    """With ``G = dL/dW_eff``: ``dL/dA = scale * G @ B^T`` and ``dL/dB = scale * A^T @ G``."""
    out: dict[str, np.ndarray] = {}
    for target, g in weight_grads.items():
        a, b = params[f"lora.{target}.A"], params[f"lora.{target}.B"]
        s = a.dtype.type(scale)
        out[f"lora.{target}.A"] = s * (g @ b.T)
        out[f"lora.{target}.B"] = s * (a.T @ g)
    return out
