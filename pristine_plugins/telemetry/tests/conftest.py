"""Fixtures for the telemetry plugin tests: a manifest builder, a scripted sink server, clients.

The manifest uses its own names (``Record``/``Shipment``, batch field ``records``, env var
``PT_TELEMETRY``) so that the tests prove the plugin reads them from the feature block.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pristine_core import Client
from pristine_plugins.telemetry import THREAD_NAME, TelemetryPlugin
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

ENV = "PT_TELEMETRY"

TELEMETRY_BLOCK: dict[str, Any] = {
    "endpoint": "telemetry.ship",
    "env": ENV,
    "batch_size": 10,
    "queue_cap": 1000,
    "flush_interval_s": 60,
    "flush_timeout_s": 0.5,
    "event_type": "Record",
    "batch_type": "Shipment",
    "batch_fields": {"sdk_version": "9.9"},
    "retry_delay_s": 0.05,
}


def manifest(**changes: Any) -> dict[str, Any]:
    """A small API with a telemetry sink; ``changes`` edit the feature block (None deletes)."""
    block = copy.deepcopy(TELEMETRY_BLOCK)
    for key, value in changes.items():
        if value is None:
            block.pop(key, None)
        else:
            block[key] = value
    nullable_str = {"type": "string", "nullable": True}
    return {
        "name": "telemetrytest",
        "base_url": "http://127.0.0.1:9",
        "defaults": {"timeout_s": 5},
        "types": {
            "Record": {
                "type": "object",
                "properties": {
                    "event": {"type": "string", "enum": ["SESSION_START", "SESSION_END", "UNHANDLED_EXCEPTION",
                                                         "GENERIC_EVENT"]},
                    "event_id": {"type": "string"},
                    "event_session_index": {"type": "integer"},
                    "severity": {"type": "string"},
                    "timestamp": {"type": "string"},
                    "event_name": nullable_str,
                    "event_data": {"type": "object", "additionalProperties": {"type": "any"}, "nullable": True},
                    "error_type": nullable_str,
                    "error_message": nullable_str,
                    "traceback": nullable_str,
                    "duration": nullable_str,
                },
                "required": ["event", "event_id", "event_session_index", "severity", "timestamp"],
            },
            "Shipment": {
                "type": "object",
                "properties": {
                    "records": {"type": "array", "items": {"$ref": "Record"}},
                    "sdk_version": nullable_str,
                    "session_id": nullable_str,
                    "platform": nullable_str,
                    "process_uuid": nullable_str,
                },
                "required": ["records"],
            },
            "Job": {"type": "object", "properties": {"n": {"type": "integer"}, "session_id": {"type": "string"}}},
            "OpenRequest": {"type": "object", "properties": {"who": {"type": "string"}}},
            "OpenResponse": {"type": "object", "properties": {"session_id": {"type": "string"}}},
        },
        "resources": {
            "telemetry": {"ship": {"method": "POST", "path": "/telemetry", "request": "Shipment", "timeout_s": 5}},
            "work": {
                "job": {"method": "POST", "path": "/job", "request": "Job"},
                "fail": {"method": "POST", "path": "/fail", "request": "Job"},
            },
            "session": {
                "open": {"method": "POST", "path": "/open", "request": "OpenRequest", "response": "OpenResponse"}
            },
        },
        "features": {"telemetry": block},
    }


class Sink:
    """Server side. ``mode``: "ok", "fail" (HTTP 500), "reject" (HTTP 400), "reset" or "hang".

    ``/fail?status=N`` answers N; ``/open`` creates a session; everything else answers ``{}``.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.fail_first = 0
        self.release = threading.Event()
        self.entered = threading.Event()
        self.lock = threading.Lock()
        self.batches: list[dict[str, Any]] = []
        self.attempts = 0

    def __call__(self, request: SeenRequest) -> Reply:
        if request.path == "/open":
            return json_reply({"session_id": "sess-42"})
        if request.path.startswith("/fail"):
            status = int(request.path.partition("status=")[2] or 500)
            return json_reply({"detail": "nope"}, status=status)
        if request.path != "/telemetry":
            return json_reply({})
        with self.lock:
            self.attempts += 1
            failing = self.attempts <= self.fail_first
        if self.mode == "hang":
            self.entered.set()
            self.release.wait(10)
        if self.mode == "reset" or (failing and self.mode == "ok"):
            return Reply(reset=True)
        if self.mode == "fail":
            return json_reply({}, status=500)
        if self.mode == "reject":
            return json_reply({}, status=400)
        with self.lock:
            self.batches.append(request.json())
        return json_reply({"status": "accepted"})

    def events(self) -> list[dict[str, Any]]:
        """Every delivered event, in delivery order."""
        with self.lock:
            return [e for b in self.batches for e in b["records"]]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` until true or ``timeout`` (real seconds) passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()


def telemetry_threads() -> list[threading.Thread]:
    """Live reporter threads."""
    return [t for t in threading.enumerate() if t.name.startswith(f"{THREAD_NAME}-") and t.is_alive()]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with the toggle variable unset."""
    monkeypatch.delenv(ENV, raising=False)


@pytest.fixture
def sink() -> Sink:
    """The scripted sink behaviour."""
    return Sink()


@pytest.fixture
def server(sink: Sink) -> Iterator[LoopbackServer]:
    """A loopback server running :class:`Sink`; hanging handlers are released before it stops."""
    with LoopbackServer(sink) as srv:
        yield srv
        sink.release.set()
    for thread in telemetry_threads():
        thread.join(10)


@pytest.fixture(name="manifest")
def manifest_fixture() -> Callable[..., dict[str, Any]]:
    """The manifest builder (tests cannot import this conftest under --import-mode=importlib)."""
    return manifest


@pytest.fixture(name="telemetry_threads")
def telemetry_threads_fixture() -> Callable[[], list[threading.Thread]]:
    """A function listing live reporter threads."""
    return telemetry_threads


@pytest.fixture
def make_client(
    server: LoopbackServer, client_factory: Callable[..., Client]
) -> Callable[..., Client]:
    """Build clients on the loopback server with the telemetry plugin; ``client_factory`` closes them."""

    def build(doc: dict[str, Any] | None = None, *, plugins: list[Any] | None = None, **kwargs: Any) -> Client:
        kwargs.setdefault("base_url", server.url)
        return client_factory(doc or manifest(), plugins=[TelemetryPlugin(), *(plugins or [])], **kwargs)

    return build
