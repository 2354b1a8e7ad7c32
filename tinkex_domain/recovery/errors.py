"""Recovery errors and the event helper shared by the monitor and the executor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pristine_core.errors import PristineError
from pristine_core.logs import get_logger

log = get_logger("tinkex_domain.recovery")

#: ``on_event(name, fields)`` observer; names are ``recovery.<what>``.
EventFn = Callable[[str, Mapping[str, Any]], None]

EVENTS = (
    "recovery.detected", "recovery.poll_error", "recovery.started", "recovery.checkpoint_selected",
    "recovery.client_created", "recovery.completed", "recovery.failed", "recovery.retry_scheduled",
    "recovery.exhausted",
)


class RecoveryError(PristineError):
    """Base of the recovery errors (part of the Pristine error hierarchy)."""


class RecoveryDisabledError(RecoveryError):
    """The policy is not enabled (recovery is opt-in)."""

    def __init__(self, message: str = "recovery is disabled by the policy (enabled=False)") -> None:
        super().__init__(message)


class AlreadyPendingError(RecoveryError):
    """The run is already queued, being recovered, or waiting for a retry."""


class CheckpointStrategyNotSupportedError(RecoveryError):
    """The policy asks for a strategy this SDK does not implement (``best``)."""


class MissingCheckpointError(RecoveryError):
    """The run has no checkpoint to restore from."""


def emit(on_event: EventFn | None, service: Any, name: str, fields: Mapping[str, Any]) -> None:
    """Send an event to ``on_event`` and to the service's Pristine client (telemetry), if any.

    Observer failures are logged and swallowed: they must not break recovery.
    """
    if on_event is not None:
        try:
            on_event(name, fields)
        except Exception:
            log.exception("tinkex.recovery.observer_failed", event_name=name)
    client = getattr(getattr(service, "holder", None), "client", None)
    client_emit = getattr(getattr(client, "meta", None), "emit", None)
    if callable(client_emit):
        try:
            # Only plain values go to the client (telemetry): metadata may hold client objects.
            client_emit(name, **{k: v for k, v in fields.items() if isinstance(v, (str, int, float, bool, type(None)))})
        except Exception:
            log.exception("tinkex.recovery.emit_failed", event_name=name)
