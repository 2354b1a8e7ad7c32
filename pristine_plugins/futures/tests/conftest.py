"""Fixtures for the futures plugin tests: a test manifest, a scripted loopback server, clients."""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pristine_core import Client, FakeClock, hookimpl
from pristine_plugins.futures import FuturesPlugin
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

ITERATION_HEADER = "X-Test-Iteration"
TYPE_HEADER = "X-Test-Request-Type"


#: A full reply table in the style of a long-polling API (the same rules as Tinkex's manifest):
#: the scripted server below speaks this protocol.
REPLIES: list[dict[str, Any]] = [
    {
        "name": "try again",
        "when": [{"status": "2xx"}, {"path": "type", "equals": "try_again", "ignore_case": True}],
        "then": "retry",
        "delay_ms_path": "retry_after_ms",
        "queue_state": "queue_state",
        "queue_state_reason": "queue_state_reason",
    },
    {
        "name": "metadata only",
        "when": [{"status": "2xx"}, {"path": "status", "equals": "complete_metadata"}],
        "then": "fetch",
        "size": "response_payload_size",
    },
    {"name": "failed", "when": [{"status": "2xx"}, {"path": "status", "equals": "failed"}], "then": "failure"},
    {"name": "error", "when": [{"status": "2xx"}, {"path": "error"}], "then": "failure"},
    {
        "name": "pending",
        "when": [{"status": "2xx"}, {"path": "status", "equals": "pending"}],
        "then": "retry",
        "delay_s": "pending_delay_s",
    },
    {
        "name": "completed",
        "when": [{"status": "2xx"}, {"path": "status", "equals": "completed"}, {"path": "result"}],
        "then": "success",
        "result": "result",
    },
    {
        "name": "blank 400",
        "when": [{"status": 400}, {"text": ["", "http 400", "bad request", "null", "{}"]}],
        "then": "retry",
        "streak": "blank 400",
        "limit": "max_blank_400s",
    },
    {
        "name": "blank 400",
        "when": [{"status": 400}, {"blank": ["message", "error", "detail"]}],
        "then": "retry",
        "streak": "blank 400",
        "limit": "max_blank_400s",
    },
    {
        "name": "long poll ended",
        "when": [{"status": 408}, {"setting": "poll_backoff"}],
        "then": "retry",
        "backoff": True,
        "streak": "slow",
        "queue_state": "queue_state",
        "queue_state_reason": "queue_state_reason",
    },
    {
        "name": "long poll ended",
        "when": [{"status": 408}],
        "then": "retry",
        "queue_state": "queue_state",
        "queue_state_reason": "queue_state_reason",
    },
    {
        "name": "server error",
        "when": [{"status": "5xx"}, {"setting": "poll_backoff"}],
        "then": "retry",
        "backoff": True,
        "streak": "slow",
    },
    {"name": "server error", "when": [{"status": "5xx"}], "then": "retry"},
    {"name": "promise expired", "when": [{"status": 410}], "then": "expired"},
    {"name": "rate limited", "when": [{"status": 429}], "then": "retry", "backoff": True, "streak": "transport"},
    {
        "name": "transport error",
        "when": [{"error": "connection"}],
        "then": "retry",
        "backoff": True,
        "streak": "transport",
    },
    {"name": "error status", "when": [{"status": ["3xx", "4xx", "5xx"]}], "then": "status_error"},
    {"name": "result", "then": "success"},
]


def manifest(pools: dict[str, Any] | None = None, **futures: Any) -> dict[str, Any]:
    """A small API with future endpoints and a retrieve endpoint; ``futures`` patches the block."""
    block = {
        "retrieve_endpoint": "futures.retrieve",
        "poll_timeout_s": 5,
        "max_workers": 4,
        "response_budget_bytes": 1000,
        "backoff_cap_s": 30,
        "max_blank_400s": 3,
        "iteration_header": ITERATION_HEADER,
        "request_type_header": TYPE_HEADER,
        "close_timeout_s": 2,
        "replies": REPLIES,
        "default_replies": False,
    }
    block.update(futures)
    return {
        "name": "jobs-api",
        "version": "1",
        "base_url": "http://127.0.0.1:9",
        "auth": {"header": "X-API-Key"},
        "types": {
            "SubmitRequest": {"type": "object", "properties": {"x": {"type": "integer"}}},
            "RetrieveRequest": {
                "type": "object",
                "properties": {"request_id": {"type": "string"}, "allow_metadata_only": {"type": "boolean"}},
                "required": ["request_id"],
            },
            "JobResult": {
                "type": "object",
                "properties": {"value": {"type": "integer"}, "note": {"type": "string"}},
                "required": ["value"],
            },
        },
        "resources": {
            "jobs": {
                "submit": {
                    "method": "POST",
                    "path": "/jobs",
                    "request": "SubmitRequest",
                    "future": True,
                    "result": "JobResult",
                },
                "submit_untyped": {
                    "method": "POST",
                    "path": "/jobs/untyped",
                    "request": "SubmitRequest",
                    "future": True,
                    "request_type": "Untyped",
                },
            },
            "futures": {"retrieve": {"method": "POST", "path": "/retrieve", "request": "RetrieveRequest"}},
        },
        "pools": pools or {},
        "features": {"futures": block},
    }


