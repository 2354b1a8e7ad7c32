"""Sampling back-pressure end to end: 500 samples through injected 429s, concurrency measured.

The emulator slows every asample submission by 50 ms (so concurrent submissions really overlap)
and, in the middle phase, answers 30% of them with 429. The pool plugin's own counters are
sampled by a monitor thread: the peak in-flight submissions must exceed the manifest's reduced
concurrency before the 429s, stay within it while throttled, and exceed it again afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator, FaultConfig

from .conftest import BASE_MODEL

# Back-off state is shared per tenant (server + key): a key of its own keeps other tests' 429
# windows on the shared emulator out of this measurement.
API_KEY = "tml-backpressure-tenant"

PROMPT = types.ModelInput.from_ints(list(b"The river "))
PARAMS = types.SamplingParams(max_tokens=2, temperature=0.0)
SLOW = "seed=11;asample:latency=1.0,delay=0.05"
WINDOW_S = 0.5


class Monitor:
    """Samples the sample pool's counters in a background thread until stopped.

    ``tenant_in_flight`` counts submissions admitted past the back-pressure gate (the requests
    really on the wire); ``in_flight`` would also count those queued at the gate.
    """

    def __init__(self, pool_plugin: Any, reduced: int) -> None:
        self.pool = pool_plugin
        self.reduced = reduced
        self.peak_throttled = 0  # peak once the requests admitted before the 429 have drained
        self.peak_free = 0
        self.saw_throttle = False
        self._drained = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bp-monitor")

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            stats = self.pool.snapshot().get("sample")
            if stats is None:
                continue
            if stats.throttled:
                # Requests already in flight when the 429 arrived finish; new ones are admitted
                # only below the reduced limit, so once drained the count must stay within it.
                self.saw_throttle = True
                sent = stats.tenant_in_flight  # admitted past the throttle gate, not waiting at it
                self._drained = self._drained or sent <= self.reduced
                if self._drained:
                    self.peak_throttled = max(self.peak_throttled, sent)
            else:
                self._drained = False
                self.peak_free = max(self.peak_free, stats.tenant_in_flight)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def slow_emulator(emulator: Emulator) -> Iterator[Emulator]:
    emulator.set_faults(SLOW)
    try:
        yield emulator
    finally:
        emulator.set_faults(FaultConfig())


def _run(sampler: Any, count: int) -> list[Any]:
    with ThreadPoolExecutor(64) as pool:
        futures = list(pool.map(lambda _: sampler.sample(PROMPT, 1, PARAMS), range(count)))
        return [f.result(timeout=120) for f in futures]


def test_500_samples_through_429s_with_concurrency_dropping_and_recovering(slow_emulator: Emulator) -> None:
    config = {"telemetry": False, "pools": {"sample": {"backpressure": {"window_s": WINDOW_S}}}}
    service = ServiceClient(api_key=API_KEY, base_url=slow_emulator.base_url, config=config)
    try:
        sampler = service.create_sampling_client(base_model=BASE_MODEL)
        pool = sampler.holder.client.plugin("pool")
        reduced = pool.spec("sample").backpressure.reduced_concurrency
        results: list[Any] = []

        with Monitor(pool, reduced) as before:
            results += _run(sampler, 150)
        assert not before.saw_throttle and before.peak_free > reduced

        faults_before = slow_emulator.stats()["asample"].faults.get("rate_limit", 0)
        slow_emulator.set_faults(SLOW + ";asample:rate_limit=0.3,retry_after=0.05")
        with Monitor(pool, reduced) as during:
            results += _run(sampler, 200)
        assert slow_emulator.stats()["asample"].faults.get("rate_limit", 0) > faults_before
        assert during.saw_throttle and 0 < during.peak_throttled <= reduced

        slow_emulator.set_faults(SLOW)
        released = threading.Event()
        while pool.snapshot()["sample"].throttled:  # the window is real time: wait it out
            released.wait(0.05)
        with Monitor(pool, reduced) as after:
            results += _run(sampler, 150)
        assert not after.saw_throttle and after.peak_free > reduced

        assert len(results) == 500
        assert all(len(r.sequences[0].tokens) == 2 for r in results)
    finally:
        service.close()
