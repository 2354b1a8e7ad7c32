"""Parameters sent with requests: sampling, Adam, LoRA, and the loss-function names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs

from tinkex_domain.types._common import as_float, as_int, fail, optional_int, optional_seed

#: The largest ``max_tokens`` accepted client-side (2**20: above any served context length).
MAX_SAMPLING_TOKENS = 2**20

LossFnType = Literal["cross_entropy", "importance_sampling", "ppo", "cispo", "dro"]
LOSS_FUNCTIONS: tuple[str, ...] = ("cross_entropy", "importance_sampling", "ppo", "cispo", "dro")
StopReason = Literal["length", "stop"]


def check_loss_fn(loss_fn: Any) -> str:
    """The loss function name, or a validation error listing the allowed ones."""
    name = getattr(loss_fn, "value", loss_fn)
    if name not in LOSS_FUNCTIONS:
        fail("ForwardBackwardInput", "loss_fn", f"must be one of {', '.join(LOSS_FUNCTIONS)}, got {loss_fn!r}")
    return str(name)


def _stop(value: Any) -> str | tuple[str, ...] | tuple[int, ...] | None:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        fail("SamplingParams", "stop", "expected a string, a list of strings or a list of token ids")
    items = list(value)
    if all(isinstance(v, str) for v in items):
        return tuple(items)
    return tuple(as_int("SamplingParams", f"stop[{i}]", v) for i, v in enumerate(items))


@attrs.frozen(kw_only=True)
class SamplingParams:
    """Decoding settings: ``max_tokens``, ``seed``, ``stop``, ``temperature``, ``top_k``, ``top_p``."""

    max_tokens: int | None = attrs.field(
        default=None, converter=lambda v: optional_int("SamplingParams", "max_tokens", v)
    )
    seed: int | None = attrs.field(default=None, converter=lambda v: optional_seed("SamplingParams", "seed", v))
    stop: str | tuple[str, ...] | tuple[int, ...] | None = attrs.field(default=None, converter=_stop)
    temperature: float = attrs.field(default=1.0, converter=lambda v: as_float("SamplingParams", "temperature", v))
    top_k: int = attrs.field(default=-1, converter=lambda v: as_int("SamplingParams", "top_k", v))
    top_p: float = attrs.field(default=1.0, converter=lambda v: as_float("SamplingParams", "top_p", v))

    def __attrs_post_init__(self) -> None:
        if self.max_tokens is not None and not 1 <= self.max_tokens <= MAX_SAMPLING_TOKENS:
            fail("SamplingParams", "max_tokens", f"must be between 1 and {MAX_SAMPLING_TOKENS}")
        if self.temperature < 0:
            fail("SamplingParams", "temperature", "must be >= 0")
        if self.top_k != -1 and self.top_k < 1:
            fail("SamplingParams", "top_k", "must be -1 (no limit) or >= 1")
        if not 0 < self.top_p <= 1:
            fail("SamplingParams", "top_p", "must be in (0, 1]")


@attrs.frozen(kw_only=True)
class AdamParams:
    """Adam(W) hyper-parameters; ``grad_clip_norm`` 0 means no clipping."""

    learning_rate: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-12
    weight_decay: float = 0.0
    grad_clip_norm: float = 0.0

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(AdamParams):
            object.__setattr__(self, field.name, as_float("AdamParams", field.name, getattr(self, field.name)))
        rules = (
            ("learning_rate", self.learning_rate > 0, "must be > 0"),
            ("beta1", 0 <= self.beta1 < 1, "must be in [0, 1)"),
            ("beta2", 0 <= self.beta2 < 1, "must be in [0, 1)"),
            ("eps", self.eps > 0, "must be > 0"),
            ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
            ("grad_clip_norm", self.grad_clip_norm >= 0, "must be >= 0"),
        )
        for name, ok, message in rules:
            if not ok:
                fail("AdamParams", name, message)


@attrs.frozen(kw_only=True)
class LoraConfig:
    """LoRA adapter settings: ``rank`` and which parts of the model train."""

    rank: int = attrs.field(default=32, converter=lambda v: as_int("LoraConfig", "rank", v))
    seed: int | None = attrs.field(default=None, converter=lambda v: optional_seed("LoraConfig", "seed", v))
    train_mlp: bool = True
    train_attn: bool = True
    train_unembed: bool = True

    def __attrs_post_init__(self) -> None:
        for name in ("train_mlp", "train_attn", "train_unembed"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                fail("LoraConfig", name, f"expected true or false, got {type(value).__name__}")
        if self.rank < 1:
            fail("LoraConfig", "rank", "must be >= 1")
