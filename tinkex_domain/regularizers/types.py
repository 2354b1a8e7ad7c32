"""Value objects of the regularizer framework: specs, per-regularizer results and outputs.

* :class:`RegularizerResult` is what one regularizer (or the base loss) computes: a value, the
  gradient of that value with respect to the logprobs (``None`` when it cannot say) and metrics.
* :class:`RegularizerSpec` names a regularizer and its weight inside a pipeline.
* :class:`RegularizerOutput` and :class:`CustomLossOutput` report what a pipeline run produced:
  ``loss_total = base_loss + Σ weightᵢ · valueᵢ``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from pristine_core.errors import PristineError, ValidationError

#: Metric values: numbers, or short labels such as ``mode="minimize"``.
MetricValue = float | str
Metrics = dict[str, MetricValue]


class RegularizerError(PristineError):
    """A regularizer (or the base loss) failed; ``name`` says which, ``__cause__`` why (part of the
    Pristine error hierarchy)."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"regularizer {name!r} failed: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, str(self).split(": ", 1)[-1]))


def _metrics(value: Mapping[str, Any] | None) -> Metrics:
    out: Metrics = {}
    for key, item in (value or {}).items():
        if isinstance(item, str):
            out[str(key)] = item
        else:
            out[str(key)] = float(np.asarray(item, dtype=np.float64).sum())
    return out


@attrs.frozen
class RegularizerResult:
    """One computation: ``value`` (a scalar), ``grad`` (d value / d logprobs, shaped like them) and metrics."""

    value: float = attrs.field(converter=float)
    grad: np.ndarray | None = None
    metrics: Metrics = attrs.field(factory=dict, converter=_metrics)


