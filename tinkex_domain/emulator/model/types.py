"""Value objects and the error type shared by the model's modules (the server contract)."""

from __future__ import annotations

import attrs
import numpy as np

VOCAB_SIZE: int = 256
"""Byte-level vocabulary: token id == byte value."""


class UserInputError(ValueError):
    """Bad input from the caller; the message starts with the offending field's path."""


@attrs.frozen
class LoraSpec:
    """Which LoRA adapters to train and their rank (``seed`` seeds the A matrices)."""

    rank: int
    seed: int | None = None
    train_mlp: bool = True
    train_attn: bool = True
    train_unembed: bool = True


@attrs.frozen
class Dims:
    """Architecture sizes and constants of the tiny LM (defaults are the served model).

    ``window`` is the sliding attention window (a query sees itself and the ``window - 1``
    tokens before it); ``alibi_slope`` is the per-token distance penalty on attention scores;
    LoRA deltas are scaled by ``lora_alpha / rank``.
    """

    d_model: int = 64
    d_ff: int = 128
    window: int = 128
    alibi_slope: float = 0.25
    lora_alpha: float = 32.0
    norm_eps: float = 1e-5

    def __attrs_post_init__(self) -> None:
        if self.d_model < 1 or self.d_ff < 1 or self.window < 1:
            raise ValueError(f"invalid dims {self}")


@attrs.frozen
class DatumArrays:
    """One training example: input tokens and the loss function's per-token inputs."""

    tokens: np.ndarray
    loss_fn_inputs: dict[str, np.ndarray]


@attrs.frozen
class ForwardResult:
    """Per-datum outputs (``logprobs``, ``elementwise_loss``), metrics and compute time."""

    loss_fn_outputs: list[dict[str, np.ndarray]]
    metrics: dict[str, float]
    compute_seconds: float


@attrs.frozen
class SampledSequence:
    """A generated continuation, the model's logprob of each token and why it ended."""

    tokens: list[int]
    logprobs: list[float]
    stop_reason: str  # "stop" | "length"
