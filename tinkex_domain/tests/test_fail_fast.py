"""Fail fast and talk: bad URLs raise at once, dead servers within the timeout, with hints."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from pristine_core.errors import APIConnectionError, APITimeoutError, ValidationError
from pristine_testing import refused_port
from tinkex_domain import ServiceClient
from tinkex_domain.cli import main
from tinkex_domain.emulator import Emulator, FaultConfig

from .conftest import API_KEY, BASE_MODEL


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections for the whole test (no other test's server can take it)."""
    with refused_port() as port:
        yield port


def test_url_without_scheme_fails_before_any_request() -> None:
    started = time.monotonic()
    with pytest.raises(ValidationError) as info:
        ServiceClient(api_key=API_KEY, base_url="127.0.0.1:8000", config={"telemetry": False})
    assert info.value.errors[0][0] == "base_url" and "http://127.0.0.1:8000" in str(info.value)
    assert time.monotonic() - started < 1


def test_dead_server_fails_within_the_timeout_with_a_hint_and_logs_retries(closed_port: int) -> None:
    port = closed_port
    started = time.monotonic()
    with capture_logs() as logs, pytest.raises(APIConnectionError) as info:
        ServiceClient(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", timeout_s=1.5,
                      config={"telemetry": False})
    elapsed = time.monotonic() - started
    assert elapsed < 4, elapsed
    assert f"is the server running at http://127.0.0.1:{port}?" in str(info.value)
    retries = [entry for entry in logs if entry["event"] == "pristine.retry"]
    assert retries and all(entry["log_level"] == "info" for entry in retries)
    assert {"attempt", "delay_s", "reason"} <= set(retries[0]) and retries[0]["reason"] == "connection error"


def test_create_lora_training_client_timeout(emulator: Emulator, service: ServiceClient) -> None:
    emulator.set_queue_delay(5.0)
    try:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"no model after 0\.3 s"):
            service.create_lora_training_client(BASE_MODEL, rank=2, timeout=0.3)
        assert time.monotonic() - started < 3
    finally:
        emulator.set_queue_delay(0.0)
    with pytest.raises(ValidationError, match="timeout"):
        service.create_lora_training_client(BASE_MODEL, rank=2, timeout=-1)


def test_cli_timeout_bounds_the_whole_command(emulator: Emulator) -> None:
    emulator.set_faults("create_session:latency=1.0,delay=3")
    out, err = io.StringIO(), io.StringIO()
    try:
        started = time.monotonic()
        code = main(["--base-url", emulator.base_url, "--api-key", API_KEY, "--timeout", "0.5", "run", "list"],
                    stdout=out, stderr=err)
        elapsed = time.monotonic() - started
    finally:
        emulator.set_faults(FaultConfig())
    assert code == 1 and elapsed < 2.5, (code, elapsed, err.getvalue())
    assert "Error:" in err.getvalue()
