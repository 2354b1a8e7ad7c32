"""Tinkex's typed errors (Pristine's, re-exported) and two helpers tinkex users rely on.

``user_error(exc)`` tells whether the caller (not the service) is at fault; ``retry_after_ms``
reads the server's back-off hint from an error's response headers.
"""

from __future__ import annotations

import email.utils
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
    seconds or an HTTP date), or None when the error carries none."""
    headers = {str(k).lower(): str(v) for k, v in (getattr(exc, "headers", None) or {}).items()}
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(int(float(raw_ms)), 0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(int(float(raw) * 1000), 0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(int((when.timestamp() - current) * 1000), 0)
