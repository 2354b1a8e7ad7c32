"""Tensors on the wire (:class:`TensorData`) and training examples (:class:`Datum`)."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs
import numpy as np

from tinkex_domain.types._common import fail, int_tuple
from tinkex_domain.types.model_input import ModelInput, as_model_input

TensorDtype = Literal["int64", "float32"]
DTYPES: dict[str, Any] = {"int64": np.int64, "float32": np.float32}

#: The dtype a plain list is read as, per known ``loss_fn_inputs`` key (tinker's table).
KNOWN_INPUT_DTYPES: dict[str, TensorDtype] = {
    "target_tokens": "int64",
    "weights": "float32",
    "advantages": "float32",
    "logprobs": "float32",
    "clip_low_threshold": "float32",
    "clip_high_threshold": "float32",
}


def _shape(value: Any) -> tuple[int, ...] | None:
    return None if value is None else int_tuple("TensorData", "shape", value)


def _crow(value: Any) -> tuple[int, ...] | None:
    return None if value is None else int_tuple("TensorData", "sparse_crow_indices", value)


def _col(value: Any) -> tuple[int, ...] | None:
    return None if value is None else int_tuple("TensorData", "sparse_col_indices", value)


@functools.lru_cache(maxsize=1)
def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError:  # optional dependency
        return None


def public_dtype(array: np.ndarray, field: str = "data") -> TensorDtype:
    """The wire dtype for a numpy array: floats → float32, integers → int64, others rejected."""
    kind = array.dtype.kind
    if kind == "f":
        return "float32"
    if kind == "i" or (kind == "u" and array.dtype.itemsize < 8):
        return "int64"
    fail("TensorData", field, f"unsupported dtype {array.dtype} (use a float or signed integer array)")


@attrs.frozen
class TensorData:
    """A tensor as the API carries it: flat ``data``, ``dtype`` (int64 or float32), ``shape``.

    ``data`` is kept as a flat Python list already rounded to ``dtype``; use :meth:`to_numpy`
    for an array. Sparse CSR tensors carry ``sparse_crow_indices``/``sparse_col_indices``.
    """

    data: Any = attrs.field(repr=lambda d: f"<{len(d)} values>")
    dtype: TensorDtype = attrs.field()
    shape: tuple[int, ...] | None = attrs.field(default=None, converter=_shape)
    sparse_crow_indices: tuple[int, ...] | None = attrs.field(default=None, converter=_crow, repr=False)
    sparse_col_indices: tuple[int, ...] | None = attrs.field(default=None, converter=_col, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.dtype not in DTYPES:
            fail("TensorData", "dtype", f"must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        raw = self.data
        if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, (Iterable, np.ndarray)):
            fail("TensorData", "data", f"expected a flat sequence of numbers, got {type(raw).__name__}")
        try:
            array = np.asarray(raw)
            if array.dtype.kind not in "iufb" and array.size:
                raise ValueError("not numeric")
            flat = array.astype(DTYPES[self.dtype]).reshape(-1)
        except (TypeError, ValueError):
            fail("TensorData", "data", "expected a flat sequence of numbers")
        object.__setattr__(self, "data", flat.tolist())
        sparse = self.sparse_crow_indices is not None or self.sparse_col_indices is not None
        if self.shape is not None and not sparse and int(np.prod(self.shape, dtype=np.int64)) != len(self.data):
            fail("TensorData", "shape", f"shape {list(self.shape)} does not match {len(self.data)} values")
        if sparse and (self.shape is None or len(self.shape) != 2):
            fail("TensorData", "shape", "a sparse (CSR) tensor needs a 2-D shape")

    @classmethod
    def from_numpy(cls, array: Any) -> TensorData:
        """From a numpy array (float kinds → float32, signed/small unsigned ints → int64)."""
        arr = np.asarray(array)
        dtype = public_dtype(arr)
        shape = None if arr.ndim == 0 else arr.shape
        return cls(data=arr.reshape(-1), dtype=dtype, shape=shape)

    @classmethod
    def from_torch(cls, tensor: Any) -> TensorData:
        """From a torch tensor (bfloat16/float16 widened to float32); needs torch."""
        torch = _torch()
        if torch is None:
            raise ImportError("TensorData.from_torch needs torch installed")
        t = tensor.detach().cpu()
        if t.is_floating_point():
            t = t.to(torch.float32)
        return cls.from_numpy(t.numpy())

    def to_numpy(self) -> np.ndarray:
        """A numpy array of ``dtype`` and ``shape`` (sparse tensors are densified)."""
        values = np.asarray(self.data, dtype=DTYPES[self.dtype])
        if self.sparse_crow_indices is not None and self.sparse_col_indices is not None and self.shape:
            dense = np.zeros(self.shape, dtype=values.dtype)
            crow = self.sparse_crow_indices
            for row in range(len(crow) - 1):
                cols = self.sparse_col_indices[crow[row] : crow[row + 1]]
                dense[row, list(cols)] = values[crow[row] : crow[row + 1]]
            return dense
        return values.reshape(self.shape) if self.shape is not None else values

    def to_torch(self) -> Any:
        """A torch tensor (needs torch)."""
        torch = _torch()
        if torch is None:
            raise ImportError("TensorData.to_torch needs torch installed")
        return torch.from_numpy(np.ascontiguousarray(self.to_numpy()))

    def tolist(self) -> Any:
        """Nested Python lists following ``shape`` (a scalar when the shape is empty)."""
        return self.to_numpy().tolist()

    @property
    def nbytes(self) -> int:
        """Raw size in bytes (4 per float32, 8 per int64 value, 8 per sparse index)."""
        per = 4 if self.dtype == "float32" else 8
        extra = len(self.sparse_crow_indices or ()) + len(self.sparse_col_indices or ())
        return per * len(self.data) + 8 * extra


def to_tensor(key: str, value: Any, type_name: str = "Datum") -> TensorData:
    """Coerce one ``loss_fn_inputs`` value: TensorData, numpy, torch, or a plain list for known keys."""
    field = f"loss_fn_inputs.{key}"
    if isinstance(value, TensorData):
        return value
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return TensorData.from_numpy(value)
    torch = sys.modules.get("torch")  # a torch tensor means torch is imported already
    if torch is not None and isinstance(value, torch.Tensor):
        return TensorData.from_torch(value)
    if isinstance(value, Mapping) and "data" in value and "dtype" in value:
        return TensorData(**value)
    if isinstance(value, (list, tuple)):
        dtype = KNOWN_INPUT_DTYPES.get(key)
        if dtype is None:
            fail(
                type_name,
                field,
                "plain lists are accepted only for known keys "
                f"({', '.join(KNOWN_INPUT_DTYPES)}); pass a TensorData or a numpy array",
            )
        try:
            array = np.asarray(value, dtype=DTYPES[dtype])
        except (TypeError, ValueError):
            fail(type_name, field, "expected a rectangular list of numbers (ragged lists are rejected)")
        return TensorData(data=array.reshape(-1), dtype=dtype, shape=array.shape)
    fail(type_name, field, f"expected a TensorData, array or list, got {type(value).__name__}")


def _loss_inputs(value: Any) -> dict[str, TensorData]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        fail("Datum", "loss_fn_inputs", "expected a mapping of names to tensors")
    tensors = {str(k): to_tensor(str(k), v) for k, v in value.items()}
    for key, tensor in tensors.items():
        if tensor.dtype != "int64" and tensor.data and not np.isfinite(np.asarray(tensor.data, np.float64)).all():
            fail("Datum", f"loss_fn_inputs.{key}", "must hold finite numbers only (NaN or infinity found)")
    return tensors


@attrs.frozen
class Datum:
    """One training example: ``model_input`` plus named ``loss_fn_inputs`` tensors.

    Plain lists are coerced for the known keys (``target_tokens`` → int64; ``weights``,
    ``advantages``, ``logprobs``, ``clip_*_threshold`` → float32); a list under another key is
    rejected, so a typo cannot silently change a dtype.
    """

    model_input: ModelInput = attrs.field(converter=lambda v: as_model_input(v, "Datum", "model_input"))
    loss_fn_inputs: dict[str, TensorData] = attrs.field(factory=dict, converter=_loss_inputs)
