"""Real async: ``*_async`` methods run their blocking steps off the event loop and await futures
without a thread, so many of them overlap and the loop keeps ticking."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Iterator

import pytest

from pristine_runtime.aio import SchedulerClosedError, run_off_loop, wait_future
from pristine_runtime.scheduler import Scheduler
from tinkex_domain import ServiceClient, TrainingClient, types
from tinkex_domain.emulator import Emulator, EmulatorConfig

from .conftest import API_KEY, BASE_MODEL

PROMPT = types.ModelInput.from_ints(list(b"hello"))
QUEUE_DELAY_S = 1.0


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[Emulator]:
    """An emulator whose every future takes ``QUEUE_DELAY_S`` to resolve."""
    emu = Emulator(EmulatorConfig(queue_delay_s=QUEUE_DELAY_S, long_poll_s=0.5, workers=8)).start()
    try:
        yield emu
    finally:
        emu.stop()


async def _gather_with_probe(service: ServiceClient) -> tuple[float, float, list[object]]:
    sampler = await service.create_sampling_client_async(base_model=BASE_MODEL)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(probe())
    await asyncio.sleep(0.05)  # the probe is ticking before the work starts
    started = time.monotonic()
    results = await asyncio.gather(
        *(service.create_lora_training_client_async(BASE_MODEL, rank=4, seed=i) for i in range(10)),
        *(sampler.sample_async(PROMPT, 1, types.SamplingParams(max_tokens=4, seed=i)) for i in range(10)),
    )
    elapsed = time.monotonic() - started
    done.set()
    await ticker
    return elapsed, max(gaps), list(results)


def test_gathered_async_calls_overlap_and_never_stall_the_loop(
    slow_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both bounds must hold in one run. The 2-core CI machine is shared, and an overloaded OS can
    deschedule the whole process for longer than the probe's bound, so up to three runs are made
    (each is reported); a loop blocked by the SDK itself fails all three."""
    service = ServiceClient(api_key=API_KEY, base_url=slow_emulator.base_url, config={"telemetry": False})
    runs: list[tuple[float, float]] = []
    try:
        for _ in range(3):
            elapsed, max_gap, results = asyncio.run(_gather_with_probe(service))
            trainings, samples = results[:10], results[10:]
            assert all(isinstance(t, TrainingClient) for t in trainings)
            assert len({t.model_id for t in trainings}) == 10  # type: ignore[attr-defined]
            assert all(isinstance(s, types.SampleResponse) and s.sequences for s in samples)
            runs.append((elapsed, max_gap))
            if elapsed < 2.5 and max_gap < 0.1:
                break
    finally:
        service.close()
    with capsys.disabled():
        for elapsed, max_gap in runs:
            print(
                f"\n[async] gather of 10 create_lora_training_client_async + 10 sample_async"
                f" (queue delay {QUEUE_DELAY_S:g}s): {elapsed:.2f}s; max probe gap {max_gap * 1000:.0f} ms"
            )
    elapsed, max_gap = runs[-1]
    assert elapsed < 2.5, f"the 20 calls ran serially-ish: {runs}"
    assert max_gap < 0.1, f"the event loop stalled {max_gap * 1000:.0f} ms: {runs}"


def test_run_off_loop_runs_on_the_scheduler_and_propagates_errors() -> None:
    scheduler = Scheduler(max_workers=2, name="t-aio")
    callers: list[str] = []

    def blocking(x: int) -> int:
        callers.append(threading.current_thread().name)
        if x < 0:
            raise ValueError("negative")
        return x * 2

    async def main() -> tuple[int, BaseException | None]:
        value = await run_off_loop(scheduler, blocking, 21)
        try:
            await run_off_loop(scheduler, blocking, -1)
        except ValueError as exc:
            return value, exc
        return value, None

    value, error = asyncio.run(main())
    assert value == 42 and isinstance(error, ValueError)
    assert all(name.startswith("t-aio-") for name in callers)
    scheduler.close(5)
    with pytest.raises(SchedulerClosedError):
        asyncio.run(run_off_loop(scheduler, blocking, 1))
    assert scheduler.live_threads() == []


def test_cancelling_the_awaiting_task_cancels_the_wait_cleanly() -> None:
    scheduler = Scheduler(max_workers=1, name="t-aio-cancel")
    gate = threading.Event()
    ran: list[str] = []

    async def main() -> tuple[bool, bool]:
        blocker = asyncio.ensure_future(run_off_loop(scheduler, gate.wait, 5))
        queued = asyncio.ensure_future(run_off_loop(scheduler, lambda: ran.append("queued")))
        pending: concurrent.futures.Future[int] = concurrent.futures.Future()
        waiter = asyncio.ensure_future(wait_future(pending))
        await asyncio.sleep(0.05)
        queued.cancel()
        waiter.cancel()
        await asyncio.gather(queued, waiter, return_exceptions=True)
        gate.set()
        await blocker
        return queued.cancelled(), pending.cancelled()

    queued_cancelled, future_cancelled = asyncio.run(main())
    assert queued_cancelled and future_cancelled
    assert scheduler.close(5) == []
    assert ran == []  # the cancelled step never started
