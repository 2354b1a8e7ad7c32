"""Fixtures for the session plugin tests: a manifest builder, a scripted loopback API, clients.

The manifest deliberately uses non-Tinker names (``sid``, ``session_ref``) so that the tests
prove the plugin reads everything from the feature block.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pristine_core import Client, FakeClock
from pristine_plugins.session import THREAD_NAME, SessionPlugin, default_scheduler
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

SESSION_BLOCK: dict[str, Any] = {
    "create_endpoint": "sessions.open",
    "heartbeat_endpoint": "sessions.ping",
    "interval_s": 10,
    "heartbeat_timeout_s": 0.5,
    "warn_after_s": 30,
    "id_field": "sid",
    "inject_field": "session_ref",
    "create_body": {"sdk": "test-sdk/1", "labels": ["static"]},
    "body_from_config": {"meta": "user_metadata", "project": "project_id", "labels": "tags"},
    "counters": ["model_seq", "sampler_seq"],
}


def manifest(**session_changes: Any) -> dict[str, Any]:
    """A small API with a session feature; ``session_changes`` edit the block (None deletes)."""
    block = copy.deepcopy(SESSION_BLOCK)
    for key, value in session_changes.items():
        if value is None:
            block.pop(key, None)
        else:
            block[key] = value
    return {
        "name": "sessiontest",
        "base_url": "http://127.0.0.1:9",
        "defaults": {"timeout_s": 5},
        "retry_policies": {"eager": {"max_retries": 4, "base_delay_s": 0.01, "max_delay_s": 0.01, "jitter": 0}},
        "types": {
            "OpenRequest": {
                "type": "object",
                "properties": {
                    "sdk": {"type": "string"},
                    "labels": {"type": "array", "items": {"type": "string"}},
                    "meta": {"type": "object", "additionalProperties": {"type": "any"}},
                    "project": {"type": "string", "nullable": True},
                },
                "required": ["sdk"],
            },
            "OpenResponse": {
                "type": "object",
                "properties": {"sid": {"type": "string"}, "notice": {"type": "string", "nullable": True}},
                "required": ["sid"],
            },
            "PingRequest": {
                "type": "object",
                "properties": {"session_ref": {"type": "string"}, "kind": {"type": "string", "const": "ping"}},
                "required": ["session_ref"],
            },
            "Job": {
                "type": "object",
                "properties": {"session_ref": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["session_ref"],
            },
            "Plain": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
        "resources": {
            "sessions": {
                "open": {"method": "POST", "path": "/open", "request": "OpenRequest", "response": "OpenResponse"},
                "ping": {"method": "POST", "path": "/ping", "request": "PingRequest", "retry": "eager"},
            },
            "work": {
                "job": {"method": "POST", "path": "/job", "request": "Job"},
                "plain": {"method": "POST", "path": "/plain", "request": "Plain"},
            },
        },
        "features": {"session": block},
    }


class FakeAPI:
    """Server side: answers ``/open`` with a session id and ``/ping`` as :attr:`ping_status` says."""

    def __init__(self) -> None:
        self.ping_status = 200
        self.ping_delay = threading.Event()  # set: pings hang until released
        self.release = threading.Event()
        self.opened = 0
        self.lock = threading.Lock()

    def __call__(self, request: SeenRequest) -> Reply:
        if request.path == "/open":
            with self.lock:
                self.opened += 1
                sid = f"sess-{self.opened}"
            return json_reply({"sid": sid, "notice": "welcome"})
        if request.path == "/ping":
            if self.ping_delay.is_set():
                self.release.wait(5)
            return json_reply({"ok": self.ping_status < 300}, status=self.ping_status)
        return json_reply({"echo": request.json()})


@pytest.fixture
def api() -> FakeAPI:
    """The scripted server behaviour."""
    return FakeAPI()


@pytest.fixture
def server(api: FakeAPI) -> Iterator[LoopbackServer]:
    """A loopback server running :class:`FakeAPI`."""
    with LoopbackServer(api) as srv:
        yield srv
    api.release.set()


@pytest.fixture
def clock() -> FakeClock:
    """A manual clock."""
    return FakeClock()


@pytest.fixture
def make_client(
    server: LoopbackServer, clock: FakeClock, client_factory: Callable[..., Client]
) -> Callable[..., Client]:
    """Build clients on the loopback server (fake clock unless given); ``client_factory`` closes them."""

    def build(doc: dict[str, Any] | None = None, *, plugins: list[Any] | None = None, **kwargs: Any) -> Client:
        kwargs.setdefault("clock", clock)
        return client_factory(
            doc or manifest(), base_url=server.url, plugins=[SessionPlugin(), *(plugins or [])], **kwargs
        )

    return build


def heartbeat_threads() -> list[threading.Thread]:
    """Live threads of the process-wide heartbeat scheduler."""
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


@pytest.fixture(name="manifest")
def manifest_fixture() -> Callable[..., dict[str, Any]]:
    """The manifest builder (tests cannot import this conftest under --import-mode=importlib)."""
    return manifest


@pytest.fixture(name="heartbeat_threads")
def heartbeat_threads_fixture() -> Callable[[], list[threading.Thread]]:
    """A function listing the live heartbeat threads."""
    return heartbeat_threads


@pytest.fixture
def pings(server: LoopbackServer) -> Callable[[], list[SeenRequest]]:
    """A function listing the heartbeat requests the server saw so far."""
    return lambda: [r for r in list(server.requests) if r.path == "/ping"]


@pytest.fixture(autouse=True)
def no_heartbeat_leak() -> Iterator[None]:
    """Every test must leave the process-wide scheduler empty and its thread gone."""
    yield
    assert not default_scheduler().jobs
    assert not heartbeat_threads()
