"""Fixtures for the Tinkex integration tests: a real emulator on 127.0.0.1 and clients on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator, EmulatorConfig
from tinkex_domain.holder import close_shadow_holders

BASE_MODEL = "tinkex/tiny-byte-lm"
API_KEY = "tml-tinkex-tests"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One emulator for the whole run (short long-polls keep shutdown quick)."""
    emu = Emulator(EmulatorConfig(long_poll_s=0.2)).start()
    try:
        yield emu
    finally:
        close_shadow_holders()  # clients unpickled in tests talk to this emulator
        emu.stop()


@pytest.fixture(scope="module")
def service(emulator: Emulator) -> Iterator[ServiceClient]:
    """A ServiceClient (with its session) on the emulator."""
    client = ServiceClient(api_key=API_KEY, base_url=emulator.base_url, config={"telemetry": False})
    try:
        yield client
    finally:
        client.close()


def text_datum(text: str, weights: float = 1.0) -> types.Datum:
    """Next-byte prediction on ``text``: input = bytes[:-1], targets = bytes[1:]."""
    tokens = list(text.encode("utf-8"))
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:], "weights": [weights] * (len(tokens) - 1)},
    )
