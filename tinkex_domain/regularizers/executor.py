"""Running regularizers: one at a time, or through a caller-supplied executor.

Tinkex starts no threads of its own: ``execute_all`` runs the specs in order, unless the
caller passes an executor (anything with ``submit(fn, *args) -> future`` whose futures have
``result(timeout)``, e.g. the standard library's thread-pool executor); then they run in
parallel and each result is awaited at most ``timeout_s``. Results come back in spec order
either way, and the first failure raises :class:`RegularizerError` naming the regularizer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import numpy as np

from pristine_core.logs import get_logger
from tinkex_domain.regularizers.base import to_result
from tinkex_domain.regularizers.gradients import MAX_NUMERIC_ELEMENTS, estimate_grad, norm
from tinkex_domain.regularizers.types import RegularizerError, RegularizerOutput, RegularizerResult, RegularizerSpec

log = get_logger(__name__)

#: ``on_event(name, fields)``: ``regularizer.compute.start|stop|exception``, ``custom_loss.*``.
EventFn = Callable[[str, Mapping[str, Any]], None]
#: Default per-regularizer timeout (seconds) for async specs and executor runs.
DEFAULT_TIMEOUT_S = 30.0


class FutureLike(Protocol):
    """What an async spec returns and an executor's ``submit`` gives back."""

    def result(self, timeout: float | None = None) -> Any:
        """The value, waiting at most ``timeout`` seconds."""
        ...


class ExecutorLike(Protocol):
    """A caller-supplied executor (``concurrent.futures.Executor`` fits)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Schedule ``fn(*args)``; returns a future."""
        ...


@attrs.frozen
class RunContext:
    """Settings shared by the regularizer runs of one pipeline call."""

    track_grad_norms: bool = False
    need_grad: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    on_event: EventFn | None = None
    clock: Callable[[], float] = time.monotonic
    max_numeric_elements: int = MAX_NUMERIC_ELEMENTS

    def emit(self, name: str, **fields: Any) -> None:
        """Send an event to the observer; an observer's failure is logged, never raised."""
        if self.on_event is None:
            return
        try:
            self.on_event(name, fields)
        except Exception:  # observers must not break training
            log.exception("tinkex.regularizer.observer_failed", event_name=name)


def _await(value: Any, timeout_s: float, name: str) -> Any:
    try:
        return value.result(timeout_s)
    except Exception as exc:
        # concurrent.futures.TimeoutError is not the builtin one before Python 3.11.
        if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
            raise RegularizerError(name, f"timed out after {timeout_s} s") from None
        raise


def evaluate(
    fn: Callable[..., Any], data: Sequence[Any], x: np.ndarray, name: str, *, is_async: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> RegularizerResult:
    """Call one loss function on the packed logprobs ``x`` and normalise its answer."""
    raw = fn(data, x)
    if is_async:
        raw = _await(raw, timeout_s, name)
    result = to_result(raw)
    if result.grad is not None:
        grad = np.asarray(result.grad, dtype=np.float64)
        if grad.shape != x.shape:
            raise ValueError(f"gradient shape {grad.shape} does not match logprobs shape {x.shape}")
        result = attrs.evolve(result, grad=grad)
    return result


def with_grad(
    fn: Callable[..., Any], data: Sequence[Any], x: np.ndarray, name: str, result: RegularizerResult,
    ctx: RunContext, is_async: bool = False,
) -> RegularizerResult:
    """``result`` with a gradient: its own, else a finite-difference estimate (None if impossible)."""
    if result.grad is not None or not (ctx.track_grad_norms or ctx.need_grad):
        return result

    def value_at(point: np.ndarray) -> float:
        return evaluate(fn, data, point, name, is_async=is_async, timeout_s=ctx.timeout_s).value

    return attrs.evolve(result, grad=estimate_grad(name, value_at, x, ctx.max_numeric_elements))


def execute_one(
    spec: RegularizerSpec, data: Sequence[Any], x: np.ndarray, ctx: RunContext
) -> tuple[RegularizerOutput, RegularizerResult]:
    """Run one spec: its output (with the gradient norm when tracked) and the raw result."""
    started = ctx.clock()
    ctx.emit("regularizer.compute.start", regularizer_name=spec.name, weight=spec.weight, is_async=spec.is_async)
    try:
        result = evaluate(spec.fn, data, x, spec.name, is_async=spec.is_async, timeout_s=ctx.timeout_s)
        result = with_grad(spec.fn, data, x, spec.name, result, ctx, spec.is_async)
    except Exception as exc:
        ctx.emit(
            "regularizer.compute.exception", regularizer_name=spec.name, weight=spec.weight,
            duration_s=ctx.clock() - started, reason=repr(exc),
        )
        if isinstance(exc, RegularizerError):
            raise
        raise RegularizerError(spec.name, f"{type(exc).__name__}: {exc}") from exc
    grad_norm = norm(result.grad) if ctx.track_grad_norms else None
    output = RegularizerOutput.from_computation(spec.name, result.value, spec.weight, result.metrics, grad_norm)
    ctx.emit(
        "regularizer.compute.stop", regularizer_name=spec.name, weight=spec.weight, value=output.value,
        contribution=output.contribution, grad_norm=grad_norm, duration_s=ctx.clock() - started,
    )
    return output, result


def execute_all(
    specs: Sequence[RegularizerSpec], data: Sequence[Any], x: np.ndarray, ctx: RunContext,
    executor: ExecutorLike | None = None,
) -> list[tuple[RegularizerOutput, RegularizerResult]]:
    """Run every spec (in order, or in parallel on ``executor``); results in spec order."""
    if executor is None:
        return [execute_one(spec, data, x, ctx) for spec in specs]
    futures = [executor.submit(execute_one, spec, data, x, ctx) for spec in specs]
    results = []
    try:
        for spec, future in zip(specs, futures, strict=True):
            results.append(_await(future, ctx.timeout_s, spec.name))
    except BaseException:
        for future in futures:
            cancel = getattr(future, "cancel", None)
            if callable(cancel):
                cancel()
        raise
    return results
