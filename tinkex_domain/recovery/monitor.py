"""The recovery monitor: polls monitored training runs and hands corrupted ones to the executor.

    executor = RecoveryExecutor()
    monitor = RecoveryMonitor(executor, RecoveryPolicy(enabled=True))
    monitor.monitor_run(training.model_id, service, {"training_client": training})
    # polls and recoveries now run in the background on the client's scheduler,
    # until monitor.close() or service.close()

Every ``poll_interval_s`` (while runs are monitored) each run is fetched with
``RestClient.get_training_run``; a fetch error is reported (``recovery.poll_error``) and the
run stays monitored; a run marked ``corrupted`` is reported (``recovery.detected``) and queued
for recovery, after which it is no longer monitored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from pristine_runtime.handle import Handle
from pristine_runtime.scheduler import Scheduler
from tinkex_domain.recovery.errors import AlreadyPendingError, EventFn, RecoveryDisabledError, RecoveryError, emit
from tinkex_domain.recovery.executor import RecoveryExecutor, checkpoint_path, scheduler_of
from tinkex_domain.recovery.policy import RecoveryPolicy

RestFactory = Callable[[Any], Any]


@attrs.define
class WatchedRun:
    """A monitored run: its service client, REST client and user metadata."""

    run_id: str
    service: Any
    rest: Any
    metadata: dict[str, Any]


class RecoveryMonitor:
    """Watches runs for corruption (see the module docstring).

    ``scheduler`` defaults to the executor's, else to the scheduler of the first monitored
    service's Pristine client; ``rest_client_factory(service)`` defaults to
    ``service.create_rest_client()``.
    """

    def __init__(
        self, executor: RecoveryExecutor | None, policy: RecoveryPolicy | Mapping[str, Any] | None = None, *,
        scheduler: Scheduler | None = None, rest_client_factory: RestFactory | None = None,
        on_event: EventFn | None = None,
    ) -> None:
        self.executor = executor
        self.policy = RecoveryPolicy.new(policy)
        if scheduler is None and executor is not None:
            scheduler = executor.scheduler
        self.scheduler: Scheduler | None = scheduler
        self.rest_client_factory = rest_client_factory
        self.on_event = on_event
        self._lock = threading.Lock()
        self._runs: dict[str, WatchedRun] = {}
        self._next: Handle | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<RecoveryMonitor runs={self.monitored_runs()}>"

    def monitored_runs(self) -> list[str]:
        """The run ids being watched."""
        with self._lock:
            return sorted(self._runs)

    def monitor_run(self, run_id: str, service: Any, metadata: Mapping[str, Any] | None = None) -> None:
        """Start watching ``run_id`` (a training client's ``model_id``) through ``service``.

        Raises :class:`RecoveryDisabledError` when the policy is off, :class:`RecoveryError`
        without an executor; a failure to create the REST client propagates.
        """
        if not self.policy.enabled:
            raise RecoveryDisabledError()
        if self.executor is None:
            raise RecoveryError("no recovery executor configured")
        rest = self.rest_client_factory(service) if self.rest_client_factory else service.create_rest_client()
        with self._lock:
            if self._closed:
                raise RecoveryError("the recovery monitor is closed")
            self._runs[run_id] = WatchedRun(run_id, service, rest, dict(metadata or {}))
            if self.scheduler is None:
                self.scheduler = scheduler_of(service)
        self._schedule()

    def stop_monitoring(self, run_id: str) -> None:
        """Stop watching ``run_id`` (no effect if not watched)."""
        with self._lock:
            self._runs.pop(run_id, None)
            idle = not self._runs
        if idle:
            self._cancel()

    def close(self) -> None:
        """Stop watching everything and cancel the next poll."""
        with self._lock:
            self._closed = True
            self._runs.clear()
        self._cancel()

    def poll(self) -> None:
        """Check every watched run once now."""
        with self._lock:
            runs = list(self._runs.values())
        for watched in runs:
            self._check(watched)

    # -- internals ------------------------------------------------------------------------

    def _cancel(self) -> None:
        with self._lock:
            handle, self._next = self._next, None
        if handle is not None:
            handle.cancel()

    def _schedule(self) -> None:
        with self._lock:
            if self._closed or self._next is not None or not self._runs or self.scheduler is None:
                return
            scheduler = self.scheduler
        handle = scheduler.call_later(self.policy.poll_interval_s, self._tick, name="tinkex-recovery-monitor")
        if handle is None:
            return  # the scheduler closed with its client: monitoring ends
        with self._lock:
            if self._next is None:
                self._next = handle
                return
        handle.cancel()  # another caller scheduled meanwhile

    def _tick(self) -> None:
        with self._lock:
            self._next = None
        try:
            self.poll()
        finally:
            self._schedule()

    def _emit(self, watched: WatchedRun, name: str, **fields: Any) -> None:
        emit(self.on_event, watched.service, name, {**watched.metadata, "run_id": watched.run_id, **fields})

    def _check(self, watched: WatchedRun) -> None:
        try:
            run = watched.rest.get_training_run(watched.run_id).result()
        except Exception as exc:  # reported; the run stays monitored and is polled again
            self._emit(watched, "recovery.poll_error", error=repr(exc))
            return
        if not getattr(run, "corrupted", False):
            return
        last = getattr(run, "last_checkpoint", None)
        self._emit(watched, "recovery.detected", checkpoint=checkpoint_path(last) if last is not None else None)
        assert self.executor is not None
        try:
            self.executor.recover(
                watched.run_id, watched.service, self.policy, last_checkpoint=last, run=run,
                metadata=watched.metadata,
            )
        except AlreadyPendingError:
            pass  # being recovered already: stop watching like a fresh enqueue
        except RecoveryError as exc:
            self._emit(watched, "recovery.poll_error", error=repr(exc))
            return
        with self._lock:
            self._runs.pop(watched.run_id, None)