Step = Callable[[SeenRequest], Reply]


class FutureServer:
    """A scripted server: ``/jobs*`` mint request ids, ``/retrieve`` plays each id's script.

    ``script(request_id, *replies)`` queues replies for one id; ``default`` answers every id
    with no script left (a function of the request id). Every retrieve request is recorded
    per id in :attr:`polls`.
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.scripts: dict[str, deque[Reply | Step]] = defaultdict(deque)
        self.polls: dict[str, list[SeenRequest]] = defaultdict(list)
        self.default: Callable[[str], Reply] = lambda rid: json_reply({"value": int(rid.lstrip("r") or 0)})
        self.submit_reply: Callable[[str], Reply] | None = None
        self.server = LoopbackServer(self.handle)
        # Until the core's LoopbackServer sets TCP_NODELAY itself (requested in core-requests.md),
        # keep-alive replies wait ~40 ms for a delayed ACK; this keeps the suite fast.
        handler_class = getattr(self.server._server, "RequestHandlerClass", None)
        if handler_class is not None:
            handler_class.disable_nagle_algorithm = True

    def script(self, request_id: str, *replies: Reply | Step) -> None:
        """Queue replies for ``request_id`` (a Reply, or a function of the request)."""
        with self._lock:
            self.scripts[request_id].extend(replies)

    def next_id(self) -> str:
        """The id the next submit will mint."""
        with self._lock:
            return f"r{next(self._ids)}"

    def handle(self, request: SeenRequest) -> Reply:
        if request.path.startswith("/jobs"):
            rid = self.next_id()
            if self.submit_reply is not None:
                return self.submit_reply(rid)
            return json_reply({"request_id": rid})
        if request.path == "/retrieve":
            rid = request.json()["request_id"]
            with self._lock:
                self.polls[rid].append(request)
                queued = self.scripts[rid]
                step = queued.popleft() if queued else None
            if step is None:
                return self.default(rid)
            return step if isinstance(step, Reply) else step(request)
        return json_reply({"detail": "not found"}, 404)

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def make_manifest() -> Callable[..., dict[str, Any]]:
    """``make_manifest(**futures_block_patch)``: the test manifest as a dict."""
    return manifest


@pytest.fixture
def future_server() -> Iterator[FutureServer]:
    """A started :class:`FutureServer`, stopped after the test."""
    scripted = FutureServer()
    with scripted.server:
        yield scripted


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


ClientFactory = Callable[..., Client]


@pytest.fixture
def make_client(fake_clock: FakeClock, client_factory: ClientFactory) -> ClientFactory:
    """Build clients with only the futures plugin (``client_factory`` closes them)."""

    def build(
        base_url: str,
        *,
        futures: dict[str, Any] | None = None,
        pools: dict[str, Any] | None = None,
        extra_plugins: tuple[Any, ...] = (),
        **kwargs: Any,
    ) -> Client:
        kwargs.setdefault("clock", fake_clock)
        kwargs.setdefault("api_key", "test-key-123")
        return client_factory(
            manifest(pools, **(futures or {})), base_url=base_url, plugins=[FuturesPlugin(), *extra_plugins], **kwargs
        )

    return build


def plugin_of(client: Client) -> FuturesPlugin:
    """The futures plugin instance of ``client``."""
    plugin = client.meta.plugin("futures")
    assert isinstance(plugin, FuturesPlugin)
    return plugin


@pytest.fixture
def plugin() -> Callable[[Client], FuturesPlugin]:
    """``plugin(client)``: the futures plugin instance of a client."""
    return plugin_of


class Recorder:
    """An observer recording ``(state, reason)`` calls, and an event sink for ``pristine_on_event``."""

    name = "recorder"
    priority = 10

    def __init__(self) -> None:
        self.changes: list[tuple[str, str | None]] = []
        self.events: list[Any] = []
        self._lock = threading.Lock()

    def on_queue_state_change(self, state: Any, reason: str | None) -> None:
        with self._lock:
            self.changes.append((str(state), reason))

    @hookimpl
    def pristine_on_event(self, event: Any) -> None:
        with self._lock:
            self.events.append(event)

    def named(self, name: str) -> list[Any]:
        with self._lock:
            return [e for e in self.events if e.name == name]


@pytest.fixture
def recorder() -> Recorder:
    """A fresh :class:`Recorder`."""
    return Recorder()
