"""pytest fixtures for testing code that uses Tinkex, offline (loaded through the ``pytest11`` entry point).

Installed with the ``tinkex`` package; pytest picks the fixtures up by itself:

- ``tinkex_emulator``: a running local emulator for one test, as a :class:`EmulatorHandle`
  (``url``, ``api_key``, ``inject_faults(spec)``, ``clear_faults()``, the :class:`Emulator` itself).
- ``tinkex_emulator_session``: the same, shared by the whole test session (faults injected through
  it are cleared after each test that used it).
- ``tinkex_service`` / ``tinkex_service_session``: a :class:`~tinkex.ServiceClient` bound to the
  matching emulator (telemetry off), closed afterwards.

Example::

    def test_my_training_step(tinkex_service):
        training = tinkex_service.create_lora_training_client(base_model="tinkex/tiny-byte-lm")
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
import pytest

if TYPE_CHECKING:  # imported when a fixture is used, so that loading the plugin stays cheap
    from tinkex_domain.emulator import Emulator, FaultConfig

#: The API key the fixtures use (the emulator accepts any key starting with ``tml-``).
TEST_API_KEY = "tml-pytest-key"


@attrs.define
class EmulatorHandle:
    """A running emulator as a test sees it."""

    emulator: Emulator
    api_key: str = TEST_API_KEY

    @property
    def url(self) -> str:
        """The emulator's base URL (``http://127.0.0.1:<port>``)."""
        return self.emulator.base_url

    def inject_faults(self, spec: FaultConfig | str) -> None:
        """Replace the fault rules, e.g. ``"seed=1;forward_backward:server_error=0.5"``."""
        self.emulator.set_faults(spec)

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        self.emulator.set_faults(None)

    def service_client(self, **kwargs: Any) -> Any:
        """A new :class:`~tinkex.ServiceClient` on this emulator (the caller closes it)."""
        from tinkex_domain import ServiceClient

        kwargs.setdefault("config", {"telemetry": False})
        return ServiceClient(api_key=self.api_key, base_url=self.url, **kwargs)


def _started() -> Emulator:
    from tinkex_domain.emulator import Emulator, EmulatorConfig, FaultConfig

    return Emulator(EmulatorConfig(long_poll_s=0.2, faults=FaultConfig())).start()


def _stop(emulator: Emulator) -> None:
    from tinkex_domain.holder import close_shadow_holders

    close_shadow_holders()
    emulator.stop()


@pytest.fixture
def tinkex_emulator() -> Iterator[EmulatorHandle]:
    """A local Tinker emulator for this test (fresh state), stopped afterwards."""
    emulator = _started()
    try:
        yield EmulatorHandle(emulator)
    finally:
        _stop(emulator)


@pytest.fixture(scope="session")
def _tinkex_shared_emulator() -> Iterator[Emulator]:
    emulator = _started()
    try:
        yield emulator
    finally:
        _stop(emulator)


@pytest.fixture
def tinkex_emulator_session(_tinkex_shared_emulator: Emulator) -> Iterator[EmulatorHandle]:
    """The emulator shared by the whole session; faults set through it are cleared after the test."""
    handle = EmulatorHandle(_tinkex_shared_emulator)
    try:
        yield handle
    finally:
        handle.clear_faults()


@pytest.fixture
def tinkex_service(tinkex_emulator: EmulatorHandle) -> Iterator[Any]:
    """A ServiceClient on ``tinkex_emulator``; closed after the test."""
    client = tinkex_emulator.service_client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def tinkex_service_session(tinkex_emulator_session: EmulatorHandle) -> Iterator[Any]:
    """A ServiceClient on the shared emulator; closed after the test."""
    client = tinkex_emulator_session.service_client()
    try:
        yield client
    finally:
        client.close()
