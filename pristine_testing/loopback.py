"""Test helpers for Pristine and plugin authors: a scripted loopback HTTP server.

``LoopbackServer`` runs a real ``ThreadingHTTPServer`` on 127.0.0.1 (free port) and answers each
request with a handler function; every request it saw is recorded. Use it as a context manager
so the server thread is always stopped. ``refused_port()`` gives a port whose connections are refused.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs


@attrs.frozen
class SeenRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        """A header value, case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@attrs.define
class Reply:
    """What the server sends back. ``body`` may be bytes, str, a JSON-able value, or an
    iterable of byte chunks (sent as they come, with chunked transfer encoding)."""

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] = attrs.Factory(dict)
    reset: bool = False


Handler = Callable[[SeenRequest], Reply]


def json_reply(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON reply."""
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 for tests; ``url`` is its base URL."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda request: json_reply({}))
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = _read_chunked(self.rfile)
                else:
                    body = self.rfile.read(length) if length else b""
                seen = SeenRequest(self.command, self.path, dict(self.headers.items()), body)
                with owner._lock:
                    owner.requests.append(seen)
                reply = owner.handler(seen)
                if reply.reset:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                data = reply.body
                if isinstance(data, (bytes, bytearray, str)) or data is None or not isinstance(data, Iterable):
                    payload = _to_bytes(data)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in data:
                    if chunk:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="loopback-server", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> LoopbackServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    """Client disconnects are part of the tests; do not print tracebacks for them."""

    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def _to_bytes(data: Any) -> bytes:
    if data is None:
        return b""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode()
    return json.dumps(data).encode()


def _read_chunked(rfile: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(rfile.readline().strip().split(b";")[0], 16)
        if size == 0:
            rfile.readline()
            return b"".join(parts)
        parts.append(rfile.read(size))
        rfile.readline()


@contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port where every connection is refused, for as long as the block runs.

    The port stays bound (without listening) until the block ends, so no other server of the test
    run can take it in between: a port that was merely free a moment ago may be reused by a
    parallel test's server, and a call meant to be refused then reaches that server.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])
