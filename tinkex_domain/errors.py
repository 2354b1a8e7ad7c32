"""Tinkex's typed errors (Pristine's, re-exported) and two helpers tinkex users rely on.

``user_error(exc)`` tells whether the caller (not the service) is at fault; ``retry_after_ms``
reads the server's back-off hint from an error's response headers.
"""

from __future__ import annotations

import time
from typing import Any

from pristine_core.errors import (
    USER,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PristineError,
    RateLimitError,
    RequestFailedError,
    RequestTimeoutError,
    UnprocessableEntityError,
    ValidationError,
)
from pristine_runtime.backoff import retry_after_s

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GoneError",
    "InternalServerError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PristineError",
    "RateLimitError",
    "RequestFailedError",
    "RequestTimeoutError",
    "UnprocessableEntityError",
    "ValidationError",
    "retry_after_ms",
    "user_error",
]


def user_error(exc: BaseException) -> bool:
    """True when ``exc`` or anything in its ``__cause__``/``__context__`` chain is the caller's
    fault: category ``user`` (4xx except 408/429, invalid input, a request the server refused as
    the user's), or a foreign error carrying such a 4xx ``status_code``. Cycle-safe."""
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if getattr(current, "category", None) == USER:
            return True
        status = getattr(current, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
            return True
        pending.extend((getattr(current, "__cause__", None), getattr(current, "__context__", None)))
    return False


def retry_after_ms(exc: BaseException, *, now: float | None = None) -> int | None:
    """The server's back-off hint in milliseconds (``retry-after-ms``, else ``Retry-After`` as
    seconds or an HTTP date; read by :func:`pristine_runtime.backoff.retry_after_s`, never negative),
    or None when the error carries none."""
    headers = getattr(exc, "headers", None) or {}
    seconds = retry_after_s(headers, time.time() if now is None else now)
    return None if seconds is None else int(seconds * 1000)
