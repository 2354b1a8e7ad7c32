"""Fixtures for the retry plugin tests: a manifest builder, a fake clock, an event recorder and
a client factory that closes every client it made."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses as responses_lib

from pristine_core import Client, FakeClock, hookimpl
from pristine_core.pipeline import Event
from pristine_plugins.retry import RetryPlugin

BASE = "http://api.test"


def base_manifest() -> dict[str, Any]:
    """A small API: one POST and one GET endpoint on policy ``std``, plus breaker-guarded ones."""
    return {
        "name": "retrytest",
        "base_url": BASE,
        "defaults": {"retry": "std", "timeout_s": 5},
        "retry_policies": {
            "std": {"max_retries": 3, "base_delay_s": 0.5, "max_delay_s": 8, "jitter": 0},
            "none": {"max_retries": 0},
            "patient": {"max_retries": 6, "base_delay_s": 1, "max_delay_s": 2, "jitter": 0},
        },
        "circuit_breakers": {"backend": {"failure_threshold": 3, "reset_timeout_s": 30, "half_open_max_calls": 1}},
        "features": {"retry": {"idempotency_header": "X-Idempotency-Key", "attempt_header": "X-Retry-Count"}},
        "types": {
            "Item": {"type": "object", "properties": {"name": {"type": "string"}}},
            "Out": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        },
        "resources": {
            "items": {
                "create": {"method": "POST", "path": "/items", "request": "Item", "response": "Out"},
                "get": {"method": "GET", "path": "/items/{item_id}", "response": "Out"},
                "once": {"method": "POST", "path": "/once", "request": "Item", "response": "Out", "retry": "none"},
                "guarded": {
                    "method": "POST",
                    "path": "/guarded",
                    "request": "Item",
                    "response": "Out",
                    "retry": "none",
                    "circuit_breaker": "backend",
                },
                "guarded_retry": {
                    "method": "GET",
                    "path": "/guarded-retry",
                    "response": "Out",
                    "circuit_breaker": "backend",
                },
            }
        },
    }


class EventRecorder:
    """A plugin that records every event it sees."""

    name = "event_recorder"
    priority = 1

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def pristine_on_event(self, event: Event) -> None:
        """Record the event."""
        self.events.append(event)

    def named(self, name: str) -> list[dict[str, Any]]:
        """Fields of the recorded events called ``name``."""
        return [dict(e.fields) for e in self.events if e.name == name]


@pytest.fixture
def manifest() -> dict[str, Any]:
    """A fresh copy of the base manifest for the test to adjust."""
    return copy.deepcopy(base_manifest())


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock: sleeps advance it and are recorded in ``clock.sleeps``."""
    return FakeClock()


@pytest.fixture
def recorder() -> EventRecorder:
    """Records events of clients made by ``make_client``."""
    return EventRecorder()


@pytest.fixture
def make_client(
    clock: FakeClock, recorder: EventRecorder, client_factory: Callable[..., Client]
) -> Callable[..., Client]:
    """``make_client(manifest, base_url=..., config=...)``; ``client_factory`` closes the clients."""

    def build(manifest: dict[str, Any], base_url: str = BASE, **kwargs: Any) -> Client:
        kwargs.setdefault("clock", clock)
        return client_factory(manifest, plugins=[RetryPlugin(), recorder], base_url=base_url, **kwargs)

    return build


@pytest.fixture
def mocked() -> Iterator[responses_lib.RequestsMock]:
    """A ``responses`` mock active for the test (requests to unregistered URLs fail)."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
