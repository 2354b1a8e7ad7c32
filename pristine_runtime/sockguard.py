"""Deadline guards: a real-time timer that shuts a socket down when a call's time runs out.

A socket read with a timeout only bounds *one* read: a server that sends one byte of its status
line, headers or body every half second never trips it. A :class:`DeadlineGuard` bounds the
whole exchange instead. It watches the socket an attempt uses and, when its budget (real
seconds) runs out, shuts that socket down from the watchdog's timer thread; the read blocked on
it returns at once and the caller, seeing :attr:`DeadlineGuard.fired`, reports the deadline.

How the socket is found. The default transport mounts :class:`GuardedAdapter`-style pools whose
connections (:class:`GuardedHTTPConnection`, :class:`GuardedHTTPSConnection`) report their
socket to the guard active on the current thread (:func:`guarding`) when they connect, send a
request or start reading a response. So the guard covers connecting (once connected), sending,
the status line and headers, and (while still active) the body. A streamed body read later,
outside the transport, is guarded with :meth:`DeadlineGuard.watch_response`.

The guard's timer runs on a :class:`~pristine_runtime.scheduler.Scheduler` on the real clock
(``max_workers=0``: one thread, started on first use, joined when its owner closes).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from pristine_runtime.handle import Handle
from pristine_runtime.scheduler import Scheduler

_local = threading.local()


def shutdown(sock: socket.socket) -> None:
    """Shut ``sock`` down both ways, waking any thread blocked reading it (closed: no-op)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def socket_of(response: Any) -> socket.socket | None:
    """The socket under a response that wraps another in ``_raw`` (pristine-core's), a
    ``requests.Response`` or a urllib3 response, if it still has one (None once released, or for a
    non-socket transport)."""
    current = getattr(response, "_raw", None) or response  # a pipeline Response wraps requests'
    inner = getattr(current, "raw", current)  # requests' wraps urllib3's
    connection = getattr(inner, "connection", None) or getattr(inner, "_connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


class DeadlineGuard:
    """Shuts the watched socket down once ``budget_s`` real seconds have passed.

    ``watch(sock)`` (re)targets the guard at a socket; :meth:`stop` calls the timer off.
    :attr:`fired` tells whether the deadline struck (a read error after it means "timed out").
    Thread-safe: the timer thread and the reading thread share it.
    """

    def __init__(self, watchdog: Scheduler, budget_s: float) -> None:
        self.watchdog = watchdog
        self.ends = time.monotonic() + max(budget_s, 0.0)
        self.fired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._handle: Handle | None = None
        self._stopped = False

    @property
    def remaining_s(self) -> float:
        """Real seconds left before the guard fires (0 when it is due)."""
        return max(self.ends - time.monotonic(), 0.0)

    def watch(self, sock: socket.socket | None) -> None:
        """Watch ``sock`` from now on (no-op for None or the socket already watched)."""
        if sock is None:
            return
        with self._lock:
            if self._stopped or sock is self._sock:
                return
            self._sock = sock
            if self.fired:  # already late: cut the new socket at once
                shutdown(sock)
                return
            if self._handle is None:
                self._handle = self.watchdog.call_later(self.remaining_s, self._fire, name="call-deadline")

    def watch_response(self, response: Any) -> None:
        """Watch the socket under a (streamed) response (see :func:`socket_of`)."""
        self.watch(socket_of(response))

    def _fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.fired = True
            sock = self._sock
        if sock is not None:
            shutdown(sock)

    def stop(self) -> None:
        """Call the timer off (the socket stays usable unless the guard already fired)."""
        with self._lock:
            self._stopped = True
            handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()


def active_guard() -> DeadlineGuard | None:
    """The guard set on this thread by :func:`guarding` (None outside one)."""
    return getattr(_local, "guard", None)


@contextmanager
def guarding(guard: DeadlineGuard | None) -> Iterator[DeadlineGuard | None]:
    """Make ``guard`` the one connections on this thread report their sockets to."""
    previous = active_guard()
    _local.guard = guard
    try:
        yield guard
    finally:
        _local.guard = previous


def _report(connection: HTTPConnection) -> None:
    guard = active_guard()
    if guard is not None:
        sock = connection.sock
        if isinstance(sock, socket.socket):
            guard.watch(sock)


class _ReportsSocket:
    """Mixed into a urllib3 connection class: report the socket to the thread's guard whenever
    the connection connects, sends or waits for a response (a reused socket is reported too)."""

    def connect(self) -> None:
        """Connect (and handshake, for TLS), then report the socket."""
        super().connect()  # type: ignore[misc]
        _report(self)  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        """Report the (reused) socket, then send the request."""
        _report(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        """Report the socket, then read the status line and headers."""
        _report(self)  # type: ignore[arg-type]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class GuardedHTTPConnection(_ReportsSocket, HTTPConnection):
    """A urllib3 connection that reports its socket to the thread's :class:`DeadlineGuard`."""


class GuardedHTTPSConnection(_ReportsSocket, HTTPSConnection):
    """The TLS twin of :class:`GuardedHTTPConnection`."""


class GuardedHTTPPool(HTTPConnectionPool):
    """An HTTP connection pool of :class:`GuardedHTTPConnection`."""

    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSPool(HTTPSConnectionPool):
    """An HTTPS connection pool of :class:`GuardedHTTPSConnection`."""

    ConnectionCls = GuardedHTTPSConnection


#: The pool classes a guarded ``PoolManager`` uses (``pool_classes_by_scheme``).
GUARDED_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}
