"""Submit in the background: a future returned at once for a submission that may block.

Submitting a request can block for a long time before the server hands out its future (a 429
back-off, a full connection pool). :func:`submit_in_background` runs such a submission on a
:class:`~pristine_runtime.scheduler.Scheduler` (or a lane of one) and returns an :class:`APIFuture` at once; it
resolves to what the submission's own future resolves to (or to a plain value the submission
returned), and fails with whatever the submission or that future raised. Cancelling it calls off
a submission that has not started, or cancels the submission's future once there is one.

A submission that raises :class:`~pristine_core.errors.BackoffPending` (its pool is backing off
and the call asked not to wait: per-call option ``defer_backoff``) is run again from the
scheduler's timer once the back-off has passed, so a back-off holds no worker thread.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pristine_core.errors import BackoffPending
from pristine_plugins.futures.future import APIFuture
from pristine_runtime.handle import Handle
from pristine_runtime.lanes import Lane
from pristine_runtime.scheduler import Scheduler

T = TypeVar("T")


class SubmissionRefusedError(RuntimeError):
    """The scheduler that should run a background submission is closed (its client closed)."""


def submit_in_background(scheduler: Scheduler | Lane, submit: Callable[[], Any], endpoint: str = "") -> APIFuture[Any]:
    """Run ``submit()`` on ``scheduler``; a future of its eventual result, returned at once."""
    outer: APIFuture[Any] = APIFuture(None, endpoint)
    inner: list[concurrent.futures.Future[Any]] = []
    lock = threading.Lock()

    def relay(done: concurrent.futures.Future[Any]) -> None:
        if done.cancelled():
            outer.cancel()
            return
        error = done.exception()
        outer.settle(error=error) if error is not None else outer.settle(done.result())

    def task() -> None:
        if outer.done():
            return
        try:
            value = submit()
        except BackoffPending as pending:  # send again from the timer: no thread waits it out
            later = scheduler.call_later(pending.delay_s, task, name=f"background {endpoint} (after back-off)")
            if later is None:
                outer.settle(error=SubmissionRefusedError(f"cannot resubmit {endpoint or 'a call'}: "
                                                          "the scheduler is closed"))
                return
            handles.append(later)
            if outer.cancelled():
                later.cancel()
            return
        except BaseException as exc:  # delivered through the future
            outer.settle(error=exc)
            return
        if not isinstance(value, concurrent.futures.Future):
            outer.settle(value)
            return
        outer.request_id = getattr(value, "request_id", None)
        with lock:
            inner.append(value)
        if outer.cancelled():
            value.cancel()
        value.add_done_callback(relay)

    def on_outer_done(fut: concurrent.futures.Future[Any]) -> None:
        if not fut.cancelled():
            return
        for pending in list(handles):
            pending.cancel()
        with lock:
            parts = list(inner)
        for part in parts:
            part.cancel()

    handles: list[Handle] = []
    handle = scheduler.submit(task, name=f"background {endpoint}")
    if handle is not None:
        handles.append(handle)
    if handle is None:
        outer.settle(error=SubmissionRefusedError(f"cannot submit {endpoint or 'a call'}: the scheduler is closed"))
        return outer
    outer.add_done_callback(on_outer_done)
    return outer
