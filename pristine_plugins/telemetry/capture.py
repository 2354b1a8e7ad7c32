"""``capture``: report an exception to telemetry and re-raise it (context manager and decorator).

::

    with capture(client):                 # or capture(telemetry)
        risky()

    @capture(client, fatal=True)          # fatal: also SESSION_END and a bounded flush
    def main() -> None: ...

User errors are reported as ``user_error`` generic events, everything else as
``UNHANDLED_EXCEPTION``. Only :class:`Exception` is reported (not ``KeyboardInterrupt`` or
``SystemExit``); an exception already reported by an inner ``capture`` is not reported again.
With telemetry off (or no client), ``capture`` does nothing but re-raise.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pristine_plugins.telemetry.reporter import REPORTED_FLAG, Telemetry

if TYPE_CHECKING:
    from pristine_core.client import Client

F = TypeVar("F", bound=Callable[..., Any])
STATE_KEY = "telemetry"


def telemetry_of(client: Client | None) -> Telemetry | None:
    """The :class:`Telemetry` of ``client``, or None when telemetry is off or absent."""
    if client is None:
        return None
    meta = getattr(client, "meta", None)
    found = meta.state.get(STATE_KEY) if meta is not None else None
    return found if isinstance(found, Telemetry) else None


class capture:  # lower case: used like a function, ``with capture(client):``
    """Report an exception raised inside the block (or the decorated function), then re-raise."""

    def __init__(self, target: Client | Telemetry | None, *, severity: str = "ERROR", fatal: bool = False) -> None:
        self.target = target
        self.severity = severity
        self.fatal = fatal

    def telemetry(self) -> Telemetry | None:
        """The reporter to use, resolved when an exception happens."""
        if isinstance(self.target, Telemetry):
            return self.target
        return telemetry_of(self.target)

    def report(self, exc: BaseException) -> None:
        """Report ``exc`` unless it is not an Exception or was already reported."""
        if not isinstance(exc, Exception) or getattr(exc, REPORTED_FLAG, False):
            return
        reporter = self.telemetry()
        if reporter is None:
            return
        try:
            if self.fatal:
                reporter.log_fatal_exception(exc, self.severity)
            else:
                reporter.log_exception(exc, self.severity)
        except Exception:  # telemetry never replaces the caller's exception
            pass

    def __enter__(self) -> capture:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.report(exc)

    def __call__(self, fn: F) -> F:
        """Decorate ``fn`` (plain or ``async``) so that its exceptions are reported."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except BaseException as exc:
                    self.report(exc)
                    raise

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                self.report(exc)
                raise

        return wrapper  # type: ignore[return-value]
