"""Optimizer selection (at model creation) and per-step parameters, as in tinker 0.38.

A training model is created with an optimizer family: :class:`AdamOptimizerConfig` (AdamW, the
default) or :class:`DimuonOptimizerConfig`. Each ``optim_step`` then takes the parameters of that
family: :class:`~tinkex_domain.types.AdamParams` or :class:`DimuonParams` (``OptimParams`` is
either). On the wire Adam steps send ``adam_params`` and other families ``optimizer_params``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from pristine_core.errors import ValidationError
from tinkex_domain.types import AdamParams
from tinkex_domain.types._common import as_float, fail


@attrs.frozen
class AdamOptimizerConfig:
    """Selects AdamW for a new training model (the default)."""

    type: Literal["adamw"] = "adamw"

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {"type": self.type}


@attrs.frozen
class DimuonOptimizerConfig:
    """Selects the Dimuon optimizer for a new training model."""

    type: Literal["dimuon"] = "dimuon"
    version: Literal[1] = 1

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {"type": self.type, "version": self.version}


@attrs.frozen(kw_only=True)
class DimuonParams:
    """Hyper-parameters of one Dimuon step: ``learning_rate`` (>= 0, required), ``beta1``
    (momentum EMA, in [0, 1)) and ``grad_clip_norm`` (<= 0 disables clipping)."""

    learning_rate: float
    grad_clip_norm: float = 0.0
    beta1: float = 0.9
    type: Literal["dimuon"] = "dimuon"

    def __attrs_post_init__(self) -> None:
        for name in ("learning_rate", "grad_clip_norm", "beta1"):
            value = as_float("DimuonParams", name, getattr(self, name))
            if not math.isfinite(value):
                fail("DimuonParams", name, "must be finite")
            object.__setattr__(self, name, value)
        if self.learning_rate < 0:
            fail("DimuonParams", "learning_rate", "must be >= 0")
        if not 0 <= self.beta1 < 1:
            fail("DimuonParams", "beta1", "must be in [0, 1)")

    def to_json(self) -> dict[str, Any]:
        """The wire form (sent as ``optimizer_params``)."""
        return {
            "type": self.type,
            "learning_rate": self.learning_rate,
            "grad_clip_norm": self.grad_clip_norm,
            "beta1": self.beta1,
        }


#: What ``create_*`` accepts as ``optimizer``.
OptimizerConfig = AdamOptimizerConfig | DimuonOptimizerConfig
#: What ``optim_step`` accepts.
OptimParams = AdamParams | DimuonParams


def optimizer_json(optimizer: Any) -> dict[str, Any] | None:
    """The ``optimizer_config`` wire object of an optimizer selection (None: the server default)."""
    if optimizer is None:
        return None
    if isinstance(optimizer, (AdamOptimizerConfig, DimuonOptimizerConfig)):
        return optimizer.to_json()
    if isinstance(optimizer, Mapping):
        kind = optimizer.get("type")
        if kind == "adamw":
            return AdamOptimizerConfig().to_json()
        if kind == "dimuon":
            return DimuonOptimizerConfig(version=optimizer.get("version", 1)).to_json()
    raise ValidationError([("optimizer", "expected AdamOptimizerConfig or DimuonOptimizerConfig")], "optimizer")


def optim_fields(optim_params: Any, adam_params: Any) -> dict[str, Any]:
    """The body fields of an optim_step: ``adam_params`` for Adam, ``optimizer_params`` otherwise.

    ``adam_params`` is the legacy keyword; it cannot be combined with ``optim_params``.
    """
    if optim_params is not None and adam_params is not None:
        raise ValidationError([("optim_params", "pass optim_params or the legacy adam_params, not both")], "optim_step")
    params = optim_params if optim_params is not None else adam_params
    if params is None:
        raise ValidationError([("optim_params", "is required (AdamParams or DimuonParams)")], "optim_step")
    if isinstance(params, AdamParams):
        return {"adam_params": params}
    if isinstance(params, DimuonParams):
        return {"optimizer_params": params.to_json()}
    if isinstance(params, Mapping):
        if params.get("type") == "dimuon":
            return {"optimizer_params": DimuonParams(**{k: v for k, v in params.items() if k != "type"}).to_json()}
        return {"adam_params": AdamParams(**params)}
    raise ValidationError(
        [("optim_params", f"expected AdamParams or DimuonParams, got {type(params).__name__}")], "optim_step"
    )
