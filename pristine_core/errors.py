"""The one exception hierarchy of Pristine.

``PristineError`` is the root. Every error knows whether retrying the same call may succeed
(:attr:`PristineError.retryable`) and which side is at fault (:attr:`PristineError.category`:
``"user"``, ``"server"`` or ``"unknown"``). All errors pickle, and none carries a secret in its
message: messages pass through :func:`pristine_runtime.secrets.redact`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pristine_runtime.secrets import redact, redact_headers

USER = "user"
SERVER = "server"
UNKNOWN = "unknown"


class PristineError(Exception):
    """Root of every error raised by Pristine and its plugins."""

    retryable: bool = False
    category: str = UNKNOWN

    def __init__(self, message: str) -> None:
        self.message = redact(str(message))
        super().__init__(self.message)

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[PristineError], state: dict[str, Any]) -> PristineError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class ManifestError(PristineError):
    """A manifest is invalid; :attr:`problems` lists ``(json_path, message)`` pairs, all of them."""

    category = USER

    def __init__(self, problems: Sequence[tuple[str, str]], source: str = "manifest") -> None:
        self.problems = [(str(p), str(m)) for p, m in problems]
        self.source = source
        lines = "\n".join(f"  {path}: {msg}" for path, msg in self.problems)
        super().__init__(f"invalid {source} ({len(self.problems)} problem(s)):\n{lines}")


class ValidationError(PristineError, ValueError):
    """Caller input does not match the declared type; raised before any request is sent.

    :attr:`errors` lists ``(field_path, message)`` pairs such as ``("data[0].weights", "expected
    a number")``.
    """

    category = USER

    def __init__(self, errors: Sequence[tuple[str, str]], type_name: str = "") -> None:
        self.errors = [(str(p), str(m)) for p, m in errors]
        self.type_name = type_name
        where = f" for {type_name}" if type_name else ""
        body = "; ".join(f"{path or '<root>'}: {msg}" for path, msg in self.errors)
        super().__init__(f"invalid input{where}: {body}")


class PluginLoadError(PristineError):
    """A plugin failed to load while ``PRISTINE_STRICT_PLUGINS=1`` (or ``strict_plugins=True``)."""


class APIError(PristineError):
    """An HTTP API call failed."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(message)


class APIConnectionError(APIError):
    """The request never produced an HTTP response (refused, reset, DNS, TLS...)."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIResponseValidationError(APIError):
    """The server answered 2xx but the body does not match the declared response type."""

    category = SERVER

    def __init__(self, message: str, *, body: Any = None, errors: Sequence[tuple[str, str]] = ()):
        self.body = body
        self.errors = list(errors)
        super().__init__(message)


class APIStatusError(APIError):
    """The server answered with a non-success status."""

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        self.status_code = status_code
        self.body = body
        #: Response headers, secret-bearing ones (and any echoed registered secret) redacted.
        self.headers = redact_headers(headers or {})
        self.request_id = request_id
        super().__init__(message, method=method, url=url)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """True for 408, 409, 429 and 5xx, unless the server said ``x-should-retry``."""
        hint = {k.lower(): v for k, v in self.headers.items()}.get("x-should-retry")
        if hint in ("true", "false"):
            return hint == "true"
        return self.status_code in (408, 409, 429) or self.status_code >= 500

    @property
    def category(self) -> str:  # type: ignore[override]
        """``server`` for 5xx, ``user`` for other 4xx except 408 and 429, else ``unknown``."""
        if self.status_code >= 500:
            return SERVER
        if 400 <= self.status_code < 500 and self.status_code not in (408, 429):
            return USER
        return UNKNOWN


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PaymentRequiredError(APIStatusError):
    """HTTP 402 (billing pause)."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class RequestTimeoutError(APIStatusError):
    """HTTP 408."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class GoneError(APIStatusError):
    """HTTP 410."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class InternalServerError(APIStatusError):
    """HTTP 5xx."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    410: GoneError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Return the :class:`APIStatusError` subclass for ``status_code``."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


class RequestFailedError(APIError):
    """A server-side operation finished with an error; :attr:`category` says whose fault."""

    def __init__(self, message: str, *, request_id: str | None = None, category: str = UNKNOWN):
        self.request_id = request_id
        self._category = category if category in (USER, SERVER) else UNKNOWN
        super().__init__(message)

    @property
    def category(self) -> str:  # type: ignore[override]
        """``user``, ``server`` or ``unknown``, as the server reported it."""
        return self._category

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """Server-side failures may succeed on a new submission; user errors never do."""
        return self._category == SERVER


class BackoffPending(PristineError):
    """A request was not (or not successfully) sent because its pool is backing off, and its
    caller asked not to wait (per-call option ``defer_backoff``): send it again after
    ``delay_s`` seconds, from a timer rather than a sleeping thread. The server accepted nothing."""

    def __init__(self, delay_s: float, pool: str = "") -> None:
        self.delay_s = max(float(delay_s), 0.0)
        self.pool = pool
        super().__init__(f"pool {pool!r} is backing off: send again in {self.delay_s:.3g} s")
