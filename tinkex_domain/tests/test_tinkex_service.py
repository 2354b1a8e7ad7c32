"""Integration tests of ServiceClient: configuration, capabilities, queue states, closing."""

from __future__ import annotations

import concurrent.futures
import logging

import pytest

from pristine_core import PristineError
from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator

from .conftest import API_KEY, BASE_MODEL, text_datum


def test_env_configuration_and_capabilities(emulator: Emulator) -> None:
    environ = {"TINKER_API_KEY": API_KEY, "TINKER_BASE_URL": emulator.base_url, "TINKER_TELEMETRY": "0"}
    with ServiceClient(environ=environ) as service:
        assert service.holder.base_url == emulator.base_url
        assert service.session_id.startswith("session-")
        caps = service.get_server_capabilities()
        assert isinstance(caps, types.GetServerCapabilitiesResponse)
        assert BASE_MODEL in caps.model_names()
    assert service.holder.closed


def test_a_key_without_the_tml_prefix_is_refused_without_echoing_it(emulator: Emulator) -> None:
    with pytest.raises(PristineError, match="tml-") as info:
        ServiceClient(api_key="sk-secret-value", base_url=emulator.base_url)
    assert "secret-value" not in str(info.value)


def test_a_paused_queue_holds_results_and_is_logged_per_model(
    service: ServiceClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    emulator.set_queue_state("paused_capacity")
    try:
        with caplog.at_level(logging.WARNING, logger="pristine_plugins.futures"):
            future = tc.forward([text_datum("paused")], "cross_entropy")
            with pytest.raises(concurrent.futures.TimeoutError):
                future.result(timeout=0.6)
    finally:
        emulator.set_queue_state("active")
    assert future.result(timeout=60).loss_fn_outputs
    assert f"Training is paused for {tc.model_id}. Reason: Tinker backend is running short" in caplog.text


def test_closing_fails_unresolved_futures(emulator: Emulator) -> None:
    service = ServiceClient(api_key=API_KEY, base_url=emulator.base_url, config={"telemetry": False})
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    emulator.set_queue_state("paused_capacity")
    try:
        future = tc.forward([text_datum("closing")], "cross_entropy")
        service.close()
        with pytest.raises(PristineError):
            future.result(timeout=30)
    finally:
        emulator.set_queue_state("active")


def test_missing_required_plugins_are_named(emulator: Emulator) -> None:
    with pytest.raises(PristineError, match="futures"):
        ServiceClient(api_key=API_KEY, base_url=emulator.base_url, disable_plugins=["futures"])
