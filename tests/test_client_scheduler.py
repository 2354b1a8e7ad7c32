"""The client's scheduler (``client.meta.scheduler``): owned and closed by the client, sized by the manifest or
the config, its lanes stopped with it. The scheduler itself is tested in ``pristine_runtime/tests``."""

from __future__ import annotations

import logging
import threading

import pytest

from pristine_core import Client, FakeClock, ManifestError, ValidationError
from pristine_core.logs import LibraryLogger
from pristine_runtime.lanes import Lane
from pristine_runtime.scheduler import Scheduler

MANIFEST = {"name": "sched", "version": "1", "base_url": "http://127.0.0.1:9", "resources": {}}


def named(prefix: str) -> list[threading.Thread]:
    """Live threads whose name starts with ``prefix``."""
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def assert_no_threads_left(scheduler: Scheduler) -> None:
    assert scheduler.live_threads() == []
    name = scheduler.name
    assert not [t for t in threading.enumerate() if t.name == name or t.name.startswith(name + "-")]


def test_a_client_owns_one_scheduler_closed_with_it() -> None:
    clock = FakeClock()
    client = Client(MANIFEST, clock=clock, autoload_plugins=False)
    scheduler = client.meta.scheduler
    assert client.meta.scheduler is scheduler and scheduler.clock is clock
    done = threading.Event()
    scheduler.call_later(60, done.set)
    assert done.wait(5)
    scheduler.call_later(3600, lambda: None)
    assert scheduler.live_threads()
    client.close()
    assert scheduler.closed
    assert_no_threads_left(scheduler)


def test_a_closed_client_never_starts_a_scheduler_again() -> None:
    """Reading ``meta.scheduler`` or ``meta.watchdog`` after close gives closed schedulers that
    refuse work, whether or not they had been started before."""
    used = Client(MANIFEST, autoload_plugins=False)
    first = used.meta.scheduler
    used.close()
    unused = Client(MANIFEST, autoload_plugins=False)
    unused.close()
    for client in (used, unused):
        for scheduler in (client.meta.scheduler, client.meta.watchdog):
            assert scheduler.closed
            assert scheduler.submit(lambda: None) is None
            assert scheduler.call_later(1, lambda: None) is None
            assert not scheduler.live_threads()
    assert used.meta.scheduler is first


def test_the_client_scheduler_size_comes_from_the_manifest_or_the_config() -> None:
    """``defaults.scheduler_workers`` sizes every client's scheduler; ``config`` wins per client."""
    assert Client(MANIFEST, autoload_plugins=False).meta.scheduler_workers == 8  # the default
    sized = {**MANIFEST, "defaults": {"scheduler_workers": 2}}
    client = Client(sized, autoload_plugins=False)
    override = Client(sized, autoload_plugins=False, config={"scheduler_workers": 5})
    try:
        assert client.meta.scheduler.max_workers == 2
        assert override.meta.scheduler.max_workers == 5
        gate = threading.Event()
        started = threading.Semaphore(0)

        def task() -> None:
            started.release()
            gate.wait(5)

        for _ in range(6):
            client.meta.scheduler.submit(task)
        for _ in range(2):
            assert started.acquire(timeout=5)
        assert not started.acquire(timeout=0.05)  # a third task waits for one of the two workers
        assert len(client.meta.scheduler.live_threads()) == 2
        gate.set()
        for _ in range(4):
            assert started.acquire(timeout=5)
    finally:
        scheduler = client.meta.scheduler
        client.close()
        override.close()
    assert_no_threads_left(scheduler)


@pytest.mark.parametrize(
    ("manifest", "config", "error", "path"),
    [
        ({**MANIFEST, "defaults": {"scheduler_workers": 0}}, None, ManifestError, "defaults.scheduler_workers"),
        ({**MANIFEST, "defaults": {"scheduler_workers": "many"}}, None, ManifestError, "defaults.scheduler_workers"),
        (MANIFEST, {"scheduler_workers": 0}, ValidationError, "scheduler_workers"),
    ],
)
def test_a_bad_scheduler_size_names_its_path(
    manifest: dict[str, object], config: dict[str, object] | None, error: type[Exception], path: str
) -> None:
    with pytest.raises(error, match=path):
        Client(manifest, autoload_plugins=False, config=config)


def test_the_clients_scheduler_gives_lanes_and_stops_them_with_the_client() -> None:
    client = Client(MANIFEST, autoload_plugins=False, config={"scheduler_workers": 1})
    scheduler = client.meta.scheduler
    lane = scheduler.lane("plugin", 2, thread_name="t-client-lane")
    assert isinstance(lane, Lane) and lane.clock is client.meta.clock and lane.scheduler is scheduler
    done = threading.Event()
    lane.submit(done.set)
    assert done.wait(5)
    client.close()
    assert lane.closed and scheduler.live_threads() == [] and named("t-client-lane") == []


def test_a_failing_task_of_the_clients_scheduler_is_logged_through_pristine_core_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The runtime's scheduler reports to the log the client gives it: the core's library logger
    (structlog when the application configured it, stdlib ``logging`` otherwise)."""
    clock = FakeClock()
    client = Client(MANIFEST, clock=clock, autoload_plugins=False)
    try:
        assert isinstance(client.meta.scheduler.log, LibraryLogger)
        assert isinstance(client.meta.watchdog.log, LibraryLogger)
        done = threading.Event()

        def boom() -> None:
            done.set()
            raise RuntimeError("boom")

        with caplog.at_level(logging.ERROR, logger="pristine_core"):
            client.meta.scheduler.submit(boom, name="boom")
            assert done.wait(5)
            assert client.meta.scheduler.close(5) == []  # joins the worker: the task was logged
    finally:
        client.close()
    (record,) = [r for r in caplog.records if "pristine.scheduler.task_failed" in r.getMessage()]
    assert record.name.startswith("pristine_core.") and "task='<Handle boom" in record.getMessage()

