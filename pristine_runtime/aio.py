"""Asyncio bridges: run a blocking step off the event loop, await a concurrent future without a thread.

SDK methods named ``*_async`` must never block the loop. Their blocking steps (an HTTP submit,
client creation, a REST call, a custom-loss forward) go through :func:`run_off_loop`, which
runs them on a bounded :class:`~pristine_runtime.scheduler.Scheduler` (the client's own, normally)
and awaits the outcome; a server-side future is then awaited with :func:`wait_future`, which
costs no thread at all (the future's done-callback wakes the loop).

Cancelling the awaiting task cancels a step that has not started yet and detaches from one that
has (its outcome is dropped); for a future, it cancels the future.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

from pristine_runtime.lanes import Lane
from pristine_runtime.scheduler import Scheduler

T = TypeVar("T")


class SchedulerClosedError(RuntimeError):
    """The scheduler that should run a blocking step is closed (its client was closed)."""


async def wait_future(future: concurrent.futures.Future[T], timeout_s: float | None = None) -> T:
    """Await a :class:`concurrent.futures.Future` on the running loop, without a thread.

    Cancelling the awaiting task cancels ``future``; so does ``timeout_s`` passing, which raises
    :class:`concurrent.futures.TimeoutError` (the error ``future.result(timeout)`` raises).
    """
    if timeout_s is None:
        return await asyncio.wrap_future(future)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
    except asyncio.TimeoutError:
        raise concurrent.futures.TimeoutError(f"no result within {timeout_s:g}s") from None


async def run_off_loop(scheduler: Scheduler | Lane, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on a worker of ``scheduler`` (or of one of its lanes) and await its result.

    The event loop keeps running meanwhile. Raises :class:`SchedulerClosedError` when the
    scheduler is closed; ``fn``'s own exception propagates unchanged.
    """
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def step() -> None:
        if not outcome.set_running_or_notify_cancel():
            return  # the awaiting task was cancelled before the step started
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # delivered to the awaiting task
            outcome.set_exception(exc)
        else:
            outcome.set_result(value)

    name = getattr(fn, "__qualname__", "") or getattr(fn, "__name__", "")
    handle = scheduler.submit(step, name=f"off-loop {name}")
    if handle is None:
        raise SchedulerClosedError(f"cannot run {name or 'a blocking step'}: the scheduler {scheduler.name} is closed")
    try:
        return await asyncio.wrap_future(outcome)
    except asyncio.CancelledError:
        handle.cancel()
        raise
