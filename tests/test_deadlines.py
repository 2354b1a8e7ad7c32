"""Call deadlines: an explicit ``timeout_s`` bounds the whole logical call (attempts, back-off
waits, a slow body), and URLs that can never work fail at once.

The slow-drip and refused-port tests use real time on purpose (their promise is a wall-clock
bound); the others run on a fake clock.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pristine_core import (
    APIConnectionError,
    APITimeoutError,
    Client,
    FakeClock,
    InternalServerError,
    ValidationError,
    hookimpl,
)
from pristine_core.pipeline import Request
from pristine_testing import LoopbackServer, json_reply

#: The default retry policy of the Tinker manifest: 10 retries, delays from 0.5 s up to 10 s.
TINKER_DEFAULT = {"max_retries": 10, "base_delay_s": 0.5, "max_delay_s": 10, "jitter": 0.25}


def manifest(base_url: str, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "deadlines",
        "base_url": base_url,
        "defaults": {"retry": "default", "timeout_s": 60},
        "retry_policies": {"default": policy or TINKER_DEFAULT},
        "types": {"Out": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
        "resources": {"items": {"get": {"method": "GET", "path": "/items", "response": "Out"}}},
    }


class DripServer:
    """Answers every request with headers at once, then one body byte every ``interval_s``.

    With ``headers=True`` it drips the status line and headers instead, one byte at a time.
    """

    def __init__(self, interval_s: float = 0.5, length: int = 1000, *, headers: bool = False) -> None:
        self.interval_s = interval_s
        self.length = length
        self.drip_headers = headers
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept, name="drip-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            worker = threading.Thread(target=self._drip, args=(conn,), daemon=True)
            self.threads.append(worker)
            worker.start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {self.length}\r\n\r\n"
                if self.drip_headers:
                    for byte in head.encode():
                        if self.stop.wait(self.interval_s):
                            return
                        conn.sendall(bytes([byte]))
                    return
                conn.sendall(head.encode())
                for _ in range(self.length):
                    if self.stop.wait(self.interval_s):
                        return
                    conn.sendall(b" ")
            except OSError:
                return  # the client hung up

    def __enter__(self) -> DripServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        for worker in self.threads:
            worker.join(5)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def test_a_slow_drip_body_ends_at_the_deadline(clients: list[Client], capsys: pytest.CaptureFixture[str]) -> None:
    with DripServer(interval_s=0.5) as server:
        client = Client(manifest(server.url), timeout_s=2)
        clients.append(client)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="deadline"):
            client.items.get()
        elapsed = time.monotonic() - started
        watchdog = client.meta.transport._watchdog
    assert elapsed < 3.0, f"a timeout_s=2 call took {elapsed:.2f}s"
    assert elapsed >= 1.9
    client.close()
    assert watchdog is not None and watchdog.closed and watchdog.live_threads() == []
    with capsys.disabled():
        print(f"\n[deadlines] slow drip (1 byte / 0.5 s), timeout_s=2: APITimeoutError after {elapsed:.2f}s wall")


def test_slowly_dripped_headers_end_at_the_deadline(clients: list[Client], capsys: pytest.CaptureFixture[str]) -> None:
    """The status line and headers, one byte every 0.5 s: no single read times out, the call does."""
    before = {t.ident for t in threading.enumerate()}
    with DripServer(interval_s=0.5, headers=True) as server:
        client = Client(manifest(server.url), timeout_s=2)
        clients.append(client)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="deadline"):
            client.items.get()
        elapsed = time.monotonic() - started
        watchdog = client.meta.transport._watchdog
        assert server.accepted == 1  # a deadline is not retried
    assert 1.9 <= elapsed < 3.0, f"a timeout_s=2 call took {elapsed:.2f}s"
    client.close()
    assert watchdog is not None and watchdog.closed and watchdog.live_threads() == []
    assert [t for t in threading.enumerate() if t.ident not in before] == []
    with capsys.disabled():
        print(f"\n[deadlines] header drip (1 byte / 0.5 s), timeout_s=2: APITimeoutError after {elapsed:.2f}s wall")


def test_a_refused_port_with_the_default_policy_ends_within_the_deadline(
    clients: list[Client], capsys: pytest.CaptureFixture[str]
) -> None:
    client = Client(manifest(f"http://127.0.0.1:{free_port()}"), timeout_s=3)
    clients.append(client)
    started = time.monotonic()
    with pytest.raises(APIConnectionError):
        client.items.get()
    elapsed = time.monotonic() - started
    assert elapsed < 4.0, f"a timeout_s=3 call against a refused port took {elapsed:.2f}s"
    with capsys.disabled():
        print(f"\n[deadlines] refused port, 10-retry policy, timeout_s=3: ended after {elapsed:.2f}s wall")


def test_back_off_waits_stop_before_the_deadline_on_a_fake_clock(clients: list[Client]) -> None:
    clock = FakeClock()
    with LoopbackServer(lambda seen: json_reply({}, 503)) as server:
        policy = {"max_retries": 10, "base_delay_s": 0.5, "max_delay_s": 10, "jitter": 0}
        client = Client(manifest(server.url, policy), clock=clock)
        clients.append(client)
        with pytest.raises(InternalServerError):
            client.items.get(request_options={"timeout_s": 5})
        assert clock.sleeps == [0.5, 1.0, 2.0]  # the next wait (4 s) would end after the 5 s deadline
        assert len(server.requests) == 4
        clock.sleeps.clear()
        with pytest.raises(InternalServerError):  # without an explicit timeout: all ten retries
            client.items.get()
        assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0]


def test_a_per_endpoint_timeout_bounds_the_call(clients: list[Client]) -> None:
    clock = FakeClock()
    with LoopbackServer(lambda seen: json_reply({}, 503)) as server:
        spec = manifest(server.url, {"max_retries": 10, "base_delay_s": 1, "max_delay_s": 10, "jitter": 0})
        spec["resources"]["items"]["get"]["timeout_s"] = 4
        client = Client(spec, clock=clock)
        clients.append(client)
        with pytest.raises(InternalServerError):
            client.items.get()
        assert clock.sleeps == [1.0, 2.0]


class TimeTraveller:
    """A plugin that moves the fake clock forward just before each attempt is sent."""

    name = "time_traveller"

    def __init__(self, clock: FakeClock, step_s: float) -> None:
        self.clock = clock
        self.step_s = step_s

    @hookimpl
    def pristine_prepare_attempt(self, request: Request) -> None:
        """Let ``step_s`` pass."""
        self.clock.advance(self.step_s)


def test_an_attempt_that_would_start_after_the_deadline_raises_a_timeout(clients: list[Client]) -> None:
    clock = FakeClock()
    with LoopbackServer(lambda seen: json_reply({"ok": True})) as server:
        slow = Client(manifest(server.url), clock=clock, timeout_s=5, plugins=[TimeTraveller(clock, 6)])
        clients.append(slow)
        with pytest.raises(APITimeoutError, match="deadline"):
            slow.items.get()
        assert server.requests == []  # nothing was sent once the deadline had passed
        fine = Client(manifest(server.url), clock=clock, timeout_s=5, plugins=[TimeTraveller(clock, 4)])
        clients.append(fine)
        assert fine.items.get().ok is True


@pytest.mark.parametrize("base_url", ["http://[::1", "http://127.0.0.1:port"])
def test_a_malformed_base_url_is_a_validation_error_naming_it(base_url: str) -> None:
    """A base URL that cannot be parsed (bad IPv6 brackets, a port that is not a number) is a
    ValidationError naming ``base_url`` when the client is built, not a bare ValueError."""
    with pytest.raises(ValidationError) as caught:
        Client(manifest(base_url), autoload_plugins=False).close()
    assert caught.value.errors[0][0] == "base_url"


@pytest.mark.parametrize("base_url", ["htp://127.0.0.1:1", "http://exa mple.test"])
def test_an_unusable_url_fails_at_once_without_retries(base_url: str, clients: list[Client]) -> None:
    """Refused when the client is built, or else on the first attempt, never retried."""
    clock = FakeClock()
    started = time.monotonic()
    with pytest.raises((ValidationError, APIConnectionError)) as caught:
        client = Client(manifest(base_url), clock=clock, timeout_s=30)
        clients.append(client)
        client.items.get()
    assert getattr(caught.value, "retryable", False) is False
    assert clock.sleeps == [] and time.monotonic() - started < 1.0
