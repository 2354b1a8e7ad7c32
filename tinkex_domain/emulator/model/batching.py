"""Validation of datums and prompts, and padding of datums into batches of similar length."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from .losses import LOSS_INPUT_KEYS, neutral_input
from .types import VOCAB_SIZE, DatumArrays, UserInputError

MAX_BATCH_TOKENS = 8192  # padded tokens per forward pass (bounds activation memory)


@attrs.frozen
class CheckedDatum:
    """A validated datum: tokens, target tokens and float inputs (model dtype), all length T."""

    tokens: np.ndarray
    targets: np.ndarray
    floats: dict[str, np.ndarray]


@attrs.frozen
class Batch:
    """Right-padded datums: (B, T) arrays plus which original datums they are."""

    index: list[int]
    tokens: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    floats: dict[str, np.ndarray]
    lengths: list[int]


def token_ids(value: np.ndarray, field: str) -> np.ndarray:
    """A 1-D int64 array of byte token ids, or a UserInputError naming ``field``."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise UserInputError(f"{field}: must be 1-D, got shape {list(arr.shape)}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise UserInputError(f"{field}: token ids must be integers")
    elif arr.dtype.kind not in "iub":
        raise UserInputError(f"{field}: token ids must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= VOCAB_SIZE):
        bad = arr[(arr < 0) | (arr >= VOCAB_SIZE)][0]
        raise UserInputError(f"{field}: token id {bad!r} is outside the vocabulary [0, {VOCAB_SIZE})")
    return arr.astype(np.int64)


def check_datums(data: Sequence[DatumArrays], loss_fn: str, dtype: np.dtype) -> list[CheckedDatum]:
    """Validate every datum before any compute (so a bad one changes nothing)."""
    if not data:
        raise UserInputError("data: must not be empty")
    required, optional = LOSS_INPUT_KEYS[loss_fn]
    out = []
    for i, datum in enumerate(data):
        where = f"data[{i}]"
        tokens = token_ids(datum.tokens, f"{where}.model_input")
        if tokens.size == 0:
            raise UserInputError(f"{where}.model_input: must hold at least one token")
        inputs = datum.loss_fn_inputs
        for key in inputs:
            if key not in required and key not in optional:
                raise UserInputError(f"{where}.loss_fn_inputs.{key}: not an input of {loss_fn} "
                                     f"(accepted: {', '.join(required + optional)})")
        for key in required:
            if key not in inputs:
                raise UserInputError(f"{where}.loss_fn_inputs.{key}: is required by {loss_fn}")
        arrays = {}
        for key, value in inputs.items():
            arr = np.asarray(value).reshape(-1)
            if arr.size != tokens.size:
                raise UserInputError(f"{where}.loss_fn_inputs.{key}: length {arr.size} != "
                                     f"model_input length {tokens.size}")
            arrays[key] = arr
        targets = token_ids(arrays.pop("target_tokens"), f"{where}.loss_fn_inputs.target_tokens")
        floats = {}
        for key, arr in arrays.items():
            if arr.dtype.kind not in "iubf" or not np.all(np.isfinite(arr)):
                raise UserInputError(f"{where}.loss_fn_inputs.{key}: must hold finite numbers")
            floats[key] = arr.astype(dtype)
        out.append(CheckedDatum(tokens, targets, floats))
    return out


def make_batches(datums: list[CheckedDatum], max_tokens: int = MAX_BATCH_TOKENS) -> list[Batch]:
    """Group datums (longest first) so each padded batch has at most ``max_tokens`` tokens."""
    order = sorted(range(len(datums)), key=lambda i: -datums[i].tokens.size)
    groups: list[list[int]] = []
    for i in order:
        if groups and (len(groups[-1]) + 1) * datums[groups[-1][0]].tokens.size <= max_tokens:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [_pad([datums[i] for i in group], group) for group in groups]


def _pad(datums: list[CheckedDatum], index: list[int]) -> Batch:
    lengths = [d.tokens.size for d in datums]
    b, t = len(datums), max(lengths)
    tokens = np.zeros((b, t), dtype=np.int64)
    targets = np.zeros((b, t), dtype=np.int64)
    mask = np.zeros((b, t), dtype=bool)
    floats: dict[str, np.ndarray] = {}
    for d in datums:  # an optional input missing from a datum keeps its neutral value there
        for key, arr in d.floats.items():
            if key not in floats:
                floats[key] = np.full((b, t), neutral_input(key), dtype=arr.dtype)
    for row, (d, n) in enumerate(zip(datums, lengths, strict=True)):
        tokens[row, :n] = d.tokens
        targets[row, :n] = d.targets
        mask[row, :n] = True
        for key, arr in d.floats.items():
            floats[key][row, :n] = arr
    return Batch(index, tokens, targets, mask, floats, lengths)
