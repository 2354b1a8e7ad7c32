"""Human-readable logging of pipeline events (``Regularizer.Telemetry.attach_logger`` in Elixir)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tinkex_domain.regularizers.executor import EventFn

#: Every event name a pipeline emits.
EVENTS = (
    "custom_loss.start", "custom_loss.stop", "custom_loss.exception",
    "regularizer.compute.start", "regularizer.compute.stop", "regularizer.compute.exception",
)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def describe(name: str, fields: Mapping[str, Any]) -> str:
    """One log line for an event, numbers rounded to 4 decimals."""
    parts = " ".join(f"{key}={_fmt(fields[key])}" for key in sorted(fields))
    return f"{name} {parts}".rstrip()


def logging_observer(logger: logging.Logger | None = None, level: int = logging.INFO) -> EventFn:
    """An ``on_event`` callback that logs each event as one human-readable line.

    Deliberately stdlib ``logging``, unlike the library's own diagnostics (``pristine_core.logs``):
    this is a sink the user attaches, writing to the ``logging.Logger`` they pass (default
    ``tinkex_domain.regularizers``) at the level they choose, like Elixir's ``attach_logger``.
    """
    target = logger or logging.getLogger("tinkex_domain.regularizers")

    def observe(name: str, fields: Mapping[str, Any]) -> None:
        target.log(level, "%s", describe(name, fields))

    return observe
