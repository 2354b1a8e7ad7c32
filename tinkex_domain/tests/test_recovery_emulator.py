"""Recovery end to end: a corrupted run on the emulator is restored from its latest checkpoint."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from pristine_runtime.clock import FakeClock
from pristine_runtime.scheduler import Scheduler
from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator
from tinkex_domain.recovery import RecoveryExecutor, RecoveryMonitor, RecoveryPolicy

from .conftest import API_KEY, BASE_MODEL, text_datum


def corrupt(emulator: Emulator, run_id: str) -> None:
    """Mark a run failed on the emulator (it then reports ``corrupted: true``).

    The emulator has no public switch for this, so the test reaches into its training service.
    """
    emulator._s.training.model(run_id).status = "failed"


def test_a_corrupted_run_is_restored_with_its_weights(emulator: Emulator, service: ServiceClient) -> None:
    datum = text_datum("recovery keeps the weights of the last checkpoint")
    training = service.create_lora_training_client(BASE_MODEL, rank=4, seed=11)
    for _ in range(2):
        training.forward_backward([datum], "cross_entropy")
        training.optim_step(types.AdamParams(learning_rate=1e-2)).result()
    checkpoint = training.save_state("before-crash").result().path
    expected = training.forward([datum], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].to_numpy()

    clock = FakeClock()
    scheduler = Scheduler(clock, background=False)
    recovered: list[tuple[Any, Any, Any]] = []
    events: list[str] = []
    executor = RecoveryExecutor(scheduler=scheduler, on_event=lambda name, fields: events.append(name))
    policy = RecoveryPolicy(enabled=True, poll_interval_s=15, on_recovery=lambda *a: recovered.append(a))
    monitor = RecoveryMonitor(executor, policy, on_event=lambda name, fields: events.append(name))
    monitor.monitor_run(training.model_id, service, {"training_client": training})

    clock.advance(15)
    scheduler.run_due()
    assert recovered == [] and monitor.monitored_runs() == [training.model_id]  # healthy so far

    corrupt(emulator, training.model_id)
    clock.advance(15)
    scheduler.run_due()
    assert len(recovered) == 1, events
    old, new, restored_from = recovered[0]
    assert old is training and new.model_id != training.model_id
    assert restored_from.tinker_path == checkpoint
    got = new.forward([datum], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert events[0] == "recovery.detected" and events[-1] == "recovery.completed"
    assert monitor.monitored_runs() == [] and executor.pending() == []


def test_recovery_runs_unattended_on_the_clients_scheduler_and_stops_with_it(emulator: Emulator) -> None:
    """No ``run_due``: the client's scheduler polls (in fake time) and recovers by itself."""
    clock = FakeClock()
    service = ServiceClient(api_key=API_KEY, base_url=emulator.base_url, config={"telemetry": False}, clock=clock)
    try:
        training = service.create_lora_training_client(BASE_MODEL, rank=4, seed=5)
        training.save_state("unattended").result()
        done = threading.Event()
        recovered: list[tuple[Any, Any, Any]] = []
        policy = RecoveryPolicy(
            enabled=True, poll_interval_s=30, on_recovery=lambda *a: (recovered.append(a), done.set())
        )
        executor = RecoveryExecutor()
        monitor = RecoveryMonitor(executor, policy)
        started = clock.monotonic()
        corrupt(emulator, training.model_id)
        monitor.monitor_run(training.model_id, service, {"training_client": training})
        assert done.wait(30), "recovery did not run by itself"
        assert clock.monotonic() - started >= 30  # one poll interval passed, in fake time only
        assert recovered[0][0] is training and recovered[0][1].model_id != training.model_id
        assert monitor.monitored_runs() == [] and executor.pending() == []
        scheduler = service.holder.client.meta.scheduler
        assert monitor.scheduler is scheduler
    finally:
        service.close()
    assert scheduler.closed and scheduler.live_threads() == []
