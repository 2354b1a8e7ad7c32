"""Opt-in recovery of corrupted training runs: policy, monitor and executor.

A :class:`RecoveryMonitor` polls monitored runs through the public ``RestClient``; a run the
service marks ``corrupted`` is handed to the :class:`RecoveryExecutor`, which creates a new
training client from the run's latest checkpoint (``ServiceClient.create_training_client_from_state
[_with_optimizer]``), retrying with exponential backoff, and reports through callbacks and
``recovery.*`` events. Nothing here starts a thread or sleeps: polls, attempts and retries run
on a :class:`pristine_runtime.scheduler.Scheduler`, by default the one of the service's Pristine
client, so recovery runs in the background once enabled and stops when that client closes.
"""

from tinkex_domain.recovery.errors import (
    EVENTS,
    AlreadyPendingError,
    CheckpointStrategyNotSupportedError,
    MissingCheckpointError,
    RecoveryDisabledError,
    RecoveryError,
)
from tinkex_domain.recovery.executor import RecoveryExecutor, RecoveryJob
from tinkex_domain.recovery.monitor import RecoveryMonitor
from tinkex_domain.recovery.policy import RecoveryPolicy

__all__ = [
    "EVENTS",
    "AlreadyPendingError",
    "CheckpointStrategyNotSupportedError",
    "MissingCheckpointError",
    "RecoveryDisabledError",
    "RecoveryError",
    "RecoveryExecutor",
    "RecoveryJob",
    "RecoveryMonitor",
    "RecoveryPolicy",
]
