"""AdamW over a dict of parameters: bias correction, decoupled weight decay, global-norm clipping."""

from __future__ import annotations

import attrs
import numpy as np


@attrs.frozen
class AdamHyper:
    """One optimizer step's hyper-parameters (names as Tinker's AdamParams)."""

    learning_rate: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float = 0.0
    grad_clip_norm: float = 0.0


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """sqrt of the sum of squares of every gradient entry (accumulated in float64)."""
    return float(np.sqrt(sum(float(np.dot(g.ravel().astype(np.float64), g.ravel())) for g in grads.values())))


def adam_step(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], m: dict[str, np.ndarray],
              v: dict[str, np.ndarray], step: int, hp: AdamHyper) -> dict[str, float]:
    """Update ``params``, ``m`` and ``v`` in place for step number ``step`` (1-based).

    ``g`` is scaled by ``grad_clip_norm / norm`` when ``grad_clip_norm > 0`` and the global norm
    exceeds it. Then ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p = p (1 - lr wd) - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    """
    norm = global_norm(grads)
    scale = 1.0
    if hp.grad_clip_norm > 0 and norm > hp.grad_clip_norm:
        scale = hp.grad_clip_norm / norm
    bc1 = 1.0 - hp.beta1 ** step
    bc2 = 1.0 - hp.beta2 ** step
    update_sq = 0.0
    for name, p in params.items():
        g = grads[name] * p.dtype.type(scale) if scale != 1.0 else grads[name]
        m[name] *= hp.beta1
        m[name] += (1.0 - hp.beta1) * g
        v[name] *= hp.beta2
        v[name] += (1.0 - hp.beta2) * (g * g)
        update = (m[name] / bc1) / (np.sqrt(v[name] / bc2) + hp.eps)
        if hp.weight_decay:
            p *= 1.0 - hp.learning_rate * hp.weight_decay
        p -= hp.learning_rate * update
        update_sq += float(np.dot(update.ravel().astype(np.float64), update.ravel()))
    return {"grad_norm:mean": norm, "grad_scale:mean": scale,
            "update_norm:mean": hp.learning_rate * float(np.sqrt(update_sq))}
