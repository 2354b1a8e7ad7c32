"""The objects that flow through a call: Call, Request, Response, Middleware, Event.

A *call* is one logical invocation of an endpoint (``client.training.forward_backward(...)``);
it may make several *attempts*, each sending one :class:`Request` through the middleware chain
and getting one :class:`Response` back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from pristine_core.limits import loads_bounded
from pristine_core.manifest.models import Endpoint
from pristine_runtime.secrets import redact

if TYPE_CHECKING:
    import requests
    from requests.structures import CaseInsensitiveDict

    from pristine_core.client import Client

T = TypeVar("T")


@attrs.frozen
class RequestOptions:
    """Per-call overrides: pass ``request_options=RequestOptions(...)`` (or a dict) to any endpoint.

    The fields are what the core reads. ``extensions`` carries the options plugins declared
    (``{"max_retries": 5}``, ``{"files": ...}``); each key is checked against its plugin's
    class before anything is sent. In the dict form, plugin keys may sit next to the core ones:
    ``request_options={"timeout_s": 5, "max_retries": 0}``.
    """

    timeout_s: float | None = None
    headers: Mapping[str, str] = attrs.Factory(dict)
    query: Mapping[str, Any] = attrs.Factory(dict)
    pool: str | None = None
    extensions: Mapping[str, Any] = attrs.Factory(dict)


#: The per-call option names the core owns; plugins may not claim them.
CORE_OPTIONS = frozenset(field.name for field in attrs.fields(RequestOptions))


@attrs.define(slots=True, eq=False)
class EncodedBody:
    """A request body ready for the wire: bytes or an iterable of byte chunks (streamed)."""

    data: bytes | Any
    content_type: str | None
    length: int | None = None


@attrs.define(slots=True, eq=False)
class Call:
    """One logical call of an endpoint, shared by all its attempts.

    Plugins read and change it in ``pristine_prepare_call``: ``path_params``, ``query``,
    ``headers`` and ``body`` (a dict of body fields before validation), and keep their own
    per-call data in ``context`` under their plugin name. ``settings_of(cls)`` gives the
    caller's options for a plugin's declared options class; a plugin sets ``stream`` when the
    response body must not be read up front.
    """

    client: Client
    endpoint: Endpoint
    path_params: dict[str, Any]
    query: dict[str, Any]
    headers: dict[str, str]
    body: Any
    options: RequestOptions
    context: dict[str, Any] = attrs.Factory(dict)
    wire_body: Any = None
    encoded: EncodedBody | None = None
    started: float = 0.0
    stream: bool = False
    plugin_options: Mapping[Any, Any] = attrs.Factory(dict)
    #: The per-endpoint hooks and dispatch chain this call runs (a ``runner.Route``; set by the core).
    route: Any = attrs.field(default=None, repr=False)

    def settings_of(self, cls: type[T]) -> T:
        """The caller's per-call options for a plugin's declared options class (defaults applied)."""
        found = self.plugin_options.get(cls)
        return found if found is not None else self.client.meta.schema.option_defaults(cls)

    def __repr__(self) -> str:
        return f"<Call {self.endpoint.qualified_name} {self.endpoint.method} {self.endpoint.path}>"


@attrs.define(slots=True, eq=False)
class Request:
    """One HTTP request about to be sent; middleware may change headers between attempts."""

    method: str
    url: str
    headers: MutableMapping[str, str]
    body: Any
    timeout_s: float
    pool: str
    stream: bool = False
    allow_redirects: bool = True
    attempt: int = 0
    call: Call | None = None
    byte_size: int = 0
    #: When the whole logical call must end, on the client clock's monotonic scale (None: no bound).
    deadline: float | None = None

    def __repr__(self) -> str:
        return f"<Request {self.method} {redact(self.url)} attempt={self.attempt}>"


def _case_insensitive(headers: Mapping[str, str]) -> CaseInsensitiveDict[str]:
    """``headers`` as requests' case-insensitive mapping (imported on first use, so that
    importing this module stays free of requests). One already of that type (the transport's
    ``raw.headers``, which belongs to this response alone) is taken as it is, not copied."""
    global _CaseInsensitiveDict
    if _CaseInsensitiveDict is None:
        from requests.structures import CaseInsensitiveDict

        _CaseInsensitiveDict = CaseInsensitiveDict
    if type(headers) is _CaseInsensitiveDict:
        return headers  # type: ignore[return-value]
    return _CaseInsensitiveDict(headers)


_CaseInsensitiveDict: Any = None


@attrs.define(slots=True, eq=False, repr=False, on_setattr=attrs.setters.NO_OP)
class Response:
    """An HTTP response: status, headers, body, timing and how many attempts it took."""

    status_code: int
    headers: CaseInsensitiveDict[str] = attrs.field(converter=_case_insensitive)
    _content: bytes | None = None
    _raw: requests.Response | None = attrs.field(default=None, kw_only=True)
    elapsed_s: float = attrs.field(default=0.0, kw_only=True)
    attempts: int = attrs.field(default=1, kw_only=True)
    request: Request | None = attrs.field(default=None, kw_only=True)
    url: str = attrs.field(default="", kw_only=True)

    @property
    def content(self) -> bytes:
        """The whole body (read on first access for streamed responses)."""
        if self._content is None:
            self._content = self._raw.content if self._raw is not None else b""
        return self._content

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body)."""
        data = self.content
        return loads_bounded(data) if data.strip() else None

    def iter_bytes(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """Yield the body as it arrives (streamed responses) or in one piece."""
        if self._content is not None or self._raw is None:
            if self.content:
                yield self.content
            return
        raw = self._raw.raw
        read = raw.read1 if hasattr(raw, "read1") else raw.read  # read1: whatever has arrived
        while chunk := read(chunk_size, decode_content=True):
            yield chunk

    def close(self) -> None:
        """Release the connection (needed only for streamed responses not fully read)."""
        if self._raw is not None:
            self._raw.close()

    @property
    def ok(self) -> bool:
        """True for 2xx statuses."""
        return 200 <= self.status_code < 300

    def __repr__(self) -> str:
        return f"<Response {self.status_code} attempts={self.attempts}>"


CallNext = Callable[[Request], Response]
Handler = Callable[[Request, CallNext], Response]


@attrs.frozen
class Middleware:
    """A dispatch step: ``handler(request, call_next) -> Response``; higher priority is outer."""

    name: str
    priority: int
    handler: Handler


def compose(middleware: Sequence[Middleware], transport: CallNext) -> CallNext:
    """Wrap ``transport`` in ``middleware`` so that the highest priority runs outermost."""
    ordered = sorted(middleware, key=lambda m: (-m.priority, m.name))
    chain = transport
    for step in reversed(ordered):
        chain = _bind(step.handler, chain)
    return chain


def _bind(handler: Handler, inner: CallNext) -> CallNext:
    def call(request: Request) -> Response:
        return handler(request, inner)

    return call


@attrs.frozen
class Event:
    """Something that happened, broadcast through ``pristine_on_event`` (telemetry, observers)."""

    name: str
    fields: Mapping[str, Any] = attrs.Factory(dict)
    timestamp: float = attrs.Factory(time.time)
