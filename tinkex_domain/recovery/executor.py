"""The recovery executor: restores a corrupted run from a checkpoint, with retries and backoff.

Only the public client API is used: ``service.create_rest_client().get_training_run(...)``
to find the latest checkpoint, then ``service.create_training_client_from_state[_with_optimizer]``.
Work runs on a :class:`pristine_runtime.scheduler.Scheduler`: by default the one of the Pristine
client behind the service (so recovery runs in the background by itself and stops when that
client closes); pass ``scheduler=`` to use another one, e.g. ``Scheduler(clock,
background=False)`` driven by ``run_due()`` in a test. Attempts run on that scheduler's
workers, inline on a thread-less scheduler, or on a ``runner`` when given (``submit(fn,
*args)``); at most ``max_concurrent`` run at once, the rest wait in FIFO order. Retries are
scheduled after ``policy.backoff(attempt)``.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_runtime.handle import Handle
from pristine_runtime.scheduler import Scheduler
from tinkex_domain.recovery.errors import (
    AlreadyPendingError,
    CheckpointStrategyNotSupportedError,
    EventFn,
    MissingCheckpointError,
    RecoveryDisabledError,
    emit,
    log,
)
from tinkex_domain.recovery.policy import RecoveryPolicy


@attrs.define
class RecoveryJob:
    """One run being recovered."""

    run_id: str
    service: Any
    policy: RecoveryPolicy
    last_checkpoint: Any = None
    run: Any = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
    attempt: int = 0
    retry: Handle | None = None


def scheduler_of(service: Any) -> Scheduler:
    """The scheduler of the Pristine client behind ``service`` (a ServiceClient)."""
    scheduler: Scheduler = service.holder.client.meta.scheduler
    return scheduler


def checkpoint_path(checkpoint: Any) -> str:
    """The tinker path of a Checkpoint (or of a path string)."""
    return checkpoint if isinstance(checkpoint, str) else str(checkpoint.tinker_path)


class RecoveryExecutor:
    """Queues recoveries and runs their attempts (see the module docstring)."""

    def __init__(
        self, *, scheduler: Scheduler | None = None, runner: Any = None, max_concurrent: int = 1,
        on_event: EventFn | None = None,
    ) -> None:
        self.scheduler: Scheduler | None = scheduler
        self.runner = runner
        self.max_concurrent = max(1, int(max_concurrent))
        self.on_event = on_event
        self._lock = threading.Lock()
        self._queue: deque[RecoveryJob] = deque()
        self._pending: dict[str, RecoveryJob] = {}
        self._active = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"<RecoveryExecutor pending={sorted(self._pending)} active={self._active}>"

    def pending(self) -> list[str]:
        """Run ids queued, in progress or waiting for a retry."""
        with self._lock:
            return sorted(self._pending)

    def recover(
        self, run_id: str, service: Any, policy: RecoveryPolicy | Mapping[str, Any], *,
        last_checkpoint: Any = None, run: Any = None, metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue the recovery of ``run_id`` through ``service`` (a ServiceClient).

        Raises :class:`RecoveryDisabledError` when the policy is off and
        :class:`AlreadyPendingError` when the run is already being recovered.
        """
        pol = RecoveryPolicy.new(policy)
        if not pol.enabled:
            raise RecoveryDisabledError()
        job = RecoveryJob(run_id, service, pol, last_checkpoint, run, dict(metadata or {}))
        with self._lock:
            if self._closed:
                raise RecoveryDisabledError("the recovery executor is closed")
            if run_id in self._pending:
                raise AlreadyPendingError(f"run {run_id!r} is already being recovered")
            self._pending[run_id] = job
            self._queue.append(job)
        self._drain()

    def close(self) -> None:
        """Drop queued work and cancel scheduled retries (an attempt in progress finishes)."""
        with self._lock:
            self._closed = True
            jobs = list(self._pending.values())
            self._pending.clear()
            self._queue.clear()
        for job in jobs:
            if job.retry is not None:
                job.retry.cancel()

    # -- internals ------------------------------------------------------------------------

    def _emit(self, job: RecoveryJob, name: str, **fields: Any) -> None:
        base = {"run_id": job.run_id, "attempt": job.attempt, "strategy": job.policy.checkpoint_strategy}
        emit(self.on_event, job.service, name, {**job.metadata, **base, **fields})

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._closed or self._active >= self.max_concurrent or not self._queue:
                    return
                job = self._queue.popleft()
                self._active += 1
            if self.runner is not None:
                self.runner.submit(self._attempt, job)
                continue
            scheduler = self._scheduler_for(job)
            if not scheduler.background:
                self._attempt(job)
            elif scheduler.submit(functools.partial(self._attempt, job), name="tinkex-recovery") is None:
                self._abandon(job)  # the client closed: nothing more runs

    def _scheduler_for(self, job: RecoveryJob) -> Scheduler:
        return self.scheduler if self.scheduler is not None else scheduler_of(job.service)

    def _abandon(self, job: RecoveryJob) -> None:
        with self._lock:
            self._active -= 1
            if self._pending.get(job.run_id) is job:
                del self._pending[job.run_id]

    def _select(self, job: RecoveryJob) -> Any:
        policy = job.policy
        if policy.checkpoint_strategy == "specific":
            return policy.checkpoint_path
        if policy.checkpoint_strategy == "best":
            raise CheckpointStrategyNotSupportedError("the 'best' checkpoint strategy is not supported")
        checkpoint = job.last_checkpoint or getattr(job.run, "last_checkpoint", None)
        if checkpoint is None:
            run = job.service.create_rest_client().get_training_run(job.run_id).result()
            checkpoint = getattr(run, "last_checkpoint", None)
        if checkpoint is None:
            raise MissingCheckpointError(f"run {job.run_id!r} has no checkpoint to restore")
        return checkpoint

    def _attempt(self, job: RecoveryJob) -> None:
        job.attempt += 1
        job.retry = None
        try:
            self._emit(job, "recovery.started")
            checkpoint = self._select(job)
            path = checkpoint_path(checkpoint)
            self._emit(job, "recovery.checkpoint_selected", checkpoint=path)
            create = (
                job.service.create_training_client_from_state_with_optimizer
                if job.policy.restore_optimizer
                else job.service.create_training_client_from_state
            )
            client = create(path)
            self._emit(job, "recovery.client_created", checkpoint=path, model_id=getattr(client, "model_id", None))
        except Exception as exc:
            self._failed(job, exc)
        else:
            self._completed(job, client, checkpoint)
        finally:
            with self._lock:
                self._active -= 1
            self._drain()

    def _completed(self, job: RecoveryJob, client: Any, checkpoint: Any) -> None:
        with self._lock:
            self._pending.pop(job.run_id, None)
        self._emit(job, "recovery.completed", checkpoint=checkpoint_path(checkpoint))
        callback = job.policy.on_recovery
        if callback is not None:
            old = job.metadata.get("training_client", job.metadata.get("old_client"))
            try:
                callback(old, client, checkpoint)
            except Exception:  # a user callback must not undo a successful recovery
                log.exception("tinkex.recovery.callback_failed", callback="on_recovery", run_id=job.run_id)

    def _failed(self, job: RecoveryJob, error: Exception) -> None:
        self._emit(job, "recovery.failed", error=repr(error))
        permanent = isinstance(error, CheckpointStrategyNotSupportedError)
        if permanent or job.attempt >= job.policy.max_attempts:
            with self._lock:
                self._pending.pop(job.run_id, None)
            self._emit(job, "recovery.exhausted", error=repr(error))
            callback = job.policy.on_failure
            if callback is not None:
                try:
                    callback(job.run_id, error)
                except Exception:
                    log.exception("tinkex.recovery.callback_failed", callback="on_failure", run_id=job.run_id)
            return
        delay = job.policy.backoff(job.attempt)
        self._emit(job, "recovery.retry_scheduled", delay_s=delay, error=repr(error))
        with self._lock:
            closed = self._closed
        if not closed:  # scheduled outside the lock: a scheduler may run the call at once
            job.retry = self._scheduler_for(job).call_later(delay, lambda: self._requeue(job), name="tinkex-recovery")
            if job.retry is None:
                with self._lock:
                    self._pending.pop(job.run_id, None)

    def _requeue(self, job: RecoveryJob) -> None:
        with self._lock:
            if self._closed or self._pending.get(job.run_id) is not job:
                return
            self._queue.append(job)
        self._drain()
