"""pristine-testing on its own: the loopback server against a real client, the lazy exports, and the
clear error ``pristine_core`` gives for a testing name when this distribution is missing."""

from __future__ import annotations

import socket
import sys

import pytest

import pristine_core
import pristine_testing
from pristine_core import APIConnectionError, Client
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply, refused_port

MANIFEST = {"name": "demo", "resources": {"items": {"get": {"method": "GET", "path": "/items/{item_id}"}}}}


def test_loopback_server_answers_and_records_a_real_call() -> None:
    seen: list[SeenRequest] = []

    def handler(request: SeenRequest) -> Reply:
        seen.append(request)
        return json_reply({"id": 7}, status=201)

    with LoopbackServer() as server:
        server.handler = handler
        assert server.url.startswith("http://127.0.0.1:")
        with Client(MANIFEST, base_url=server.url, autoload_plugins=False) as client:
            assert client.items.get(item_id="a7") == {"id": 7}
    assert [(r.method, r.path, r.body) for r in seen] == [("GET", "/items/a7", b"")]


def test_public_names_load_lazily_and_core_re_exports_the_server() -> None:
    assert set(pristine_testing.__all__) <= set(dir(pristine_testing))
    assert pristine_testing.ManifestMock.__module__ == "pristine_testing.mocking"
    assert pristine_core.LoopbackServer is LoopbackServer


def test_core_names_the_distribution_to_install_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pristine_core, "LoopbackServer", raising=False)  # forget the cached re-export
    monkeypatch.setitem(sys.modules, "pristine_testing", None)  # importing pristine_testing now fails
    with pytest.raises(ImportError, match=r"LoopbackServer lives in the pristine-testing distribution: pip install"):
        pristine_core.LoopbackServer  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pristine_core.Nope  # noqa: B018


def test_a_refused_port_refuses_calls_and_stays_reserved_until_the_block_ends() -> None:
    with refused_port() as port:
        with Client(MANIFEST, base_url=f"http://127.0.0.1:{port}", autoload_plugins=False) as client:
            with pytest.raises(APIConnectionError):
                client.items.get(item_id="1")
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))  # nobody else's server can take it meanwhile
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))  # released afterwards
