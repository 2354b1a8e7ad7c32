"""Errors of the streaming plugin and the mapping of mid-body read failures to Pristine errors.

The core's transport maps failures while *sending* a request; a streamed body is read later,
straight from urllib3, so its failures (reset connection, truncated chunked body, read timeout)
are mapped here.
"""

from __future__ import annotations

import functools
import http.client

from pristine_core.errors import APIConnectionError, APITimeoutError
from pristine_core.pipeline import Response
from pristine_runtime.secrets import redact


@functools.cache
def read_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that reading a streamed body may raise when the connection fails.

    Used as ``except read_errors() as exc:`` (the expression runs only when something was
    raised), so importing this plugin does not import requests and urllib3.
    """
    import requests
    import urllib3.exceptions

    return (urllib3.exceptions.HTTPError, http.client.HTTPException, requests.RequestException, OSError)


@functools.cache
def _timeouts() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3.exceptions

    return (urllib3.exceptions.TimeoutError, requests.Timeout, TimeoutError)


NO_ID = "no_id"
EXHAUSTED = "exhausted"
DISABLED = "disabled"


class StreamInterruptedError(APIConnectionError):
    """A stream broke off and could not be resumed.

    :attr:`reason` says why: ``"no_id"`` (events were received but the server never sent an
    ``id:``, so a reconnect could only replay the stream from the start), ``"exhausted"``
    (``max_reconnects`` used up) or ``"disabled"`` (reconnecting is turned off).
    :attr:`last_event_id`, :attr:`events` (events received) and :attr:`reconnects` describe
    the stream at that point; the underlying error is ``__cause__``. Not retryable: calling the
    endpoint again starts the stream over.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        last_event_id: str = "",
        events: int = 0,
        reconnects: int = 0,
        method: str = "",
        url: str = "",
    ) -> None:
        self.reason = reason
        self.last_event_id = last_event_id
        self.events = events
        self.reconnects = reconnects
        super().__init__(message, method=method, url=url)


def read_error(exc: BaseException, response: Response) -> APIConnectionError:
    """The Pristine error for ``exc``, raised while reading the body of ``response``."""
    request = response.request
    method = request.method if request is not None else ""
    url = redact(response.url or (request.url if request is not None else ""))
    if isinstance(exc, _timeouts()):
        return APITimeoutError(f"stream read timed out: {method} {url}", method=method, url=url)
    return APIConnectionError(
        f"connection lost while streaming: {method} {url}: {type(exc).__name__}", method=method, url=url
    )
