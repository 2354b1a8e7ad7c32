"""The regularizer pipeline: ``loss_total = base_loss + Σ weightᵢ · regularizerᵢ``.

    pipeline = Pipeline(cross_entropy_loss, [
        RegularizerSpec(fn=L1(), weight=0.01),
        RegularizerSpec(fn=Entropy(mode="maximize"), weight=0.1),
    ], track_grad_norms=True)
    out = pipeline.compute(data, logprobs)          # CustomLossOutput
    training_client.forward_backward_custom(data, pipeline.loss_fn(), backend="numpy")

Every loss function receives ``(data, x)`` with ``x`` the logprobs packed into one float64
array (see :func:`~tinkex_domain.regularizers.base.pack`) and returns a number,
``(number, metrics)`` or a :class:`RegularizerResult` (with its gradient when it knows it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pristine_core.errors import ValidationError
from tinkex_domain.regularizers.base import pack, packed_input
from tinkex_domain.regularizers.executor import (
    DEFAULT_TIMEOUT_S,
    EventFn,
    ExecutorLike,
    RunContext,
    evaluate,
    execute_all,
    with_grad,
)
from tinkex_domain.regularizers.gradients import MAX_NUMERIC_ELEMENTS, norm
from tinkex_domain.regularizers.types import CustomLossOutput, RegularizerError, RegularizerResult, RegularizerSpec

BASE_NAME = "base_loss"


def cross_entropy_loss(data: Sequence[Any], x: np.ndarray) -> RegularizerResult:
    """Tinker's ``cross_entropy`` on logprobs: ``-Σ weights·logprobs`` (weights 1 when the data have none)."""
    try:
        weights = packed_input(data, "weights")
    except KeyError:
        weights = np.ones_like(x)
    if weights.shape != x.shape:
        raise ValueError(f"weights shape {weights.shape} does not match logprobs shape {x.shape}")
    return RegularizerResult(float(-np.sum(weights * x)), -weights, {})


def _validate(base_loss: Any, regularizers: Sequence[Any]) -> list[RegularizerSpec]:
    if not callable(base_loss):
        raise ValidationError([("base_loss", "must be callable (data, logprobs) -> loss")], "Pipeline")
    specs = [RegularizerSpec.new(item) for item in regularizers]
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.name in seen:
            raise ValidationError([(f"regularizers[{i}].name", f"duplicate name {spec.name!r}")], "Pipeline")
        if spec.name == BASE_NAME:
            raise ValidationError([(f"regularizers[{i}].name", f"{BASE_NAME!r} is reserved")], "Pipeline")
        seen.add(spec.name)
    return specs


