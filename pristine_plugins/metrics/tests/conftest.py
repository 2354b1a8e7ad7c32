"""Fixtures for the metrics plugin tests: a tiny two-endpoint API on a loopback server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pristine_core import Client
from pristine_plugins.metrics import MetricsPlugin
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply


def manifest(block: dict[str, Any] | None = None) -> dict[str, Any]:
    """An API with ``things.get`` (GET /things/{id}) and ``things.fail`` (POST /fail)."""
    doc: dict[str, Any] = {
        "name": "metricstest",
        "base_url": "http://127.0.0.1:9",
        "defaults": {"timeout_s": 5},
        "resources": {
            "things": {
                "get": {"method": "GET", "path": "/things/{id}"},
                "fail": {"method": "POST", "path": "/fail"},
            }
        },
    }
    if block is not None:
        doc["features"] = {"metrics": block}
    return doc


def _handler(request: SeenRequest) -> Reply:
    if request.path.startswith("/fail"):
        return json_reply({"detail": "bad"}, status=400)
    return json_reply({"id": request.path.rsplit("/", 1)[-1]})


@pytest.fixture
def doc() -> Callable[..., dict[str, Any]]:
    """The manifest builder, as a fixture (test modules cannot import conftest)."""
    return manifest


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback API: ``/things/<id>`` answers 200, ``/fail`` answers 400."""
    with LoopbackServer(_handler) as srv:
        yield srv


@pytest.fixture
def make_client(server: LoopbackServer, client_factory: Callable[..., Client]) -> Callable[..., Client]:
    """Clients with only the metrics plugin, on the loopback server; ``client_factory`` closes them."""

    def build(doc: dict[str, Any] | None = None, **kwargs: Any) -> Client:
        kwargs.setdefault("base_url", server.url)
        return client_factory(doc or manifest(), plugins=[MetricsPlugin()], **kwargs)

    return build
