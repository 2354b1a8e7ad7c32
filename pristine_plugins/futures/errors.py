"""Errors raised by futures: an expired promise, a future past its deadline and one abandoned at client close."""

from __future__ import annotations

from pristine_core.errors import SERVER, APITimeoutError, GoneError, PristineError


class PromiseExpiredError(GoneError):
    """HTTP 410 from the retrieve endpoint: the server dropped the promise.

    Polling again cannot help; submitting the original request again can, hence ``retryable``.
    :attr:`request_id` is the id of the expired future.
    """

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """Always True: a new submission of the same request may succeed."""
        return True

    @property
    def category(self) -> str:  # type: ignore[override]
        """``server``: the caller did nothing wrong."""
        return SERVER


class FutureClosedError(PristineError):
    """The client was closed before the future resolved; the result was never fetched."""

    retryable = True

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        super().__init__(f"the client was closed before future {request_id} resolved; its result was not retrieved")


class MetadataProtocolError(PristineError):
    """The server broke the two-phase (metadata-only) protocol, e.g. sent the metadata twice."""

    category = SERVER


class FutureDeadlineError(APITimeoutError):
    """The future did not resolve within its overall ``deadline_s``; polling stopped.

    :attr:`request_id` names the server-side request (it may still finish on the server).
    """

    def __init__(self, request_id: str | None, deadline_s: float, endpoint: str = "") -> None:
        self.request_id = request_id
        self.deadline_s = deadline_s
        where = f" ({endpoint})" if endpoint else ""
        super().__init__(f"future {request_id}{where} did not resolve within its deadline of {deadline_s:g}s")