class Pipeline:
    """A base loss composed with weighted regularizers (validated at construction).

    ``track_grad_norms`` reports ‖∇‖₂ of the base loss, of each regularizer (and weighted) and
    of the total. ``executor`` runs the regularizers in parallel (see
    :mod:`~tinkex_domain.regularizers.executor`); ``timeout_s`` bounds each async/parallel one.
    ``on_event(name, fields)`` observes ``custom_loss.start|stop|exception`` and
    ``regularizer.compute.*``; ``clock`` times them.
    """

    def __init__(
        self, base_loss: Callable[..., Any], regularizers: Sequence[RegularizerSpec | Mapping[str, Any]] = (), *,
        track_grad_norms: bool = False, executor: ExecutorLike | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S, on_event: EventFn | None = None,
        clock: Callable[[], float] = time.monotonic, max_numeric_elements: int = MAX_NUMERIC_ELEMENTS,
    ) -> None:
        self.base_loss = base_loss
        self.specs = _validate(base_loss, regularizers)
        self.track_grad_norms = bool(track_grad_norms)
        self.executor = executor
        self.timeout_s = float(timeout_s)
        self.on_event = on_event
        self.clock = clock
        self.max_numeric_elements = int(max_numeric_elements)

    def __repr__(self) -> str:
        names = ", ".join(f"{s.name}*{s.weight:g}" for s in self.specs)
        return f"Pipeline({getattr(self.base_loss, '__name__', 'base_loss')}; {names})"

    def _context(self, need_grad: bool) -> RunContext:
        return RunContext(
            track_grad_norms=self.track_grad_norms, need_grad=need_grad, timeout_s=self.timeout_s,
            on_event=self.on_event, clock=self.clock, max_numeric_elements=self.max_numeric_elements,
        )

    def compute(self, data: Sequence[Any], logprobs: Any, *, need_grad: bool = False) -> CustomLossOutput:
        """Run the base loss and every regularizer; ``need_grad`` also assembles the total gradient."""
        x, _ = pack(logprobs)
        ctx = self._context(need_grad)
        started = self.clock()
        ctx.emit("custom_loss.start", regularizer_count=len(self.specs), track_grad_norms=self.track_grad_norms)
        try:
            output = self._run(data, x, ctx)
        except Exception as exc:
            reason = "regularizer_error" if isinstance(exc, RegularizerError) else "base_loss_error"
            ctx.emit("custom_loss.exception", reason=reason, error=repr(exc), duration_s=self.clock() - started)
            raise
        ctx.emit(
            "custom_loss.stop", loss_total=output.loss_total, regularizer_total=output.regularizer_total,
            regularizer_count=len(self.specs), duration_s=self.clock() - started,
        )
        return output

    def _run(self, data: Sequence[Any], x: np.ndarray, ctx: RunContext) -> CustomLossOutput:
        try:
            base = evaluate(self.base_loss, data, x, BASE_NAME)
            base = with_grad(self.base_loss, data, x, BASE_NAME, base, ctx)
        except RegularizerError:
            raise
        except Exception as exc:
            raise RegularizerError(BASE_NAME, f"{type(exc).__name__}: {exc}") from exc
        runs = execute_all(self.specs, data, x, ctx, self.executor)
        outputs = [out for out, _ in runs]
        grad: np.ndarray | None = None
        total_norm: float | None = None
        if ctx.need_grad or ctx.track_grad_norms:
            reg_parts = [(spec.weight, res.grad) for spec, (_, res) in zip(self.specs, runs, strict=True)]
            parts = [(1.0, base.grad), *reg_parts]
            if all(g is not None for _, g in parts):
                grad = np.zeros_like(x)
                for weight, part in parts:
                    assert part is not None
                    grad = grad + weight * part
            elif ctx.need_grad:
                missing = [n for n, (_, g) in zip([BASE_NAME] + [s.name for s in self.specs], parts, strict=True)
                           if g is None]
                raise RegularizerError(missing[0], "no gradient available (too large for finite differences)")
            if ctx.track_grad_norms:
                total_norm = norm(grad) if grad is not None else 0.0
        base_norm = norm(base.grad) if ctx.track_grad_norms else None
        return CustomLossOutput.build(base, outputs, base_grad_norm=base_norm, total_grad_norm=total_norm, grad=grad)

    def loss_fn(self) -> Callable[[Sequence[Any], list[np.ndarray]], tuple[float, list[np.ndarray], dict[str, float]]]:
        """A loss for ``TrainingClient.forward_backward_custom(..., backend="numpy")``.

        It returns ``(loss_total, per-datum gradients, metrics)``; the metrics are
        :meth:`CustomLossOutput.metrics`.
        """

        def loss(data: Sequence[Any], logprobs: list[np.ndarray]) -> tuple[float, list[np.ndarray], dict[str, float]]:
            x, unpack = pack(list(logprobs))
            out = self.compute(data, list(logprobs), need_grad=True)
            assert out.grad is not None and unpack is not None
            grads = [g.astype(np.float32) for g in unpack(out.grad.reshape(x.shape))]
            return out.loss_total, grads, out.metrics()

        return loss


def compute(
    data: Sequence[Any], logprobs: Any, base_loss: Callable[..., Any],
    regularizers: Sequence[RegularizerSpec | Mapping[str, Any]] = (), **options: Any,
) -> CustomLossOutput:
    """One-shot :class:`Pipeline` run (``options`` as the Pipeline's keyword arguments)."""
    return Pipeline(base_loss, regularizers, **options).compute(data, logprobs)
