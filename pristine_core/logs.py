"""Library logging: structlog when the application configured it, stdlib ``logging`` otherwise.

A library must not configure logging. Unconfigured structlog prints every level to stdout,
which would put debug lines into users' program output; stdlib logging's defaults (WARNING and
up, to stderr) are the polite behaviour. So each call checks ``structlog.is_configured()``: an
application that set structlog up gets structured events (and ``structlog.testing.capture_logs``
works in tests); everyone else gets ordinary ``logging`` records under the module's name.

structlog is never imported here: an application that configured it has imported it already, so a
look in ``sys.modules`` answers the question without the ~60 ms import for everyone else.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
}


class LibraryLogger:
    """A logger with structlog's call style: ``log.warning("event.name", key=value)``."""

    __slots__ = ("_name", "_std")

    def __init__(self, name: str) -> None:
        self._name = name
        self._std = logging.getLogger(name)

    def _log(self, method: str, event: str, fields: dict[str, Any]) -> None:
        structlog = sys.modules.get("structlog")
        if structlog is not None and structlog.is_configured():
            getattr(structlog.get_logger(self._name), method)(event, **fields)
            return
        level = _LEVELS[method]
        if self._std.isEnabledFor(level):
            details = " ".join(f"{key}={value!r}" for key, value in fields.items())
            self._std.log(level, "%s %s", event, details, exc_info=method == "exception")

    def debug(self, event: str, **fields: Any) -> None:
        """Log at DEBUG."""
        self._log("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log at INFO."""
        self._log("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._log("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log at ERROR."""
        self._log("error", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Log at ERROR with the current exception's traceback."""
        self._log("exception", event, fields)


def get_logger(name: str) -> LibraryLogger:
    """The logger for module ``name``."""
    return LibraryLogger(name)
