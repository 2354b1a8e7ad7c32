"""Byte estimates of training data and prompts, and greedy chunking of forward/backward data.

Estimates follow the tinker SDK: for forward/backward, 4 bytes per text token plus raw image
bytes (or pointer location length) plus each tensor's raw size; for sampling dispatch, 10 bytes
per prompt token plus image bytes. They are budgets, not wire sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tinkex_domain.types import Datum, EncodedTextChunk, ImageAssetPointerChunk, ImageChunk, ModelInput, TensorData

#: At most this many datums per forward/backward request.
MAX_CHUNK_LEN = 1024
#: At most this many estimated bytes per forward/backward request.
MAX_CHUNK_BYTES = 5_000_000
TRAIN_BYTES_PER_TOKEN = 4
SAMPLE_BYTES_PER_TOKEN = 10


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def model_input_bytes(model_input: Any, per_token: int) -> int:
    """Estimated bytes of a model input (instance or wire-shaped mapping)."""
    total = 0
    for chunk in _get(model_input, "chunks", ()) or ():
        if isinstance(chunk, EncodedTextChunk):
            total += per_token * len(chunk.tokens)
        elif isinstance(chunk, ImageChunk):
            total += len(chunk.data)
        elif isinstance(chunk, ImageAssetPointerChunk):
            total += len(chunk.location)
        else:
            kind = _get(chunk, "type", "encoded_text")
            if kind == "encoded_text":
                total += per_token * len(_get(chunk, "tokens", ()) or ())
            elif kind == "image":
                total += len(_get(chunk, "data", b"") or b"")
            else:
                total += len(str(_get(chunk, "location", "") or ""))
    return total


def tensor_bytes(tensor: Any) -> int:
    """Raw bytes of a tensor (TensorData, or a wire mapping)."""
    if isinstance(tensor, TensorData):
        return tensor.nbytes
    data = _get(tensor, "data", ()) or ()
    per = 8 if _get(tensor, "dtype") == "int64" else 4
    return per * len(data)


def datum_bytes(datum: Any) -> int:
    """Estimated bytes of one datum: tokens, images and every loss-function input tensor."""
    total = model_input_bytes(_get(datum, "model_input"), TRAIN_BYTES_PER_TOKEN)
    inputs = _get(datum, "loss_fn_inputs") or {}
    return total + sum(tensor_bytes(t) for t in inputs.values())


def prompt_bytes(prompt: Any) -> int:
    """Estimated dispatch bytes of a sampling prompt."""
    return model_input_bytes(prompt, SAMPLE_BYTES_PER_TOKEN)


def data_bytes(data: Iterable[Any]) -> int:
    """Estimated bytes of a list of datums."""
    return sum(datum_bytes(d) for d in data)


def chunk_data(
    data: Sequence[Datum], max_len: int = MAX_CHUNK_LEN, max_bytes: int = MAX_CHUNK_BYTES
) -> list[list[Datum]]:
    """Split ``data`` greedily and in order into chunks of at most ``max_len`` datums and
    ``max_bytes`` estimated bytes (a single oversized datum still forms its own chunk)."""
    if max_len < 1 or max_bytes < 1:
        raise ValueError("max_len and max_bytes must be positive")
    chunks: list[list[Datum]] = []
    current: list[Datum] = []
    current_bytes = 0
    for datum in data:
        size = datum_bytes(datum)
        if current and (len(current) >= max_len or current_bytes + size > max_bytes):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(datum)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


def model_input_of(value: Any) -> ModelInput | None:
    """The ModelInput in a call body field, if it is one."""
    return value if isinstance(value, ModelInput) else None
