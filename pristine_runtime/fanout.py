"""Fan-out: run a few blocking calls at once on a scheduler and collect every outcome, in order.

:func:`run_concurrently` is for a caller that must make several blocking calls (HTTP submits,
say) and needs all their outcomes before it goes on, but wants them in flight together. Every
call but the last is submitted to the :class:`~pristine_runtime.scheduler.Scheduler`; the last runs
on the calling thread. Then each submitted call that no worker has started yet is taken back and
run on the calling thread too, so the fan-out always finishes even when every worker is busy
(or the caller is itself a worker of that scheduler) and never waits for an idle pool. A closed
scheduler runs everything on the calling thread, one call after another.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import attrs

from pristine_runtime.handle import Handle
from pristine_runtime.lanes import Lane
from pristine_runtime.scheduler import Scheduler

T = TypeVar("T")


@attrs.frozen
class Outcome(Generic[T]):
    """What one call gave: its ``value``, or the ``error`` it raised (then ``value`` is None)."""

    value: T | None = None
    error: BaseException | None = None

    def get(self) -> T:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def _outcome(fn: Callable[[], T]) -> Outcome[T]:
    try:
        return Outcome(fn())
    except BaseException as exc:  # handed back to the caller, in order
        return Outcome(None, exc)


def run_concurrently(
    scheduler: Scheduler | Lane, calls: Sequence[Callable[[], T]], *, name: str = "fanout"
) -> list[Outcome[T]]:
    """Run every call concurrently (see the module docstring); their outcomes in input order.

    A call's exception never stops the others: it is returned as that call's :class:`Outcome`.
    """
    if not calls:
        return []
    slots: list[concurrent.futures.Future[Outcome[T]]] = [concurrent.futures.Future() for _ in calls]
    handles: list[Handle | None] = []
    for fn, slot in zip(calls[:-1], slots, strict=False):

        def task(fn: Callable[[], T] = fn, slot: concurrent.futures.Future[Outcome[T]] = slot) -> None:
            slot.set_result(_outcome(fn))

        handles.append(scheduler.submit(task, name=name))
    slots[-1].set_result(_outcome(calls[-1]))
    for fn, slot, handle in zip(calls, slots, handles, strict=False):
        if handle is None or handle.cancel():  # closed scheduler, or not started yet: run it here
            slot.set_result(_outcome(fn))
    return [slot.result() for slot in slots]
