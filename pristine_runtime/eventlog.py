"""The runtime's logging seam: services report events to an :class:`EventLog` their owner gives them.

The runtime depends on no logging library of its own. A service (the scheduler) takes any object
with structlog's call style, ``log.warning("event.name", key=value)``: a structlog logger,
``pristine_core.logs``' library logger, or a test's recorder. Without one, :class:`StdlibLog`
writes standard :mod:`logging` records, ``"event key=value ..."``.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol


class EventLog(Protocol):
    """Where a scheduler reports its events: ``log.warning("event.name", key=value)`` style."""

    def warning(self, event: str, **fields: Any) -> None:
        """Report ``event`` at WARNING."""

    def exception(self, event: str, **fields: Any) -> None:
        """Report ``event`` at ERROR with the exception being handled."""


class StdlibLog:
    """The default :class:`EventLog`: :mod:`logging` records ``"event key=value ..."`` under ``name``."""

    __slots__ = ("_std",)

    def __init__(self, name: str = "pristine_runtime.scheduler") -> None:
        self._std = logging.getLogger(name)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._std.warning("%s %s", event, _details(fields))

    def exception(self, event: str, **fields: Any) -> None:
        """Log at ERROR with the current exception's traceback."""
        self._std.exception("%s %s", event, _details(fields))


def _details(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={value!r}" for key, value in fields.items())
