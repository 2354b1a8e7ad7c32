"""The transport: a protocol, and the default requests/urllib3 implementation.

A :class:`Transport` sends one :class:`~pristine_core.pipeline.Request` and returns its
:class:`~pristine_core.pipeline.Response`, mapping failures to
:class:`~pristine_core.errors.APIConnectionError` / :class:`~pristine_core.errors.APITimeoutError`.
Pass your own with ``Client(transport=...)`` (tests inject faults this way).

:class:`RequestsTransport` keeps one ``requests.Session`` per pool name, urllib3 retries off (only
the retry plugin retries). A pool's connection count is 10 unless someone (the pool plugin, from
``pools.<name>.connections``) calls :meth:`RequestsTransport.set_pool_size` before first use.

Deadlines. ``send(request, budget_s=...)`` bounds one attempt by what is left of its call's
deadline: socket timeouts never exceed it, and the whole exchange (sending, status line,
headers and, for a non-streamed response, the body) runs under a
:class:`~pristine_runtime.sockguard.DeadlineGuard` (a timer on a
:class:`~pristine_runtime.scheduler.Scheduler` on the real clock) that shuts the connection down
when the budget runs out, so a server dripping bytes cannot hold a call past its deadline; the
attempt then raises :class:`APITimeoutError`. The timer is the one given as ``watchdog=`` (a
client passes its ``client.meta.watchdog``, so it runs one such thread in all); a transport given
none starts its own on the first guarded send and closes only that one. A streamed body is read
after ``send`` returns: whoever reads it guards it (the streaming plugin does, see
``pristine_plugins.streaming``). Requests that can never succeed (an invalid URL scheme or host)
raise a non-retryable :class:`APIConnectionError`.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pristine_core.errors import APIConnectionError, APITimeoutError
from pristine_core.limits import DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLargeError
from pristine_core.logs import get_logger
from pristine_core.manifest.claims import CoreOptions
from pristine_core.pipeline import Request, Response
from pristine_runtime.clock import SYSTEM_CLOCK
from pristine_runtime.scheduler import Scheduler
from pristine_runtime.secrets import Secret, SecretHeaders, echoes_secret, redact
from pristine_runtime.sockguard import GUARDED_POOLS, DeadlineGuard, guarding

NO_RETRIES = Retry(total=0, connect=0, read=False, redirect=0, status=0, raise_on_status=False)
#: The shortest socket timeout given to an attempt near its deadline.
_MIN_TIMEOUT_S = 0.001


def deadline_exceeded(request: Request, budget_s: float | None = None) -> APITimeoutError:
    """The error of a call that reached its deadline (``budget_s``: the attempt's share of it)."""
    spent = f" (attempt budget {budget_s:.3g}s)" if budget_s is not None else ""
    return APITimeoutError(
        f"call deadline reached{spent}: {request.method} {redact(request.url)}",
        method=request.method,
        url=redact(request.url),
    )


def response_cap(request: Request) -> int:
    """The response size cap of ``request``: per call option, endpoint, manifest default, library."""
    call = request.call
    if call is not None:
        explicit = call.settings_of(CoreOptions).max_response_bytes
        for cap in (explicit, call.endpoint.max_response_bytes, call.client.meta.manifest.defaults.max_response_bytes):
            if cap is not None:
                return cap
    return DEFAULT_MAX_RESPONSE_BYTES


def read_capped(raw: requests.Response, cap: int, request: Request) -> bytes:
    """Read the whole body, refusing (and dropping the connection) once it exceeds ``cap`` bytes."""
    url = redact(request.url)
    length = raw.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raw.close()
        raise ResponseTooLargeError(cap, method=request.method, url=url)
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_content(1 << 16):
        size += len(chunk)
        if size > cap:
            raw.close()
            raise ResponseTooLargeError(cap, method=request.method, url=url)
        chunks.append(chunk)
    content = b"".join(chunks)
    raw._content = content  # keep requests' own accessors working
    raw._content_consumed = True
    return content


_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)


class InvalidURLError(APIConnectionError):
    """The URL cannot be sent at all (no or unknown scheme, bad host): never retried."""

    retryable = False
    category = "user"


def _failure(
    exc: BaseException, request: Request, timeout: float, budget_s: float | None, clipped: bool, fired: bool
) -> APIConnectionError:
    """The typed error of a failed attempt: a bad URL, the call's deadline (the guard fired, or a
    timeout clipped to the deadline struck), a timeout, or another connection failure."""
    method, url = request.method, redact(request.url)
    if isinstance(exc, _BAD_URL):
        reason = f"{type(exc).__name__} (base URLs look like http://host:port)"
        return InvalidURLError(f"invalid URL {url!r}: {reason}", method=method, url=url)
    if fired or (clipped and isinstance(exc, requests.Timeout)):
        return deadline_exceeded(request, budget_s)
    if isinstance(exc, requests.Timeout):
        return APITimeoutError(f"request timed out after {timeout:g}s: {method} {url}", method=method, url=url)
    parts = urllib.parse.urlsplit(request.url)
    hint = f" (is the server running at {parts.scheme}://{parts.netloc}?)" if _refused(exc) else ""
    return APIConnectionError(f"connection error: {method} {url}: {type(exc).__name__}{hint}", method=method, url=url)


