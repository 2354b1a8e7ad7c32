"""Shared pieces of the regularizers: array coercion, packing, targets and result normalisation.

Regularizers work on one float64 array of logprobs. Per-datum logprob arrays (what
``forward_backward_custom`` hands a loss) are packed into one: stacked when they all have the
same shape (``[B, ...]``), else concatenated flat. :func:`pack` returns the inverse too, so
a gradient can be split back per datum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tinkex_domain.regularizers.types import RegularizerResult

Unpack = Callable[[np.ndarray], list[np.ndarray]]


def as_array(value: Any) -> np.ndarray:
    """A float64 numpy array from an array, a TensorData (``to_numpy``), a torch tensor or a list."""
    to_numpy = getattr(value, "to_numpy", None)
    if callable(to_numpy):
        value = to_numpy()
    elif hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def pack(logprobs: Any) -> tuple[np.ndarray, Unpack | None]:
    """One array from the logprobs, and a function splitting an array of that shape back.

    An array (or TensorData) is returned as is with ``None``; a list of per-datum arrays is
    stacked (same shapes) or concatenated flat (ragged).
    """
    if not isinstance(logprobs, (list, tuple)):
        return as_array(logprobs), None
    arrays = [as_array(item) for item in logprobs]
    if not arrays:
        raise ValueError("no logprobs given")
    shapes = [a.shape for a in arrays]
    if all(s == shapes[0] for s in shapes):

        def unstack(grad: np.ndarray) -> list[np.ndarray]:
            return [np.array(g) for g in grad]

        return np.stack(arrays), unstack
    sizes = [a.size for a in arrays]
    bounds = np.cumsum(sizes)[:-1]

    def split(grad: np.ndarray) -> list[np.ndarray]:
        return [part.reshape(shape) for part, shape in zip(np.split(grad.reshape(-1), bounds), shapes, strict=True)]

    return np.concatenate([a.reshape(-1) for a in arrays]), split


def _inputs(datum: Any) -> Mapping[str, Any]:
    inputs = getattr(datum, "loss_fn_inputs", None)
    if inputs is None and isinstance(datum, Mapping):
        inputs = datum.get("loss_fn_inputs", datum)
    if not isinstance(inputs, Mapping):
        raise ValueError(f"expected a Datum (or a mapping with loss_fn_inputs), got {type(datum).__name__}")
    return inputs


def first_input(data: Sequence[Any], key: str) -> np.ndarray:
    """``loss_fn_inputs[key]`` of the first datum, as an array (KeyError naming the key if absent)."""
    if not data:
        raise ValueError(f"no data given to read {key!r} from")
    inputs = _inputs(data[0])
    if key not in inputs:
        raise KeyError(f"the first datum has no loss_fn_inputs[{key!r}]")
    return as_array(inputs[key])


def packed_input(data: Sequence[Any], key: str) -> np.ndarray:
    """``loss_fn_inputs[key]`` of every datum, packed as :func:`pack` packs per-datum logprobs."""
    arrays = []
    for i, datum in enumerate(data):
        inputs = _inputs(datum)
        if key not in inputs:
            raise KeyError(f"datum {i} has no loss_fn_inputs[{key!r}]")
        arrays.append(as_array(inputs[key]))
    return pack(arrays)[0]


def to_result(raw: Any) -> RegularizerResult:
    """Normalise what a loss function returned: a number, ``(number, metrics)`` or a result."""
    if isinstance(raw, RegularizerResult):
        return raw
    metrics: Mapping[str, Any] | None = None
    if isinstance(raw, tuple):
        if len(raw) != 2 or (raw[1] is not None and not isinstance(raw[1], Mapping)):
            raise TypeError("a regularizer must return a number, (number, metrics) or a RegularizerResult")
        raw, metrics = raw
    value = as_array(raw)
    return RegularizerResult(float(value.sum()), None, metrics or {})


class Target:
    """What an elementwise penalty is applied to: the logprobs, the probabilities or a datum field.

    ``target="logprobs"`` (x), ``"probs"`` (exp x) or ``("field", key)`` (the first datum's
    ``loss_fn_inputs[key]``, which does not depend on the logprobs: zero gradient).
    """

    def __init__(self, target: str | tuple[str, str] = "logprobs") -> None:
        if isinstance(target, tuple):
            if len(target) != 2 or target[0] != "field" or not isinstance(target[1], str):
                raise ValueError("a field target is ('field', key)")
            self.kind, self.key = "field", target[1]
        elif target in ("logprobs", "probs"):
            self.kind, self.key = target, ""
        else:
            raise ValueError(f"target must be 'logprobs', 'probs' or ('field', key), got {target!r}")

    def values(self, data: Sequence[Any], x: np.ndarray) -> np.ndarray:
        """The tensor to penalise."""
        if self.kind == "logprobs":
            return x
        if self.kind == "probs":
            with np.errstate(over="ignore"):
                return np.exp(x)
        return first_input(data, self.key)

    def chain(self, x: np.ndarray, t: np.ndarray, grad_t: np.ndarray) -> np.ndarray:
        """d/dx from d/dt (``t`` as :meth:`values` returned it)."""
        if self.kind == "logprobs":
            return grad_t
        if self.kind == "probs":
            return grad_t * t
        return np.zeros_like(x)

    def label(self) -> str:
        """A short description for metrics."""
        return f"field:{self.key}" if self.kind == "field" else self.kind


def reduce(values: np.ndarray, reduction: str) -> tuple[float, float]:
    """(reduced value, d reduced / d each element) for ``sum`` or ``mean``."""
    if reduction == "sum":
        return float(values.sum()), 1.0
    if reduction == "mean":
        n = max(values.size, 1)
        return float(values.sum()) / n, 1.0 / n
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming the option."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


class Regularizer:
    """Base of the built-in adapters: ``name`` and ``compute(data, logprobs) -> RegularizerResult``.

    Instances are callables, so they can be a :class:`RegularizerSpec`'s ``fn``; ``logprobs``
    may be an array, a TensorData or a list of per-datum arrays (the gradient then comes back
    in the packed shape, see :func:`pack`).
    """

    name = "regularizer"

    def compute(self, data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
        """The penalty, its gradient with respect to ``x`` and metrics."""
        raise NotImplementedError

    def __call__(self, data: Sequence[Any], logprobs: Any) -> RegularizerResult:
        x, _ = pack(logprobs)
        return self.compute(data, x)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"
