"""The HTTP transport: a stdlib ThreadingHTTPServer (thread per connection) writing replies.

Shutdown is clean: keep-alive connections are tracked and shut down so their handler threads
leave ``readline``; ``server_close`` then joins every handler thread (non-daemon threads,
``block_on_close``).
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from .app import App
from .futures import dumps
from .replies import EmptyReply, JsonReply, Reply, SseReply, StreamReply

log = logging.getLogger(__name__)

MAX_BODY = 512 << 20


class EmulatorHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that joins its threads on close and can drop idle connections."""

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, then hand it to a new thread."""
        with self._open_lock:
            self._open.add(request)
        try:  # replies are written as header + body; without this Nagle adds ~40 ms per reply
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection and close it."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Shut down every open connection (wakes handler threads idling on keep-alive)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class RequestHandler(BaseHTTPRequestHandler):
    """Reads one request body, asks the App for a reply and writes it (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "TinkexEmulator/1"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: EmulatorHTTPServer

    def version_string(self) -> str:
        """The Server header."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Access log at DEBUG level only."""
        log.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self._write(JsonReply({"error": "body: unreadable request body", "field": "body"}, 400))
            self.close_connection = True
            return
        headers = cast(Mapping[str, str], self.headers)
        reply = self.server.app.handle(self.command, self.path, headers, body)
        if reply is None:
            self._reset()
            return
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _reset(self) -> None:
        """Drop the connection without a reply (abortive close)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _head(self, status: int, content_type: str | None, length: int | None,
              headers: dict[str, str]) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write(self, reply: Reply) -> None:
        if isinstance(reply, JsonReply):
            data = reply.encoded()
            self._head(reply.status, "application/json", len(data), reply.headers)
            self.wfile.write(data)
        elif isinstance(reply, EmptyReply):
            self._head(reply.status, None, 0, reply.headers)
        elif isinstance(reply, StreamReply):
            self._head(reply.status, reply.content_type, reply.length, reply.headers)
            try:
                for chunk in reply.chunks:
                    self.wfile.write(chunk)
            finally:
                _close(reply.chunks)
        elif isinstance(reply, SseReply):
            self._head(200, "text/event-stream; charset=utf-8", None,
                       {"Cache-Control": "no-cache", **reply.headers})
            try:
                for event, payload in reply.events:
                    self.wfile.write(b"event: " + event.encode() + b"\ndata: " + dumps(payload) + b"\n\n")
                    self.wfile.flush()
            finally:
                _close(reply.events)


def _close(iterable: object) -> None:
    """Close a generator left unfinished (a client that went away)."""
    close = getattr(iterable, "close", None)
    if callable(close):
        close()
