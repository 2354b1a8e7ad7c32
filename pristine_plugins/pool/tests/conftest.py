"""Fixtures for the pool plugin tests: a manifest factory, a metering loopback server, clients."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pristine_core import Client, hookimpl
from pristine_core.pipeline import Event
from pristine_plugins.pool import PoolPlugin, reset_registry
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

BACKPRESSURE = {
    "statuses": [429],
    "small_delay_s": 1.0,
    "large_delay_s": 5.0,
    "large_payload_bytes": 1000,
    "reduced_concurrency": 2,
    "byte_multiplier": 3.0,
    "window_s": 60.0,
}

BASE_MANIFEST: dict[str, Any] = {
    "name": "pooltest",
    "version": "1",
    "base_url": "http://127.0.0.1:9",
    "auth": {"header": "X-API-Key"},
    "pools": {
        "default": {"connections": 4},
        "work": {"connections": 16, "concurrency": 8},
        "narrow": {"connections": 2, "concurrency": 1},
        "budget": {"connections": 32, "byte_budget": 1000},
        "sample": {"connections": 16, "concurrency": 8, "backpressure": BACKPRESSURE},
    },
    "resources": {
        "jobs": {
            "run": {"method": "POST", "path": "/run", "request": "Payload", "pool": "work"},
            "upload": {"method": "POST", "path": "/upload", "request": "Payload", "pool": "budget"},
            "sample": {
                "method": "POST",
                "path": "/sample",
                "request": "Payload",
                "pool": "sample",
                "backpressure": True,
            },
            "peek": {"method": "POST", "path": "/peek", "request": "Payload", "pool": "sample"},
        }
    },
    "types": {"Payload": {"type": "object", "properties": {"data": {"type": "string"}}}},
}


def make_manifest(**changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`BASE_MANIFEST` with top-level keys replaced; ``pools`` merge by name."""
    manifest = copy.deepcopy(BASE_MANIFEST)
    pools = changes.pop("pools", None)
    if pools:
        manifest["pools"].update(copy.deepcopy(pools))
    manifest.update(copy.deepcopy(changes))
    return manifest


class Meter:
    """Server-side measurement: requests and body bytes being handled at once, and their peaks.

    ``hold_s`` keeps each request in the handler a little while so that requests overlap;
    ``script`` may answer a request instead of the default empty JSON object.
    """

    def __init__(self, hold_s: float = 0.0, script: Callable[[SeenRequest, int], Reply | None] | None = None):
        self.hold_s = hold_s
        self.script = script
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.bytes_current = 0
        self.bytes_peak = 0
        self.count = 0
        self.paths: list[str] = []
        self._together: threading.Barrier | None = None
        self._together_left = 0

    def expect_together(self, n: int) -> None:
        """Make the next ``n`` requests wait in the handler until all ``n`` are there at once.

        This turns "the limit is reached" into a deterministic check: if the client never lets
        ``n`` requests be in flight together, the barrier times out and the requests fail.
        """
        with self._lock:
            self._together = threading.Barrier(n)
            self._together_left = n

    def reset_peaks(self) -> None:
        """Start a new measuring phase."""
        with self._lock:
            self.peak = self.current
            self.bytes_peak = self.bytes_current

    def __call__(self, seen: SeenRequest) -> Reply:
        size = len(seen.body)
        with self._lock:
            self.count += 1
            number = self.count
            self.paths.append(seen.path)
            self.current += 1
            self.bytes_current += size
            self.peak = max(self.peak, self.current)
            self.bytes_peak = max(self.bytes_peak, self.bytes_current)
            together = self._together if self._together_left > 0 else None
            self._together_left -= 1
        try:
            if together is not None:
                together.wait(5)
            if self.hold_s:
                time.sleep(self.hold_s)
            reply = self.script(seen, number) if self.script is not None else None
            return reply if reply is not None else json_reply({})
        finally:
            with self._lock:
                self.current -= 1
                self.bytes_current -= size


class EventLog:
    """A plugin that records every event it observes."""

    name = "event_log"
    priority = 50

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    @hookimpl
    def pristine_on_event(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def named(self, name: str) -> list[Event]:
        """The events called ``name``, in order."""
        with self._lock:
            return [e for e in self.events if e.name == name]


def run_load(
    client: Client,
    threads: int,
    calls: int,
    endpoint: str = "jobs.run",
    data_for: Callable[[int], str] = lambda n: "x",
    options: Any = None,
) -> None:
    """Make ``calls`` calls of ``endpoint`` from ``threads`` threads that start together."""
    barrier = threading.Barrier(threads)
    method = client.meta.endpoint(endpoint)

    def worker(index: int) -> None:
        barrier.wait(5)
        for n in range(index, calls, threads):
            method(data=data_for(n), request_options=options)

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker, i) for i in range(threads)]:
            future.result()


@pytest.fixture
def load() -> Callable[..., None]:
    """:func:`run_load`."""
    return run_load


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    reset_registry()
    yield
    reset_registry()


@pytest.fixture
def manifest_factory() -> Callable[..., dict[str, Any]]:
    """:func:`make_manifest`, for test modules (conftest cannot be imported under importlib mode)."""
    return make_manifest


@pytest.fixture
def meter() -> Meter:
    """A server meter; tests set ``hold_s``/``script`` before sending."""
    return Meter()


@pytest.fixture
def server(meter: Meter) -> Iterator[LoopbackServer]:
    """A loopback server answering through :func:`meter`."""
    with LoopbackServer(meter) as srv:
        yield srv


@pytest.fixture
def make_client(
    client_factory: Callable[..., Client],
) -> Callable[..., Client]:
    """Build clients with the pool plugin (and given extras); ``client_factory`` closes them."""

    def build(manifest: dict[str, Any] | None = None, *, extra: tuple[Any, ...] = (), **kwargs: Any) -> Client:
        kwargs.setdefault("api_key", "sk-test-key-one")
        return client_factory(manifest or make_manifest(), plugins=[PoolPlugin(), *extra], **kwargs)

    return build