def _refused(exc: BaseException) -> bool:
    """True when the connection was refused (nothing listens), however deeply wrapped."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError) or "Connection refused" in str(item):
            return True
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
    return False


def _detached(exc: BaseException) -> BaseException:
    """A copy of a transport exception without its request/response (only a redacted message)."""
    kind, message = type(exc), redact(str(exc))
    try:
        copy: BaseException | None = kind(message)
    except Exception:
        copy = None
    if copy is None or getattr(copy, "request", None) is not None or getattr(copy, "response", None) is not None:
        return OSError(f"{kind.__name__}: {message}")
    return copy


@runtime_checkable
class Transport(Protocol):
    """What a client sends through: ``send`` one request, ``close`` when the client closes.

    ``send`` reads the whole body unless ``request.stream`` is true, and raises only
    :class:`~pristine_core.errors.APIConnectionError` or its subclasses.
    """

    def send(self, request: Request, budget_s: float | None = None) -> Response:
        """Send ``request`` once and return the response, whatever its status; ``budget_s`` (real
        seconds left of the call's deadline, None: no deadline) bounds the attempt."""
        ...

    def close(self) -> None:
        """Release connections; later sends fail with APIConnectionError."""
        ...


def _secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def _plain(url: str | Secret) -> str:
    return url.reveal() if isinstance(url, Secret) else url


def _proxy_url(url: str | Secret) -> str | Secret:
    """A proxy URL as held: a :class:`Secret` when it carries credentials (``user:pass@``)."""
    if isinstance(url, Secret):
        return url
    return Secret(url) if "@" in urllib.parse.urlsplit(url).netloc else url


class RequestsTransport:
    """The default :class:`Transport`: requests sessions per pool, urllib3 retries off.

    Proxy headers (``Proxy-Authorization: Basic ...``) and proxy URLs (which may carry
    ``user:password@``) are held as :class:`~pristine_runtime.secrets.Secret` values, revealed only
    when a session or a proxy connection is built: the transport's ``repr``, ``vars()``, a
    debugger's view and a log line never show them.

    ``watchdog``: the real-time timer of the deadline guards, or a function giving it (asked once,
    on the first guarded send). Its owner closes it: :meth:`close` leaves it running. Without one
    the transport starts its own on the first guarded send and :meth:`close` joins it.
    """

    def __init__(
        self,
        pools: Mapping[str, int] | None = None,
        *,
        proxies: Mapping[str, str | Secret] | None = None,
        verify: bool | str = True,
        connect_timeout_s: float = 5.0,
        proxy_headers: Mapping[str, str | Secret] | None = None,
        host_pools: int | None = None,
        default_connections: int | None = None,
        watchdog: Scheduler | Callable[[], Scheduler] | None = None,
    ) -> None:
        self._pools = dict(pools or {})
        self._proxy_headers = SecretHeaders({}, {name: _secret(v) for name, v in (proxy_headers or {}).items()})
        self._host_pools = host_pools or 4
        self._default_connections = default_connections or 10
        self._proxies = {scheme: _proxy_url(url) for scheme, url in (proxies or {}).items()}
        self._verify = verify
        self._connect_timeout_s = connect_timeout_s
        self._sessions: dict[str, requests.Session] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._watchdog: Scheduler | None = watchdog if isinstance(watchdog, Scheduler) else None
        #: Who gives the watchdog; None: the transport starts (and so closes) its own.
        self._watchdog_source = (lambda: watchdog) if isinstance(watchdog, Scheduler) else watchdog

    def watchdog(self) -> Scheduler:
        """The real-time timer that enforces call deadlines on sockets: the one given to the
        constructor, else one of the transport's own (one thread, started on first use, joined by
        :meth:`close`)."""
        found = self._watchdog
        if found is not None:
            return found
        with self._lock:
            if self._watchdog is None:
                if self._watchdog_source is not None:
                    self._watchdog = self._watchdog_source()
                else:
                    self._watchdog = Scheduler(
                        SYSTEM_CLOCK, max_workers=0, name="pristine-watchdog-transport", log=get_logger(__name__)
                    )
            return self._watchdog

    def set_pool_size(self, pool: str, connections: int) -> None:
        """Size ``pool``'s connection pool (takes effect for sessions created afterwards)."""
        self._pools[pool] = connections

    def session_for(self, pool: str) -> requests.Session:
        """The session of ``pool``, created on first use."""
        session = self._sessions.get(pool)
        if session is not None:
            return session
        with self._lock:
            if self._closed:
                raise APIConnectionError("the client is closed")
            session = self._sessions.get(pool)
            if session is None:
                session = requests.Session()
                session.trust_env = False
                session.proxies.update({scheme: _plain(url) for scheme, url in self._proxies.items()})
                session.verify = self._verify
                adapter = _Adapter(
                    self._proxy_headers,
                    pool_connections=self._host_pools,
                    pool_maxsize=self._pools.get(pool, self._default_connections),
                    max_retries=NO_RETRIES,
                    pool_block=False,
                )
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._sessions[pool] = session
        return session

    def send(self, request: Request, budget_s: float | None = None) -> Response:
        """Send one request and return its response (body read unless ``request.stream``).

        ``budget_s`` (real seconds left of the call's deadline) caps the socket timeouts and bounds
        the whole exchange under a :class:`~pristine_runtime.sockguard.DeadlineGuard`: connecting,
        sending, the status line and headers and, for a non-streamed response, the body.
        """
        session = self.session_for(request.pool)
        started = time.perf_counter()
        failure: APIConnectionError | None = None
        timeout = request.timeout_s if budget_s is None else max(min(request.timeout_s, budget_s), _MIN_TIMEOUT_S)
        clipped = budget_s is not None and timeout < request.timeout_s
        guard = DeadlineGuard(self.watchdog(), budget_s) if budget_s is not None else None
        try:
            with guarding(guard):
                raw = session.request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    data=request.body,
                    timeout=(min(self._connect_timeout_s, timeout), timeout),
                    stream=True,
                    allow_redirects=request.allow_redirects,
                )
                if guard is not None and request.stream:
                    guard.stop()  # the body is read later, by whoever streams it
                if guard is not None and guard.fired:  # struck just as the headers arrived
                    raw.close()
                    raise requests.Timeout("the call deadline passed while reading the headers")
                if request.stream:
                    content = None
                else:
                    echoed = echoes_secret(raw.headers)
                    connection = getattr(raw.raw, "connection", None) if echoed else None
                    content = read_capped(raw, response_cap(request), request)
                    if guard is not None and guard.fired:  # the body may be cut short: never hand it out
                        raw.close()
                        raise requests.Timeout("the call deadline passed while reading the body")
                    if connection is not None:
                        # The pooled connection keeps its last response (headers included): drop it.
                        connection.close()
        except (requests.RequestException, OSError) as exc:
            failure = _failure(exc, request, timeout, budget_s, clipped, guard is not None and guard.fired)
            cause = _detached(exc)
        finally:
            if guard is not None:
                guard.stop()
        if failure is not None:
            # Raised outside the except block: neither __cause__ nor __context__ is the
            # requests exception, which holds the request and its headers (the API key).
            raise failure from cause
        return Response(
            raw.status_code,
            raw.headers,
            content,
            raw=raw,
            elapsed_s=time.perf_counter() - started,
            request=request,
            url=raw.url,
        )

    def __repr__(self) -> str:
        proxied = f" proxies={sorted(self._proxies)}" if self._proxies else ""
        headers = self._proxy_headers.names()
        return f"<RequestsTransport pools={sorted(self._sessions)}{proxied} proxy_headers={headers}>"

    def close(self) -> None:
        """Close every session and the watchdog the transport started (not one it was given);
        later sends fail with APIConnectionError."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = list(self._sessions.values()), {}
            watchdog = self._watchdog if self._watchdog_source is None else None
        for session in sessions:
            session.close()
        if watchdog is not None:
            watchdog.close(1.0)


class _Adapter(HTTPAdapter):
    """An adapter that also sends configured headers to the proxy (CONNECT or absolute-form);
    it keeps them as :class:`~pristine_runtime.secrets.SecretHeaders`."""

    def __init__(self, extra_proxy_headers: SecretHeaders, **kwargs: Any) -> None:
        self._extra_proxy_headers = extra_proxy_headers
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """requests' pool manager, with connections that report to the deadline guard."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(GUARDED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """requests' proxy manager; an HTTP(S) proxy's connections report to the deadline guard
        too (SOCKS proxies keep urllib3's own connections: only per-read timeouts bound them)."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(GUARDED_POOLS)
        return manager

    def proxy_headers(self, proxy: str) -> dict[str, str]:
        """``requests``' own proxy headers plus the configured ones."""
        headers: dict[str, str] = dict(super().proxy_headers(proxy))
        headers.update(self._extra_proxy_headers.reveal())
        return headers
