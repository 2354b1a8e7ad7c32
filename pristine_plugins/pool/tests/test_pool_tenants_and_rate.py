"""Shared back-off per tenant, and the token-bucket rate limiter; HTTP mocked with ``responses``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from pristine_core import Client, FakeClock
from pristine_plugins.pool import PoolFullError, registry_keys

URL = "http://api.test"
KEY_ONE, KEY_TWO = "sk-tenant-one-secret", "sk-tenant-two-secret"
SMALL_DELAY = 1.0  # the sample pool's small_delay_s in conftest.BASE_MANIFEST


class HookedClock(FakeClock):
    """A FakeClock that runs ``on_first_sleep`` (once) when someone first sleeps on it."""

    def __init__(self) -> None:
        super().__init__()
        self.on_first_sleep: Callable[[], None] | None = None

    def sleep(self, seconds: float) -> None:
        hook, self.on_first_sleep = self.on_first_sleep, None
        if hook is not None:
            hook()
        super().sleep(seconds)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _sleeps_during(clock: FakeClock, action: Callable[[], Any]) -> list[float]:
    before = len(clock.sleeps)
    action()
    return clock.sleeps[before:]


def test_clients_of_one_tenant_share_back_off_and_other_tenants_do_not(
    mocked: responses.RequestsMock, make_client: Callable[..., Client]
) -> None:
    mocked.add(responses.POST, f"{URL}/sample", status=429, json={"detail": "slow down"})
    mocked.add(responses.POST, f"{URL}/sample", json={})
    clock = HookedClock()
    a = make_client(base_url=URL, api_key=KEY_ONE, clock=clock)
    b = make_client(base_url=URL, api_key=KEY_ONE, clock=clock)
    c = make_client(base_url=URL, api_key=KEY_TWO, clock=clock)
    d = make_client(base_url="http://elsewhere.test", api_key=KEY_ONE, clock=clock)
    mocked.add(responses.POST, "http://elsewhere.test/sample", json={})
    waited: dict[str, list[float]] = {}

    def while_a_backs_off() -> None:
        # A got its 429 and is about to sleep: the other clients call now.
        waited["b"] = _sleeps_during(clock, lambda: b.jobs.sample(data="b"))
        waited["c"] = _sleeps_during(clock, lambda: c.jobs.sample(data="c"))
        waited["d"] = _sleeps_during(clock, lambda: d.jobs.sample(data="d"))
        waited["b_throttled"] = [float(b.meta.plugin("pool").snapshot()["sample"].throttled)]
        waited["c_throttled"] = [float(c.meta.plugin("pool").snapshot()["sample"].throttled)]

    clock.on_first_sleep = while_a_backs_off
    assert a.jobs.sample(data="a") == {}
    assert waited == {"b": [SMALL_DELAY], "c": [], "d": [], "b_throttled": [1.0], "c_throttled": [0.0]}
    keys = [call.request.headers["X-API-Key"] for call in mocked.calls]
    assert keys == [KEY_ONE, KEY_ONE, KEY_TWO, KEY_ONE, KEY_ONE]  # A 429, B, C, D, A's resend
    assert str(mocked.calls[3].request.url).startswith("http://elsewhere.test")


def test_the_shared_registry_never_holds_a_raw_key(
    mocked: responses.RequestsMock, make_client: Callable[..., Client]
) -> None:
    mocked.add(responses.POST, f"{URL}/sample", json={})
    clock = FakeClock()
    clients = [make_client(base_url=URL, api_key=key, clock=clock) for key in (KEY_ONE, KEY_ONE, KEY_TWO)]
    for client in clients:
        client.jobs.sample(data="x")  # states are created on a pool's first use
    keys = registry_keys()
    assert len(keys) == 2  # one per tenant
    shown = repr(keys) + repr([client.meta.plugin("pool").snapshot() for client in clients])
    assert KEY_ONE not in shown and KEY_TWO not in shown


def _rate_client(make_client: Callable[..., Client], clock: FakeClock, **rate: Any) -> Client:
    config = {"pools": {"work": {"rate_limit": {"rate": 4.0, "burst": 2, **rate}}}}
    return make_client(base_url=URL, clock=clock, config=config)


def test_the_rate_limiter_spaces_requests_through_the_clock(
    mocked: responses.RequestsMock, make_client: Callable[..., Client]
) -> None:
    mocked.add(responses.POST, f"{URL}/run", json={})
    clock = FakeClock()
    client = _rate_client(make_client, clock)
    rate, burst, calls = 4.0, 2, 6
    for _ in range(calls):
        client.jobs.run(data="x")
    assert clock.sleeps == pytest.approx([1 / rate] * (calls - burst))
    assert len(mocked.calls) == calls

    clock.advance(10.0)  # the bucket refills, but only up to the burst
    waits = _sleeps_during(clock, lambda: [client.jobs.run(data="x") for _ in range(burst + 1)])
    assert waits == pytest.approx([1 / rate])


def test_the_rate_limiter_comes_from_the_manifest(
    mocked: responses.RequestsMock, make_client: Callable[..., Client], manifest_factory: Callable[..., Any]
) -> None:
    mocked.add(responses.POST, f"{URL}/run", json={})
    manifest = manifest_factory(pools={"work": {"connections": 2, "rate_limit": {"rate": 0.5, "burst": 1}}})
    clock = FakeClock()
    client = make_client(manifest, base_url=URL, clock=clock)
    for _ in range(3):
        client.jobs.run(data="x")
    assert clock.sleeps == pytest.approx([2.0, 2.0])


def test_a_non_blocking_rate_limit_fails_fast(
    mocked: responses.RequestsMock, make_client: Callable[..., Client]
) -> None:
    mocked.add(responses.POST, f"{URL}/run", json={})
    clock = FakeClock()
    client = make_client(
        base_url=URL, clock=clock, config={"pools": {"work": {"block": False, "rate_limit": {"rate": 1, "burst": 2}}}}
    )
    client.jobs.run(data="x")
    client.jobs.run(data="x")
    with pytest.raises(PoolFullError):
        client.jobs.run(data="x")
    assert len(mocked.calls) == 2 and clock.sleeps == []
    clock.advance(1.0)
    client.jobs.run(data="x")
    assert len(mocked.calls) == 3
