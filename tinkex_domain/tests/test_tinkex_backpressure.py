"""Acceptance: 500 concurrent samples through injected 429s; concurrency drops and recovers.

Against the real emulator (no mocks). Every asample submission is slowed by 50 ms so that
submissions from 64 threads really overlap. Three phases of one client:

1. free (latency only): in-flight submissions go well above the manifest's reduced concurrency;
2. throttled (latency + 30% 429s with ``Retry-After: 0.05``): every sample still completes with
   its own correct answer; once the submissions admitted before the first 429 have drained, the
   in-flight count never exceeds ``reduced_concurrency``;
3. recovered (latency only, after the throttle window): above it again.

How it measures, exactly rather than by sampling: a probe plugin's dispatch middleware sits just
inside the pool plugin (priority between POOL and DOMAIN), so it counts the asample requests
really on the wire and reads the pool's own state (``snapshot()``) at each change. The pool's
throttle gate admits a request while throttled only when fewer than ``reduced_concurrency`` are
in flight, so once the pool's tenant count is seen at or below the limit during a throttle
episode, it stays there while the episode lasts; the probe's count never exceeds the pool's.

The throttle window is set to 30 s by a per-client config override and ended by stepping the
client's injected clock, so the window neither lapses mid-phase nor has to be waited out: the
test asserts on counts and peaks only, never on durations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest

from pristine_core import Middleware, hookimpl
from pristine_core.bands import DOMAIN, POOL
from pristine_core.pipeline import CallNext, Event, Request, Response
from tinkex_domain import SamplingClient, ServiceClient, types
from tinkex_domain.emulator import Emulator, FaultConfig

from .conftest import BASE_MODEL

# An API key of its own: pool back-off state is shared per tenant (server, key, clock).
API_KEY = "tml-backpressure-acceptance"
WINDOW_S = 30.0
THREADS = 64
DISTINCT = 25  # distinct (prompt, seed) requests; sample i asks request i % DISTINCT
LATENCY = "asample:latency=1.0,delay=0.05"
RATE_LIMITED = f"seed=17;{LATENCY};asample:rate_limit=0.3,retry_after=0.05"


class SteppableClock:
    """The system clock plus an offset the test can step forward (sleeps and waits are real)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def step(self, seconds: float) -> None:
        """Move this clock's time forward by ``seconds`` at once."""
        with self._lock:
            self._offset += seconds

    def monotonic(self) -> float:
        """Monotonic seconds, stepped."""
        return time.monotonic() + self._offset

    def time(self) -> float:
        """Epoch seconds, stepped."""
        return time.time() + self._offset

    def sleep(self, seconds: float) -> None:
        """Really sleep."""
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Really wait for ``event``."""
        return event.wait(max(seconds, 0.0))


@attrs.define
class Phase:
    """What the probe saw of asample submissions during one phase."""

    peak_free: int = 0  # peak in flight while not throttled
    throttled_sends: int = 0  # sends made while the tenant was throttled
    drained: bool = False  # tenant in-flight seen <= reduced during the throttle episode
    sends_after_drain: int = 0
    peak_after_drain: int = 0  # peak in flight while throttled, once drained


class WireProbe:
    """Counts asample requests on the wire (inside the pool plugin) and back-pressure events."""

    name = "bp_probe"
    priority = (POOL + DOMAIN) // 2
    endpoint = "sampling.asample"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._pool: Any = None
        self.reduced = 0
        self.phase = Phase()
        self.backpressure_events = 0

    def attach(self, pool_plugin: Any, reduced: int) -> None:
        """Read the state of ``pool_plugin``'s ``sample`` pool; ``reduced`` is its reduced limit."""
        self._pool = pool_plugin
        self.reduced = reduced

    def start_phase(self) -> Phase:
        """Begin recording a new phase; returns its (live) record."""
        with self._lock:
            self.phase = Phase()
            return self.phase

    @hookimpl
    def pristine_dispatch_middleware(self, client: Any) -> Middleware:
        """The counting middleware."""
        return Middleware(self.name, self.priority, self._handle)

    @hookimpl
    def pristine_on_event(self, event: Event) -> None:
        """Count the pool's back-pressure events."""
        if event.name == "backpressure":
            with self._lock:
                self.backpressure_events += 1

    def _handle(self, request: Request, call_next: CallNext) -> Response:
        call = request.call
        if call is None or call.endpoint.qualified_name != self.endpoint or self._pool is None:
            return call_next(request)
        self._enter()
        try:
            return call_next(request)
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            stats = self._pool.snapshot()["sample"]
            phase = self.phase
            if not stats.throttled:
                phase.drained = False
                phase.peak_free = max(phase.peak_free, self._in_flight)
                return
            phase.throttled_sends += 1
            if phase.drained:
                phase.sends_after_drain += 1
                phase.peak_after_drain = max(phase.peak_after_drain, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            stats = self._pool.snapshot()["sample"]
            if stats.throttled and stats.tenant_in_flight <= self.reduced:
                self.phase.drained = True
            self._in_flight -= 1


def _request(i: int) -> tuple[types.ModelInput, types.SamplingParams]:
    key = i % DISTINCT
    prompt = types.ModelInput.from_ints(list(f"sample {key:02d}: ".encode()))
    return prompt, types.SamplingParams(max_tokens=4, temperature=1.0, seed=1000 + key)


def _tokens(sampler: SamplingClient, i: int) -> list[int]:
    prompt, params = _request(i)
    response = sampler.sample(prompt, 1, params).result(timeout=60)
    assert len(response.sequences) == 1
    return list(response.sequences[0].tokens)


def _run(sampler: SamplingClient, indices: range) -> dict[int, list[int]]:
    with ThreadPoolExecutor(THREADS, thread_name_prefix="bp-sample") as pool:
        return dict(zip(indices, pool.map(lambda i: _tokens(sampler, i), indices), strict=True))


def _rate_limits(emulator: Emulator) -> int:
    stats = emulator.stats().get("asample")
    return stats.faults.get("rate_limit", 0) if stats is not None else 0


@pytest.fixture
def probed(emulator: Emulator) -> Iterator[tuple[SamplingClient, WireProbe, SteppableClock]]:
    """A sampling client with the probe plugin, its own clock and a 30 s throttle window."""
    probe = WireProbe()
    clock = SteppableClock()
    config = {"telemetry": False, "pools": {"sample": {"backpressure": {"window_s": WINDOW_S}}}}
    service = ServiceClient(
        api_key=API_KEY, base_url=emulator.base_url, config=config, clock=clock, plugins=[probe]
    )
    try:
        sampler = service.create_sampling_client(base_model=BASE_MODEL)
        client = sampler.holder.client
        manifest_bp = client.meta.manifest.section("pools")["sample"].backpressure
        assert manifest_bp is not None
        pool = client.meta.plugin("pool")
        spec = pool.spec("sample")
        assert spec.backpressure.window_s == WINDOW_S  # the override took effect...
        assert spec.backpressure.reduced_concurrency == manifest_bp.reduced_concurrency  # ...and only it
        assert spec.concurrency is None or spec.concurrency > THREADS  # the free phases are not capped
        probe.attach(pool, spec.backpressure.reduced_concurrency)
        yield sampler, probe, clock
    finally:
        emulator.set_faults(FaultConfig())
        service.close()


def test_500_samples_through_429s_concurrency_drops_then_recovers(
    emulator: Emulator, probed: tuple[SamplingClient, WireProbe, SteppableClock]
) -> None:
    sampler, probe, clock = probed
    pool = sampler.holder.client.meta.plugin("pool")
    reduced = probe.reduced

    # Reference answers, one at a time and without faults: each request's own tokens.
    emulator.set_faults(FaultConfig())
    reference = {i: _tokens(sampler, i) for i in range(DISTINCT)}
    assert len({tuple(t) for t in reference.values()}) > 1  # a mixed-up answer would show

    emulator.set_faults(LATENCY)
    free = probe.start_phase()
    results = _run(sampler, range(0, 150))
    assert free.throttled_sends == 0
    assert free.peak_free > reduced

    limited_before, events_before = _rate_limits(emulator), probe.backpressure_events
    emulator.set_faults(RATE_LIMITED)
    throttled = probe.start_phase()
    results |= _run(sampler, range(150, 350))
    emulator.set_faults(LATENCY)
    rate_limited = _rate_limits(emulator) - limited_before
    assert rate_limited > 0
    assert probe.backpressure_events - events_before == rate_limited  # every 429 absorbed by the pool
    assert throttled.drained
    assert throttled.sends_after_drain >= 100  # the bound below is about real traffic
    assert 0 < throttled.peak_after_drain <= reduced

    assert pool.snapshot()["sample"].throttled  # the window is still open: recovery is its end
    clock.step(WINDOW_S + 1)
    assert not pool.snapshot()["sample"].throttled
    recovered = probe.start_phase()
    results |= _run(sampler, range(350, 500))
    assert recovered.throttled_sends == 0
    assert recovered.peak_free > reduced

    assert sorted(results) == list(range(500))
    wrong = [i for i, tokens in results.items() if tokens != reference[i % DISTINCT]]
    assert wrong == []
