"""Trainable state (LoRA parameters, Adam moments, step) and its flat ``state_dict`` form.

Keys: ``lora.<target>.A`` / ``.B`` for weights; ``adam.m.<param>``, ``adam.v.<param>`` and the
0-d int64 ``adam.step`` for the optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np

from .types import UserInputError

STEP_KEY = "adam.step"


@attrs.define
class TrainState:
    """Parameters, their gradient buffers and Adam moments, all dicts keyed by parameter name."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    m: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    step: int = 0

    @classmethod
    def fresh(cls, params: dict[str, np.ndarray]) -> TrainState:
        """Zero gradients and moments for ``params``."""
        def zeros() -> dict[str, np.ndarray]:
            return {k: np.zeros_like(p) for k, p in params.items()}
        return cls(params, zeros(), zeros(), zeros(), 0)

    def zero_grads(self) -> None:
        """Reset the gradient accumulators."""
        for g in self.grads.values():
            g.fill(0)

    def export(self, with_optimizer: bool) -> dict[str, np.ndarray]:
        """Copies of the weights (and optimizer state)."""
        out = {k: p.copy() for k, p in self.params.items()}
        if with_optimizer:
            for k in self.params:
                out[f"adam.m.{k}"] = self.m[k].copy()
                out[f"adam.v.{k}"] = self.v[k].copy()
            out[STEP_KEY] = np.array(self.step, dtype=np.int64)
        return out

    def load(self, state: Mapping[str, np.ndarray], with_optimizer: bool) -> None:
        """Replace weights (and optimizer state) from ``state``; validated fully before any change.

        Without the optimizer, Adam starts afresh (zero moments, step 0). Pending gradients are
        dropped either way.

        Keys other than this model's weights are ignored unless they look like LoRA weights of
        another configuration (then the checkpoint does not fit and it is an error).
        """
        for key in state:
            if key.startswith("lora.") and key not in self.params:
                raise UserInputError(f"state.{key}: this model has no such adapter (trained "
                                     f"targets: {', '.join(sorted(self.params)) or 'none'})")
        wanted = list(self.params)
        if with_optimizer:
            wanted += [f"adam.{which}.{k}" for which in ("m", "v") for k in self.params]
        new: dict[str, np.ndarray] = {}
        for key in wanted:
            if key not in state:
                raise UserInputError(f"state.{key}: missing from the checkpoint")
            ref = self.params[key.split(".", 2)[2] if key.startswith("adam.") else key]
            arr = np.asarray(state[key])
            if arr.shape != ref.shape:
                raise UserInputError(f"state.{key}: shape {list(arr.shape)} does not match the "
                                     f"model's {list(ref.shape)} (different LoRA rank?)")
            if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)):
                raise UserInputError(f"state.{key}: must hold finite floats")
            new[key] = arr.astype(ref.dtype, copy=True)
        step = 0
        if with_optimizer:
            if STEP_KEY not in state:
                raise UserInputError(f"state.{STEP_KEY}: missing from the checkpoint")
            raw = np.asarray(state[STEP_KEY])
            if raw.size != 1 or raw.dtype.kind not in "iu" or int(raw.reshape(-1)[0]) < 0:
                raise UserInputError(f"state.{STEP_KEY}: must be one non-negative integer")
            step = int(raw.reshape(-1)[0])
        for key in self.params:
            self.params[key] = new[key]
            self.m[key] = new[f"adam.m.{key}"] if with_optimizer else np.zeros_like(new[key])
            self.v[key] = new[f"adam.v.{key}"] if with_optimizer else np.zeros_like(new[key])
        self.step = step if with_optimizer else 0
        self.zero_grads()
