"""Concurrency and byte limits, measured at a real loopback server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from pristine_core import APIConnectionError, Client, RequestOptions, hookimpl
from pristine_plugins.pool import PoolFullError
from pristine_testing import LoopbackServer, Reply, SeenRequest


def test_64_threads_never_exceed_a_pool_of_8(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    meter.hold_s = 0.01
    meter.expect_together(8)
    client = make_client(base_url=server.url)
    load(client, threads=64, calls=64)
    assert meter.count == 64
    assert meter.peak == 8
    assert client.meta.plugin("pool").in_flight() == {"work": 0}


def test_without_a_concurrency_limit_the_same_load_overlaps_more(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    # Control for the test above: the server measurement does see more than 8 when unlimited.
    meter.expect_together(12)
    client = make_client(base_url=server.url, config={"pools": {"work": {"concurrency": None}}})
    load(client, threads=12, calls=12)
    assert meter.peak > 8


def test_client_config_overrides_the_manifest_limit(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    meter.hold_s = 0.01
    meter.expect_together(3)
    client = make_client(base_url=server.url, config={"pools": {"work": {"concurrency": 3}}})
    load(client, threads=12, calls=24)
    assert meter.peak == 3
    assert client.meta.plugin("pool").spec("work").concurrency == 3


def test_request_options_route_a_call_to_another_pool(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    meter.hold_s = 0.01
    client = make_client(base_url=server.url)
    load(client, threads=8, calls=16, options=RequestOptions(pool="narrow"))
    assert meter.peak == 1
    assert set(client.meta.plugin("pool").in_flight()) == {"narrow"}


def test_byte_budget_holds_under_load(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    client = make_client(base_url=server.url)
    plugin = client.meta.plugin("pool")
    client_side: list[int] = []

    def observe(seen: SeenRequest, number: int) -> Reply | None:
        client_side.append(plugin.snapshot()["budget"].bytes_in_flight)
        return None

    meter.hold_s = 0.01
    meter.script = observe
    sizes = [100 + (n * 37) % 350 for n in range(48)]  # 100..449 characters of data
    load(client, threads=24, calls=48, endpoint="jobs.upload", data_for=lambda n: "x" * sizes[n])
    largest = max(sizes) + len('{"data":""}')
    assert meter.count == 48
    assert meter.peak >= 2  # requests did overlap
    assert meter.bytes_peak <= 1000 + largest
    assert max(client_side) <= 1000 + largest
    assert plugin.snapshot()["budget"].bytes_in_flight == 0


def test_slots_are_released_when_the_transport_fails(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    meter.script = lambda seen, number: Reply(reset=True)
    client = make_client(base_url=server.url)
    for _ in range(3):  # more calls than the narrow pool's single slot
        with pytest.raises(APIConnectionError):
            client.jobs.upload(data="abc", request_options={"pool": "narrow"})
        with pytest.raises(APIConnectionError):
            client.jobs.upload(data="abc")
    stats = client.meta.plugin("pool").snapshot()
    assert stats["narrow"].in_flight == 0
    assert stats["budget"].bytes_in_flight == 0


def test_a_non_blocking_pool_fails_fast_when_full(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    arrived, gate = threading.Event(), threading.Event()

    def hold_first(seen: SeenRequest, number: int) -> Reply | None:
        if number == 1:
            arrived.set()
            gate.wait(5)
        return None

    meter.script = hold_first
    client = make_client(base_url=server.url, config={"pools": {"narrow": {"block": False}}})
    options = RequestOptions(pool="narrow")
    first = threading.Thread(target=lambda: client.jobs.run(data="a", request_options=options))
    first.start()
    try:
        assert arrived.wait(5)
        with pytest.raises(PoolFullError) as info:
            client.jobs.run(data="b", request_options=options)
        assert info.value.retryable and info.value.pool == "narrow"
    finally:
        gate.set()
        first.join(5)
    assert meter.count == 1
    client.jobs.run(data="c", request_options=options)  # capacity is back
    assert meter.count == 2


class FixedEstimate:
    """A domain-like plugin that prices every call at a fixed number of bytes."""

    name = "fixed_estimate"
    priority = 400

    @hookimpl
    def pristine_estimate_bytes(self, call: Any) -> int:
        return 12345


def test_the_estimate_hook_prices_the_byte_charge(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    seen_charge: list[int] = []
    client = make_client(base_url=server.url, extra=(FixedEstimate(),))
    pool = client.meta.plugin("pool")
    meter.script = lambda seen, number: seen_charge.append(pool.snapshot()["budget"].bytes_in_flight)
    client.jobs.upload(data="tiny")
    assert seen_charge == [12345]


def test_manifest_defaults_route_to_the_default_pool(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], manifest_factory: Callable[..., Any]
) -> None:
    manifest = manifest_factory()
    manifest["resources"]["jobs"]["run"].pop("pool")
    client = make_client(manifest, base_url=server.url)
    in_handler: list[dict[str, int]] = []
    meter.script = lambda seen, number: in_handler.append(client.meta.plugin("pool").in_flight())
    client.jobs.run(data="x")
    assert in_handler == [{"default": 1}]
