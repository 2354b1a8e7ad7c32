"""Custom losses on logprobs (``forward_backward_custom``): the pure computation steps.

The server's cross-entropy with weights ``w`` is ``L = -Σ w·logp``, so its gradient with
respect to ``logp`` is ``-w``. To apply a custom loss ``f(logp)``: run a forward pass for the
logprobs, compute ``g = df/dlogp`` locally, then run forward/backward with ``w = -g``; the
server-side gradient then equals the custom one.

``loss_fn`` receives ``(data, logprobs)``, one logprob array per datum:
* torch backend (default when torch is installed): tensors with ``requires_grad``; returns
  ``(loss_tensor, metrics)``; gradients come from autograd.
* numpy backend: float32 arrays; returns ``(loss, grads)`` or ``(loss, grads, metrics)``
  where ``grads`` holds one array per datum shaped like its logprobs.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np

from pristine_core.errors import ValidationError
from tinkex_domain.types import Datum, ForwardBackwardOutput, TensorData

Backend = Literal["auto", "torch", "numpy"]
LossFn = Callable[..., Any]
ALLOWED_KEYS = ("target_tokens", "weights")


@functools.lru_cache(maxsize=1)
def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def resolve_backend(backend: Backend) -> Literal["torch", "numpy"]:
    """``auto`` means torch when installed, else numpy."""
    if backend == "auto":
        return "torch" if _torch() is not None else "numpy"
    if backend == "torch" and _torch() is None:
        raise ImportError("backend='torch' needs torch installed")
    if backend not in ("torch", "numpy"):
        raise ValidationError([("backend", "must be 'auto', 'torch' or 'numpy'")], "forward_backward_custom")
    return backend


def forward_data(data: Sequence[Datum], extra_keys: Sequence[str] = ()) -> list[Datum]:
    """The datums for the logprob forward pass: target tokens kept, weights zero-filled.

    ``extra_keys`` are further ``loss_fn_inputs`` the loss reads locally (not sent)."""
    if not data:
        raise ValidationError([("data", "no data provided")], "forward_backward_custom")
    out = []
    for i, datum in enumerate(data):
        extra = sorted(set(datum.loss_fn_inputs) - set(ALLOWED_KEYS) - set(extra_keys))
        if extra:
            raise ValidationError(
                [(f"data[{i}].loss_fn_inputs.{extra[0]}", "custom losses accept only target_tokens and weights")],
                "forward_backward_custom",
            )
        targets = datum.loss_fn_inputs.get("target_tokens")
        if targets is None:
            raise ValidationError(
                [(f"data[{i}].loss_fn_inputs.target_tokens", "is required for a custom loss")],
                "forward_backward_custom",
            )
        zeros = np.zeros(targets.to_numpy().shape, dtype=np.float32)
        out.append(Datum(model_input=datum.model_input, loss_fn_inputs={"target_tokens": targets, "weights": zeros}))
    return out


def extract_logprobs(output: ForwardBackwardOutput, count: int) -> list[np.ndarray]:
    """One float32 logprob array per datum from a forward output."""
    if len(output.loss_fn_outputs) != count:
        raise ValueError(f"forward returned {len(output.loss_fn_outputs)} outputs for {count} datums")
    arrays = []
    for i, item in enumerate(output.loss_fn_outputs):
        tensor = item.get("logprobs")
        if tensor is None:
            raise ValueError(f"forward output {i} has no 'logprobs'")
        arrays.append(tensor.to_numpy().astype(np.float32))
    return arrays


def _scalar(value: Any) -> float:
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return float(item())
    return float(np.asarray(value, dtype=np.float64).sum())


def _metrics(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise TypeError("the custom loss must return metrics as a mapping")
    return {str(k): _scalar(v) for k, v in raw.items()}


@attrs.frozen
class Gradients:
    """The outcome of a custom loss: its value, per-datum gradients and user metrics."""

    loss: float
    grads: list[np.ndarray]
    metrics: dict[str, float]


def compute_gradients(
    loss_fn: LossFn, data: Sequence[Datum], logprobs: Sequence[np.ndarray], backend: Literal["torch", "numpy"]
) -> Gradients:
    """Run ``loss_fn`` and return the gradients of its (summed) loss w.r.t. each logprob array."""
    if backend == "torch":
        torch = _torch()
        tensors = [torch.tensor(lp, dtype=torch.float32, requires_grad=True) for lp in logprobs]
        result = loss_fn(list(data), tensors)
        loss, raw_metrics = (result if isinstance(result, tuple) else (result, None))[:2]
        total = loss if loss.ndim == 0 else loss.sum()
        total.backward()
        grads = [
            t.grad.detach().cpu().numpy().astype(np.float32) if t.grad is not None else np.zeros_like(lp)
            for t, lp in zip(tensors, logprobs, strict=True)
        ]
        return Gradients(float(total.detach().cpu().item()), grads, _metrics(raw_metrics))
    result = loss_fn(list(data), [np.array(lp, copy=True) for lp in logprobs])
    if not isinstance(result, tuple) or len(result) not in (2, 3):
        raise TypeError("a numpy custom loss must return (loss, grads) or (loss, grads, metrics)")
    loss, grads = result[0], list(result[1])
    if len(grads) != len(logprobs):
        raise ValueError(f"the custom loss returned {len(grads)} gradients for {len(logprobs)} datums")
    arrays = []
    for i, (grad, lp) in enumerate(zip(grads, logprobs, strict=True)):
        arr = np.asarray(grad, dtype=np.float32)
        if arr.shape != lp.shape:
            raise ValueError(f"gradient {i} has shape {arr.shape}, its logprobs {lp.shape}")
        arrays.append(arr)
    return Gradients(_scalar(loss), arrays, _metrics(result[2] if len(result) == 3 else None))


def linear_loss_data(data: Sequence[Datum], grads: Sequence[np.ndarray]) -> list[Datum]:
    """Datums whose cross-entropy gradient equals the custom gradient: ``weights = -grad``."""
    out = []
    for datum, grad in zip(data, grads, strict=True):
        weights = TensorData.from_numpy((-grad).astype(np.float32))
        out.append(
            Datum(
                model_input=datum.model_input,
                loss_fn_inputs={"target_tokens": datum.loss_fn_inputs["target_tokens"], "weights": weights},
            )
        )
    return out


def merge_custom_metrics(output: ForwardBackwardOutput, gradients: Gradients) -> ForwardBackwardOutput:
    """The backward output with the user's metrics (and the custom loss) merged in."""
    metrics = {**output.metrics, "custom_loss:sum": gradients.loss, **gradients.metrics}
    return attrs.evolve(output, metrics=metrics)