def _check_weight(_inst: object, _attr: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValidationError([("weight", f"must be a finite non-negative number, got {value!r}")], "RegularizerSpec")


def _default_name(fn: Any) -> str:
    name = getattr(fn, "name", None) or getattr(fn, "__name__", None)
    return str(name) if name else ""


@attrs.frozen(kw_only=True)
class RegularizerSpec:
    """A regularizer in a pipeline: ``fn(data, logprobs)``, its ``weight`` (≥ 0) and unique ``name``.

    ``fn`` returns a number, ``(number, metrics)`` or a :class:`RegularizerResult` (the built-in
    adapters do, with analytic gradients). ``is_async=True`` means ``fn`` returns a future-like
    object (``.result(timeout)``) resolving to one of those.
    """

    fn: Callable[..., Any]
    weight: float = attrs.field(default=1.0, validator=_check_weight)
    name: str = ""
    is_async: bool = False

    def __attrs_post_init__(self) -> None:
        if not callable(self.fn):
            raise ValidationError([("fn", "must be callable (data, logprobs) -> loss")], "RegularizerSpec")
        if not self.name:
            name = _default_name(self.fn)
            if not name or name == "<lambda>":
                raise ValidationError([("name", "must be a non-empty string")], "RegularizerSpec")
            object.__setattr__(self, "name", name)
        if not isinstance(self.name, str):
            raise ValidationError([("name", "must be a non-empty string")], "RegularizerSpec")
        if not isinstance(self.is_async, bool):
            raise ValidationError([("is_async", "must be a boolean")], "RegularizerSpec")

    @classmethod
    def new(cls, spec: RegularizerSpec | Mapping[str, Any]) -> RegularizerSpec:
        """A spec from a spec or a mapping (``fn``, ``weight``, ``name``, ``is_async``/``async``)."""
        if isinstance(spec, RegularizerSpec):
            return spec
        if not isinstance(spec, Mapping):
            raise ValidationError([("regularizers", f"expected a RegularizerSpec, got {type(spec).__name__}")])
        fields = dict(spec)
        if "async" in fields:
            fields["is_async"] = fields.pop("async")
        unknown = sorted(set(fields) - {"fn", "weight", "name", "is_async"})
        if unknown:
            raise ValidationError([(unknown[0], "unknown field")], "RegularizerSpec")
        if "fn" not in fields:
            raise ValidationError([("fn", "is required")], "RegularizerSpec")
        return cls(**fields)


@attrs.frozen(kw_only=True)
class RegularizerOutput:
    """What one regularizer contributed: ``contribution = weight · value``; gradient norms when tracked."""

    name: str
    value: float
    weight: float
    contribution: float
    grad_norm: float | None = None
    grad_norm_weighted: float | None = None
    custom: Metrics = attrs.field(factory=dict)

    @classmethod
    def from_computation(
        cls, name: str, value: float, weight: float, metrics: Mapping[str, Any] | None = None,
        grad_norm: float | None = None,
    ) -> RegularizerOutput:
        """Build an output; the weighted figures are derived here."""
        return cls(
            name=name,
            value=float(value),
            weight=float(weight),
            contribution=float(weight) * float(value),
            grad_norm=None if grad_norm is None else float(grad_norm),
            grad_norm_weighted=None if grad_norm is None else float(weight) * float(grad_norm),
            custom=_metrics(metrics),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the gradient fields are left out when no norm was tracked."""
        out: dict[str, Any] = {
            "name": self.name, "value": self.value, "weight": self.weight,
            "contribution": self.contribution, "custom": dict(self.custom),
        }
        if self.grad_norm is not None:
            out["grad_norm"] = self.grad_norm
            out["grad_norm_weighted"] = self.grad_norm_weighted
        return out


@attrs.frozen(kw_only=True)
class BaseLossOutput:
    """The base loss of a pipeline run: value, optional gradient norm, its metrics."""

    value: float
    grad_norm: float | None = None
    custom: Metrics = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CustomLossOutput:
    """A pipeline run: ``loss_total = base_loss.value + regularizer_total``.

    ``grad`` is the gradient of ``loss_total`` with respect to the logprobs when every part
    supplied one (or it was estimated); it is what ``forward_backward_custom`` needs.
    """

    loss_total: float
    base_loss: BaseLossOutput
    regularizers: dict[str, RegularizerOutput]
    regularizer_total: float
    total_grad_norm: float | None = None
    grad: np.ndarray | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def build(
        cls, base: RegularizerResult, outputs: list[RegularizerOutput], *, base_grad_norm: float | None = None,
        total_grad_norm: float | None = None, grad: np.ndarray | None = None,
    ) -> CustomLossOutput:
        """Sum the contributions and assemble the output."""
        reg_total = float(sum(o.contribution for o in outputs))
        return cls(
            loss_total=base.value + reg_total,
            base_loss=BaseLossOutput(value=base.value, grad_norm=base_grad_norm, custom=dict(base.metrics)),
            regularizers={o.name: o for o in outputs},
            regularizer_total=reg_total,
            total_grad_norm=total_grad_norm,
            grad=grad,
        )

    @property
    def loss(self) -> float:
        """The total loss."""
        return self.loss_total

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics (``loss_total``, ``base_loss``, ``<name>:value``/``:contribution``/...)."""
        out: dict[str, float] = {
            "loss_total": self.loss_total, "base_loss": self.base_loss.value,
            "regularizer_total": self.regularizer_total,
        }
        for key, item in self.base_loss.custom.items():
            if not isinstance(item, str):
                out[f"base:{key}"] = item
        if self.total_grad_norm is not None:
            out["total_grad_norm"] = self.total_grad_norm
        for name, reg in self.regularizers.items():
            out[f"{name}:value"] = reg.value
            out[f"{name}:contribution"] = reg.contribution
            if reg.grad_norm is not None:
                out[f"{name}:grad_norm"] = reg.grad_norm
            for key, item in reg.custom.items():
                if not isinstance(item, str):
                    out[f"{name}:{key}"] = item
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``base_loss.grad_norm`` and ``total_grad_norm`` are left out when not tracked."""
        base: dict[str, Any] = {"value": self.base_loss.value, "custom": dict(self.base_loss.custom)}
        if self.base_loss.grad_norm is not None:
            base["grad_norm"] = self.base_loss.grad_norm
        out: dict[str, Any] = {
            "loss_total": self.loss_total,
            "base_loss": base,
            "regularizers": {name: o.to_dict() for name, o in self.regularizers.items()},
            "regularizer_total": self.regularizer_total,
        }
        if self.total_grad_norm is not None:
            out["total_grad_norm"] = self.total_grad_norm
        return out
