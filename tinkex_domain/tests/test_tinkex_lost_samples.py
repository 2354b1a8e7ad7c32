"""Acceptance: no lost samples. 500 samples under faults equal a fault-free run, computed once each.

Faults on the real emulator: 5xx, 429s and connection resets on ``asample`` and
``retrieve_future``, plus ``reply_lost`` on ``asample`` (the emulator samples, then drops the
connection before replying). The client retries the submission with the same
``X-Idempotency-Key``; the emulator replays its cached reply instead of sampling again, which its
per-endpoint compute counter proves: exactly one computation per sample.

Delays are shortened by per-client config (retry backoff, pool back-off, futures back-off), not
by sleeping less in the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pristine_core.errors import ValidationError
from tinkex_domain import RetryConfig, SamplingClient, ServiceClient, types
from tinkex_domain.emulator import Emulator, FaultConfig

from .conftest import BASE_MODEL

SAMPLES = 500
FAULTS = (
    "seed=11;"
    "asample:server_error=0.1;asample:rate_limit=0.05,retry_after=0.01;asample:reset=0.02;"
    "asample:reply_lost=0.05;"
    "retrieve_future:server_error=0.1;retrieve_future:rate_limit=0.05;retrieve_future:reset=0.02"
)
FAST = {
    "telemetry": False,
    "retry": {"base_delay_s": 0.005, "max_delay_s": 0.02, "max_retries": 20},
    "pools": {"sample": {"backpressure": {"small_delay_s": 0.01, "large_delay_s": 0.01, "window_s": 0.05}}},
    "futures": {"backoff_cap_s": 0.02},
}


@pytest.fixture(scope="module")
def fast_service(emulator: Emulator) -> Iterator[ServiceClient]:
    client = ServiceClient(api_key="tml-lost-samples", base_url=emulator.base_url, config=FAST)
    try:
        yield client
    finally:
        client.close()


def _prompt(i: int) -> types.ModelInput:
    return types.ModelInput.from_ints(list(f"sample {i % 37}:".encode()))


def _run(sampler: SamplingClient) -> list[list[int]]:
    def one(i: int) -> list[int]:
        params = types.SamplingParams(max_tokens=3, temperature=1.0, seed=i)
        return list(sampler.sample(_prompt(i), 1, params).result(timeout=120).sequences[0].tokens)

    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(one, range(SAMPLES)))


def test_500_samples_under_faults_equal_clean_run_and_are_computed_once(
    emulator: Emulator, fast_service: ServiceClient
) -> None:
    sampler = fast_service.create_sampling_client(base_model=BASE_MODEL)
    clean = _run(sampler)
    before = emulator.stats()["asample"]
    emulator.set_faults(FAULTS)
    try:
        faulty = _run(sampler)
    finally:
        emulator.set_faults(FaultConfig())
    after = emulator.stats()["asample"]
    injected = {k: after.faults.get(k, 0) - before.faults.get(k, 0) for k in after.faults}
    assert injected.get("server_error", 0) > 10 and injected.get("reply_lost", 0) > 5, injected
    assert injected.get("rate_limit", 0) > 0 and injected.get("reset", 0) > 0, injected
    retrieve = emulator.stats()["retrieve_future"].faults
    assert retrieve.get("server_error", 0) > 10 and retrieve.get("reset", 0) > 0, retrieve
    assert faulty == clean
    # Every sample sampled exactly once, although lost replies made the client resend some.
    assert after.compute_count - before.compute_count == SAMPLES


def test_retry_config_off_sends_once(emulator: Emulator, fast_service: ServiceClient) -> None:
    sampler = fast_service.create_sampling_client(
        base_model=BASE_MODEL, retry_config=RetryConfig(enable_retry_logic=False)
    )
    emulator.set_faults("seed=1;asample:server_error=1.0")
    try:
        before = emulator.stats()["asample"].count
        future = sampler.sample(_prompt(0), 1, types.SamplingParams(max_tokens=2))
        with pytest.raises(Exception) as info:
            future.result(timeout=30)
        assert getattr(info.value, "status_code", None) == 500
        assert emulator.stats()["asample"].count - before == 1
    finally:
        emulator.set_faults(FaultConfig())


def test_retry_config_max_retries_bounds_attempts(emulator: Emulator, fast_service: ServiceClient) -> None:
    config = RetryConfig(max_retries=2, retry_delay_base=0.001, retry_delay_max=0.002)
    sampler = fast_service.create_sampling_client(base_model=BASE_MODEL, retry_config=config)
    emulator.set_faults("seed=1;asample:server_error=1.0")
    try:
        before = emulator.stats()["asample"].count
        with pytest.raises(Exception):
            sampler.sample(_prompt(0), 1, types.SamplingParams(max_tokens=2)).result(timeout=30)
        assert emulator.stats()["asample"].count - before == 3
    finally:
        emulator.set_faults(FaultConfig())


def test_service_retry_config_sizes_the_sample_pool_and_retries(emulator: Emulator) -> None:
    config = RetryConfig(max_connections=7, max_retries=1, retry_delay_base=0.001, retry_delay_max=0.001)
    with ServiceClient(
        api_key="tml-lost-samples", base_url=emulator.base_url, retry_config=config, config={"telemetry": False}
    ) as service:
        pool = service.holder.client.meta.plugin("pool")
        spec: Any = pool._specs["sample"]
        assert spec.concurrency == 7 and spec.connections == 7
        sampler = service.create_sampling_client(base_model=BASE_MODEL)
        emulator.set_faults("seed=1;asample:server_error=1.0")
        try:
            before = emulator.stats()["asample"].count
            with pytest.raises(Exception):
                sampler.sample(_prompt(0), 1, types.SamplingParams(max_tokens=2)).result(timeout=30)
            assert emulator.stats()["asample"].count - before == 2
        finally:
            emulator.set_faults(FaultConfig())
        with pytest.raises(ValidationError, match=r"retry_config\.max_connections"):
            service.create_sampling_client(base_model=BASE_MODEL, retry_config=RetryConfig(max_connections=3))


def test_retry_config_rejects_bad_fields() -> None:
    with pytest.raises(ValidationError, match="jitter_factor"):
        RetryConfig(jitter_factor=2.0)
    with pytest.raises(ValidationError, match="progress_timeout"):
        RetryConfig(progress_timeout=float("nan"))
    with pytest.raises(ValidationError, match="max_retries"):
        RetryConfig(max_retries=-1)


def test_service_retry_config_without_max_connections_keeps_the_manifest_pool(emulator: Emulator) -> None:
    with ServiceClient(api_key="tml-lost-samples", base_url=emulator.base_url, retry_config=RetryConfig(max_retries=3),
                       config={"telemetry": False}) as service:
        spec: Any = service.holder.client.meta.plugin("pool")._specs["sample"]
        assert spec.concurrency == 400
