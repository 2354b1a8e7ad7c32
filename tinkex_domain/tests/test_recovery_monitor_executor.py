"""Recovery monitor and executor against fakes of the public client API (no network, no waiting)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pristine_runtime.clock import FakeClock
from pristine_runtime.scheduler import Scheduler
from tinkex_domain._futures import failed, resolved
from tinkex_domain.recovery import (
    AlreadyPendingError,
    CheckpointStrategyNotSupportedError,
    MissingCheckpointError,
    RecoveryDisabledError,
    RecoveryError,
    RecoveryExecutor,
    RecoveryMonitor,
    RecoveryPolicy,
)
from tinkex_domain.types import Checkpoint, TrainingRun

RUN = "run-1"
LATEST = "tinker://run-1/weights/step-20"


def checkpoint(path: str = LATEST) -> Checkpoint:
    return Checkpoint(checkpoint_id=path.split("/", 3)[-1], checkpoint_type="training", tinker_path=path)


def run(corrupted: bool = False, last: Checkpoint | None = None, run_id: str = RUN) -> TrainingRun:
    return TrainingRun(training_run_id=run_id, base_model="tinkex/tiny-byte-lm", corrupted=corrupted,
                       last_checkpoint=last)


class FakeRest:
    """RestClient.get_training_run, answering from a dict (or an error)."""

    def __init__(self, runs: dict[str, Any]) -> None:
        self.runs = runs
        self.calls: list[str] = []

    def get_training_run(self, run_id: str, access_scope: str = "owned") -> Any:
        self.calls.append(run_id)
        answer = self.runs[run_id]
        return failed(answer) if isinstance(answer, Exception) else resolved(answer)


class FakeService:
    """ServiceClient.create_rest_client / create_training_client_from_state[_with_optimizer]."""

    def __init__(self, runs: dict[str, Any], failures: int = 0) -> None:
        self.rest = FakeRest(runs)
        self.failures = failures
        self.created: list[tuple[str, bool]] = []

    def create_rest_client(self) -> FakeRest:
        return self.rest

    def _create(self, path: str, optimizer: bool) -> Any:
        self.created.append((path, optimizer))
        if self.failures:
            self.failures -= 1
            raise ConnectionError("service unavailable")
        return f"client-from-{path}"

    def create_training_client_from_state(self, path: str) -> Any:
        return self._create(path, False)

    def create_training_client_from_state_with_optimizer(self, path: str) -> Any:
        return self._create(path, True)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.recovered: list[tuple[Any, Any, Any]] = []
        self.failures: list[tuple[str, BaseException]] = []

    def on_event(self, name: str, fields: Any) -> None:
        self.events.append((name, dict(fields)))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def policy(self, **overrides: Any) -> RecoveryPolicy:
        return RecoveryPolicy.new(
            {"enabled": True, "on_recovery": lambda *a: self.recovered.append(a),
             "on_failure": lambda *a: self.failures.append(a)}, **overrides)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def scheduler(clock: FakeClock) -> Scheduler:
    return Scheduler(clock, background=False)


def setup(scheduler: Scheduler, rec: Recorder, **policy: Any) -> tuple[RecoveryExecutor, RecoveryMonitor]:
    executor = RecoveryExecutor(scheduler=scheduler, on_event=rec.on_event)
    return executor, RecoveryMonitor(executor, rec.policy(**policy), on_event=rec.on_event)


# ---------------------------------------------------------------------------- monitor


def test_a_disabled_policy_or_a_missing_executor_refuses_to_monitor(scheduler: Scheduler) -> None:
    service = FakeService({RUN: run()})
    with pytest.raises(RecoveryDisabledError):
        RecoveryMonitor(RecoveryExecutor(scheduler=scheduler), RecoveryPolicy()).monitor_run(RUN, service)
    with pytest.raises(RecoveryError, match="executor"):
        RecoveryMonitor(None, {"enabled": True}, scheduler=scheduler).monitor_run(RUN, service)
    with pytest.raises(RecoveryError, match="executor"):
        RecoveryMonitor(None, {"enabled": True}).monitor_run(RUN, service)


def test_healthy_runs_are_polled_every_interval_and_left_alone(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({RUN: run()})
    _, monitor = setup(scheduler, rec, poll_interval_s=30)
    monitor.monitor_run(RUN, service)
    clock.advance(29.9)
    scheduler.run_due()
    assert service.rest.calls == []  # not due yet
    for _ in range(3):
        clock.advance(30)
        scheduler.run_due()
    assert service.rest.calls == [RUN, RUN, RUN]
    assert service.created == [] and rec.events == []
    assert monitor.monitored_runs() == [RUN] and scheduler.pending() == 1


def test_a_corrupted_run_is_recovered_from_its_latest_checkpoint(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({RUN: run(corrupted=True, last=checkpoint())})
    _, monitor = setup(scheduler, rec)
    monitor.monitor_run(RUN, service, {"training_client": "old-client", "job": "nightly"})
    clock.advance(30)
    scheduler.run_due()
    assert service.created == [(LATEST, True)]
    assert rec.recovered == [("old-client", f"client-from-{LATEST}", checkpoint())]
    assert rec.names() == [
        "recovery.detected", "recovery.started", "recovery.checkpoint_selected", "recovery.client_created",
        "recovery.completed",
    ]
    detected, completed = rec.events[0][1], rec.events[-1][1]
    assert detected["checkpoint"] == LATEST and detected["job"] == "nightly"
    assert completed["attempt"] == 1 and completed["strategy"] == "latest" and completed["run_id"] == RUN
    assert monitor.monitored_runs() == [] and scheduler.pending() == 0  # nothing left to poll


def test_poll_errors_are_reported_and_the_run_stays_monitored(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({RUN: ConnectionError("down")})
    _, monitor = setup(scheduler, rec, poll_interval_s=10)
    monitor.monitor_run(RUN, service)
    clock.advance(10)
    scheduler.run_due()
    assert rec.names() == ["recovery.poll_error"] and "down" in rec.events[0][1]["error"]
    service.rest.runs[RUN] = run(corrupted=True, last=checkpoint())
    clock.advance(10)
    scheduler.run_due()
    assert service.created == [(LATEST, True)] and monitor.monitored_runs() == []


def test_stop_monitoring_and_close_cancel_polling(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({RUN: run(corrupted=True, last=checkpoint()), "run-2": run(run_id="run-2")})
    _, monitor = setup(scheduler, rec)
    monitor.monitor_run(RUN, service)
    monitor.monitor_run("run-2", service)
    monitor.stop_monitoring(RUN)
    clock.advance(30)
    scheduler.run_due()
    assert service.rest.calls == ["run-2"] and service.created == []
    monitor.close()
    clock.advance(300)
    scheduler.run_due()
    assert service.rest.calls == ["run-2"] and scheduler.pending() == 0
    with pytest.raises(RecoveryError):
        monitor.monitor_run(RUN, service)


# ---------------------------------------------------------------------------- executor


def test_recover_refuses_when_disabled_or_already_pending(scheduler: Scheduler) -> None:
    service = FakeService({RUN: run()}, failures=1)
    executor = RecoveryExecutor(scheduler=scheduler)
    with pytest.raises(RecoveryDisabledError):
        executor.recover(RUN, service, RecoveryPolicy())
    executor.recover(RUN, service, {"enabled": True}, last_checkpoint=checkpoint())
    assert executor.pending() == [RUN]  # failed once, waiting for its retry
    with pytest.raises(AlreadyPendingError):
        executor.recover(RUN, service, {"enabled": True})


def test_weights_only_restore_and_specific_checkpoint(scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({})
    executor = RecoveryExecutor(scheduler=scheduler)
    executor.recover(RUN, service, rec.policy(restore_optimizer=False), last_checkpoint=checkpoint())
    specific = "tinker://run-1/weights/step-5"
    executor.recover("run-2", service, rec.policy(checkpoint_strategy=("specific", specific)),
                     last_checkpoint=checkpoint())
    assert service.created == [(LATEST, False), (specific, True)]


def test_latest_checkpoint_is_fetched_when_not_given(scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({RUN: run(corrupted=True, last=checkpoint())})
    RecoveryExecutor(scheduler=scheduler).recover(RUN, service, rec.policy())
    assert service.rest.calls == [RUN] and service.created == [(LATEST, True)]


def test_failures_back_off_then_succeed(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({}, failures=2)
    executor = RecoveryExecutor(scheduler=scheduler, on_event=rec.on_event)
    start = clock.monotonic()
    executor.recover(RUN, service, rec.policy(backoff_s=5, max_backoff_s=60), last_checkpoint=checkpoint())
    times = [start]
    for _ in range(2):
        due = scheduler.next_due()
        assert due is not None
        clock.advance(due - clock.monotonic())
        times.append(clock.monotonic())
        scheduler.run_due()
    assert [t - start for t in times] == [0, 5, 15]
    assert len(service.created) == 3 and rec.recovered and not rec.failures
    delays = [f["delay_s"] for n, f in rec.events if n == "recovery.retry_scheduled"]
    assert delays == [5.0, 10.0]
    assert executor.pending() == []


def test_exhausted_after_max_attempts_calls_on_failure(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({}, failures=10)
    executor = RecoveryExecutor(scheduler=scheduler, on_event=rec.on_event)
    executor.recover(RUN, service, rec.policy(max_attempts=3), last_checkpoint=checkpoint())
    clock.advance(1000)
    scheduler.run_due()
    clock.advance(1000)
    scheduler.run_due()
    assert len(service.created) == 3
    assert rec.names().count("recovery.failed") == 3 and rec.names()[-1] == "recovery.exhausted"
    assert [(r, type(e)) for r, e in rec.failures] == [(RUN, ConnectionError)]
    assert executor.pending() == [] and scheduler.pending() == 0


def test_best_strategy_fails_permanently(scheduler: Scheduler) -> None:
    rec = Recorder()
    executor = RecoveryExecutor(scheduler=scheduler)
    executor.recover(RUN, FakeService({}), rec.policy(checkpoint_strategy="best"), last_checkpoint=checkpoint())
    assert isinstance(rec.failures[0][1], CheckpointStrategyNotSupportedError)
    assert scheduler.pending() == 0


def test_a_run_without_checkpoint_is_retried_then_fails(clock: FakeClock, scheduler: Scheduler) -> None:
    rec = Recorder()
    service = FakeService({RUN: run(corrupted=True)})
    RecoveryExecutor(scheduler=scheduler).recover(RUN, service, rec.policy(max_attempts=2))
    clock.advance(5)
    scheduler.run_due()
    assert service.rest.calls == [RUN, RUN]
    assert isinstance(rec.failures[0][1], MissingCheckpointError) and service.created == []


def test_callback_exceptions_are_swallowed(scheduler: Scheduler) -> None:
    def explode(*args: Any) -> None:
        raise RuntimeError("callback bug")

    executor = RecoveryExecutor(scheduler=scheduler)
    executor.recover(RUN, FakeService({}), {"enabled": True, "on_recovery": explode}, last_checkpoint=checkpoint())
    executor.recover("run-2", FakeService({}, failures=1),
                     {"enabled": True, "max_attempts": 1, "on_failure": explode}, last_checkpoint=checkpoint())
    assert executor.pending() == []


class DeferredRunner:
    """An executor-like runner that holds tasks until the test runs them."""

    def __init__(self) -> None:
        self.tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self.tasks.append((fn, args))

    def run_next(self) -> None:
        fn, args = self.tasks.pop(0)
        fn(*args)


def test_at_most_max_concurrent_attempts_run_in_fifo_order(scheduler: Scheduler) -> None:
    runner = DeferredRunner()
    service = FakeService({})
    executor = RecoveryExecutor(scheduler=scheduler, runner=runner, max_concurrent=2)
    for i in range(4):
        executor.recover(f"run-{i}", service, {"enabled": True}, last_checkpoint=checkpoint(f"tinker://run-{i}/weights/a"))
    assert len(runner.tasks) == 2  # two in flight, two queued
    runner.run_next()
    assert len(runner.tasks) == 2  # a slot freed: the next queued one started
    while runner.tasks:
        runner.run_next()
    assert [path for path, _ in service.created] == [f"tinker://run-{i}/weights/a" for i in range(4)]
    assert executor.pending() == []


def test_close_cancels_scheduled_retries(clock: FakeClock, scheduler: Scheduler) -> None:
    service = FakeService({}, failures=5)
    executor = RecoveryExecutor(scheduler=scheduler)
    executor.recover(RUN, service, {"enabled": True}, last_checkpoint=checkpoint())
    executor.close()
    clock.advance(100)
    assert scheduler.run_due() == 0 and len(service.created) == 1
    with pytest.raises(RecoveryDisabledError):
        executor.recover(RUN, service, {"enabled": True})


def test_events_reach_the_service_client_emitter(scheduler: Scheduler) -> None:
    emitted: list[tuple[str, dict[str, Any]]] = []

    class Client:
        def __init__(self) -> None:
            self.meta = self

        def emit(self, name: str, **fields: Any) -> None:
            emitted.append((name, fields))

    service = FakeService({})
    service.holder = type("Holder", (), {"client": Client()})()  # type: ignore[attr-defined]
    RecoveryExecutor(scheduler=scheduler).recover(
        RUN, service, {"enabled": True}, last_checkpoint=checkpoint(), metadata={"training_client": object()})
    assert [name for name, _ in emitted][-1] == "recovery.completed"
    assert all("training_client" not in fields for _, fields in emitted)  # objects are not sent on
