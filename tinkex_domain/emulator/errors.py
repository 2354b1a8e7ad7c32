"""Errors the emulator's handlers raise; the HTTP layer turns them into JSON error replies."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the client as ``{"error": message, ...}`` with an HTTP status.

    ``field`` names the offending request field (validation errors), ``category`` is the
    Tinker error category (``user`` / ``server``) when one applies, and ``extra`` adds keys
    to the JSON body (e.g. ``queue_state``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        category: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.category = category
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of the error reply."""
        out: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.category is not None:
            out["category"] = self.category
        out.update(self.extra)
        return out


def bad_field(field: str, message: str) -> ApiError:
    """A 400 validation error naming ``field`` (a dotted/indexed path into the body)."""
    return ApiError(400, f"{field}: {message}", field=field, category="user")


def not_found(message: str) -> ApiError:
    """A 404 error with category user."""
    return ApiError(404, message, category="user")


class OpFailure(Exception):
    """Raised inside a queued operation to fail its future with a message and category."""

    def __init__(self, message: str, category: str = "user") -> None:
        super().__init__(message)
        self.message = message
        self.category = category
