"""pytest fixtures for anyone testing code built on Pristine (loaded through the ``pytest11`` entry point).

Installed with ``pristine-testing``; pytest picks the fixtures up by itself:

- ``loopback_server``: a started :class:`~pristine_testing.LoopbackServer` on 127.0.0.1,
  stopped after the test; set ``loopback_server.handler`` to script the replies.
- ``client_factory``: ``client_factory(manifest, *, plugins=[...], **client_kwargs)`` builds a
  :class:`~pristine_core.Client` (``autoload_plugins=False`` unless given) and closes every client
  it built when the test ends.
- ``pristine_mock``: ``pristine_mock(manifest, base_url=None)`` returns a
  :class:`~pristine_testing.mocking.ManifestMock` on ``responses``: register replies per endpoint
  name, have request bodies validated against the manifest's types, and fail on calls to
  endpoints the manifest does not declare (on ``responses``, a dependency of ``pristine-testing``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pristine_core.client import Client
from pristine_testing import LoopbackServer

ClientFactory = Callable[..., Client]


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 (free port); set ``.handler``; stopped after the test."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def client_factory() -> Iterator[ClientFactory]:
    """``client_factory(manifest, *, plugins=(), **kwargs)``: clients closed when the test ends.

    ``autoload_plugins`` defaults to False so that a test sees exactly the plugins it passes.
    """
    made: list[Client] = []

    def build(manifest: Any, *, plugins: Any = (), **kwargs: Any) -> Client:
        kwargs.setdefault("autoload_plugins", False)
        client = Client(manifest, plugins=list(plugins), **kwargs)
        made.append(client)
        return client

    yield build
    for client in reversed(made):
        client.close()


@pytest.fixture
def pristine_mock() -> Iterator[Callable[..., Any]]:
    """``pristine_mock(manifest, base_url=None)`` -> a :class:`~pristine_testing.mocking.ManifestMock`.

    Every HTTP call made with ``requests`` during the test goes to the mock. A call to an
    undeclared endpoint, a request body that does not match the manifest type or a declared
    endpoint with no registered reply raises :class:`~pristine_testing.mocking.MockMismatch` at the
    call, and the test fails at teardown listing every such problem (even ones swallowed by the
    code under test).
    """
    import responses

    from pristine_testing.mocking import ManifestMock

    mocks: list[ManifestMock] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as requests_mock:

        def use(manifest: Any, base_url: str | None = None) -> ManifestMock:
            mock = ManifestMock(manifest, requests_mock, base_url=base_url)
            mocks.append(mock)
            return mock

        yield use
    problems = [problem for mock in mocks for problem in mock.problems]
    if problems:
        pytest.fail("pristine_mock saw calls the manifest does not allow:\n  " + "\n  ".join(problems), pytrace=False)
