"""Concurrent submission against the emulator: parallel fwd/bwd chunks, and sample() under 429s.

* A forward_backward split into chunks sends them at once (tinker's ``parallel_fwdbwd_chunks``):
  with every forward_backward request slowed by the emulator, the call takes about one delay,
  not one per chunk, and its result is bit-for-bit the sequential one (the server applies the
  chunks in seq-id order whatever order they arrive in).
* ``sample()`` returns its future at once while the submission waits out a 429 back-off: the
  back-off sleeps on a clock the test holds closed until it has measured the call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import attrs
import pytest

from tinkex_domain import ServiceClient, TrainingClient, types
from tinkex_domain.emulator import Emulator, FaultConfig

from .conftest import API_KEY, BASE_MODEL, text_datum

CHUNKS = 4
DELAY_S = 0.4
PROMPT = types.ModelInput.from_ints(list(b"concurrent"))
PARAMS = types.SamplingParams(max_tokens=6, seed=11, temperature=0.8)


def _fwdbwd(tc: TrainingClient, data: list[types.Datum], parallel: bool) -> tuple[float, types.ForwardBackwardOutput]:
    tc.parallel_chunks = parallel
    started = time.perf_counter()
    future = tc.forward_backward(data, "cross_entropy")
    submitted = time.perf_counter() - started  # every chunk was answered by now (submission is blocking)
    return submitted, future.result(timeout=60)


def test_chunks_are_sent_concurrently_and_merge_to_the_sequential_result(
    service: ServiceClient, emulator: Emulator
) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=4)
    data = [text_datum(f"chunk sample {i} of the concurrent batch") for i in range(CHUNKS * 3)]
    tc.max_chunk_len = 3  # CHUNKS chunks of three datums
    _fwdbwd(tc, data, parallel=True)  # warm-up (connections, client config)
    emulator.set_faults(f"forward_backward:latency=1.0,delay={DELAY_S}")
    try:
        seq_before = tc.next_seq_id
        parallel_s, parallel = _fwdbwd(tc, data, parallel=True)
        sequential_s, sequential = _fwdbwd(tc, data, parallel=False)
    finally:
        emulator.set_faults(FaultConfig())
    print(f"\n{CHUNKS} chunks, {DELAY_S}s each: parallel {parallel_s:.3f}s, sequential {sequential_s:.3f}s")
    assert sequential_s >= CHUNKS * DELAY_S
    assert parallel_s < 2 * DELAY_S  # one delay (plus overhead), not CHUNKS of them
    assert tc.next_seq_id == seq_before + 2 * CHUNKS  # one seq id per chunk, none lost
    applied = emulator.applied_seq_ids(tc.model_id)
    assert applied == sorted(applied)  # the server applied every chunk in seq-id order
    # No optim_step in between: the weights are the same, so the outputs must be identical.
    assert parallel.metrics == sequential.metrics
    assert [o.to_json() if hasattr(o, "to_json") else o for o in parallel.loss_fn_outputs] == [
        o.to_json() if hasattr(o, "to_json") else o for o in sequential.loss_fn_outputs
    ]
    assert len(parallel.loss_fn_outputs) == len(data)


class GatedClock:
    """The system clock, except that a back-off of ``threshold`` seconds or more is held until
    :meth:`open` is called, then this clock's time moves forward by the whole back-off at once
    (as a fake clock would). Two kinds are told apart: a thread *sleeping* through it (recorded
    in :attr:`long_sleeps`) and the client scheduler's timer (the one timer heap the ``submit``
    lane's timed resends wait in) *waiting* for it (recorded in :attr:`timer_waits`);
    :attr:`backing_off` is set when either starts."""

    def __init__(self, threshold: float = 5.0) -> None:
        self.threshold = threshold
        self.backing_off = threading.Event()
        self._gate = threading.Event()
        self.long_sleeps: list[float] = []
        self.timer_waits: list[float] = []
        self._offset = 0.0
        self._lock = threading.Lock()

    def open(self) -> None:
        """Let every held back-off (and any later one) return."""
        self._gate.set()

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def time(self) -> float:
        return time.time() + self._offset

    def _hold(self, seconds: float, event: threading.Event | None = None) -> bool:
        self.backing_off.set()
        while not self._gate.wait(0.02):
            if event is not None and event.is_set():
                return True  # the timer was woken for something else; it will wait again
        with self._lock:
            self._offset += seconds
        return False

    def sleep(self, seconds: float) -> None:
        if seconds >= self.threshold:
            self.long_sleeps.append(seconds)
            self._hold(seconds)
        elif seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        name = threading.current_thread().name
        if seconds >= self.threshold and name.startswith("pristine-") and name.endswith("-timer"):
            self.timer_waits.append(seconds)
            return self._hold(seconds, event)
        return event.wait(max(seconds, 0.0))


@pytest.fixture
def gated(emulator: Emulator) -> Iterator[tuple[ServiceClient, GatedClock]]:
    clock = GatedClock()
    service = ServiceClient(api_key=API_KEY, base_url=emulator.base_url, config={"telemetry": False}, clock=clock)
    try:
        yield service, clock
    finally:
        clock.open()
        emulator.set_faults(FaultConfig())
        service.close()


def test_sample_returns_at_once_during_a_429_back_off(
    emulator: Emulator, gated: tuple[ServiceClient, GatedClock]
) -> None:
    service, clock = gated
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    expected = sampler.sample(PROMPT, 2, PARAMS).result(timeout=60)

    emulator.set_faults("asample:rate_limit=1.0,retry_after=60")
    started = time.perf_counter()
    future = sampler.sample(PROMPT, 2, PARAMS)
    call_s = time.perf_counter() - started
    assert clock.backing_off.wait(10.0), "the submission never met a 429"
    print(f"\nsample() returned in {call_s * 1000:.1f} ms; the back-off asked {clock.timer_waits[0]:.0f} s")
    assert call_s < 0.5  # the back-off is 60 s (held closed): the caller did not wait for it
    assert not future.done()
    # No thread sleeps through the back-off: the submission waits for it as a timer entry.
    assert clock.long_sleeps == [] and clock.timer_waits[0] > 55

    emulator.set_faults(FaultConfig())
    clock.open()
    result = future.result(timeout=60)
    assert [s.tokens for s in result.sequences] == [s.tokens for s in expected.sequences]
    assert [s.logprobs for s in result.sequences] == [s.logprobs for s in expected.sequences]
    assert emulator.stats()["asample"].faults.get("rate_limit", 0) >= 1


def _submission_s(emulator: Emulator, config: dict[str, object] | None = None) -> float:
    """Seconds one forward_backward of CHUNKS chunks takes to submit on a new client (which
    reads the emulator's client flags when it starts), each chunk's submit delayed DELAY_S."""
    service = ServiceClient(api_key=API_KEY, base_url=emulator.base_url,
                            config={"telemetry": False, **(config or {})})
    try:
        tc = service.create_lora_training_client(BASE_MODEL, rank=2)
        tc.max_chunk_len = 2
        data = [text_datum(f"flag {i}") for i in range(CHUNKS * 2)]
        tc.forward_backward(data, "cross_entropy").result(timeout=60)  # warm-up
        emulator.set_faults(f"forward_backward:latency=1.0,delay={DELAY_S}")
        try:
            started = time.perf_counter()
            future = tc.forward_backward(data, "cross_entropy")
            elapsed = time.perf_counter() - started
        finally:
            emulator.set_faults(FaultConfig())
        assert len(future.result(timeout=60).loss_fn_outputs) == len(data)
        applied = emulator.applied_seq_ids(tc.model_id)
        assert applied == list(range(1, 2 * CHUNKS + 1))
        return elapsed
    finally:
        service.close()


def test_the_server_flag_parallel_fwdbwd_chunks_turns_concurrent_chunks_off(emulator: Emulator) -> None:
    """``parallel_chunks`` left at None follows the server's client/config flag, as tinker does."""
    before = emulator.client_flags
    try:
        emulator.set_client_flags(attrs.evolve(before, parallel_fwdbwd_chunks=False))
        serial_s = _submission_s(emulator)
        emulator.set_client_flags(attrs.evolve(before, parallel_fwdbwd_chunks=True))
        parallel_s = _submission_s(emulator)
    finally:
        emulator.set_client_flags(before)
    print(f"\nserver flag off: {serial_s:.3f}s, on: {parallel_s:.3f}s ({CHUNKS} chunks, {DELAY_S}s each)")
    assert serial_s >= CHUNKS * DELAY_S
    assert parallel_s < 2 * DELAY_S


def test_the_train_pool_byte_budget_caps_chunk_bytes_in_flight(emulator: Emulator) -> None:
    """The manifest caps bytes of training requests in flight (pools.train.byte_budget, as tinker's
    fwdbwd dispatch semaphore); the pool plugin enforces it. A budget of one byte admits one chunk
    at a time (a request may overdraw the budget once), so the chunks go one after another."""
    service = ServiceClient(api_key=API_KEY, base_url=emulator.base_url, config={"telemetry": False})
    try:
        assert service.holder.client.meta.manifest.section("pools", {})["train"].byte_budget == 50_000_000
    finally:
        service.close()
    capped_s = _submission_s(emulator, {"pools": {"train": {"byte_budget": 1}}})
    print(f"\nbyte budget of 1 byte: {capped_s:.3f}s ({CHUNKS} chunks, {DELAY_S}s each)")
    assert capped_s >= CHUNKS * DELAY_S
