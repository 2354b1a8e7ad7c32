"""The futures plugin polls and submits on lanes of the client's scheduler, not on threads of its own."""

from __future__ import annotations

import threading

from pristine_plugins.futures.tests.test_futures_concurrency import held_reply, plugin_threads
from pristine_runtime.lanes import Lane
from pristine_testing import json_reply


def test_polls_run_on_a_lane_of_the_clients_scheduler_sized_by_max_workers(future_server, make_client, plugin):
    client = make_client(future_server.url, futures={"max_workers": 3, "submit_workers": 2})
    assert client.jobs.submit(x=1).result(timeout=10).value == 1
    lane = plugin(client).scheduler
    assert isinstance(lane, Lane) and lane.scheduler is client.meta.scheduler
    assert (lane.name, lane.max_workers) == ("futures", 3)
    assert plugin(client).submit_in_background(lambda: 7).result(timeout=5) == 7
    assert [(x.name, x.max_workers) for x in client.meta.scheduler.lanes()] == [("futures", 3), ("submit", 2)]
    scheduler = client.meta.scheduler
    client.close()
    assert scheduler.closed and lane.closed and scheduler.live_threads() == []
    assert plugin(client).threads() == [] and plugin_threads() == []


def test_a_held_long_poll_does_not_starve_the_clients_other_work(future_server, make_client, plugin):
    """The reason for lanes: a poll blocked on the server must not hold the client's shared workers."""
    client = make_client(future_server.url, futures={"max_workers": 1}, config={"scheduler_workers": 1})
    release, arrived = threading.Event(), threading.Event()
    future_server.script("r1", held_reply(release, json_reply({"value": 1}), arrived))
    future = client.jobs.submit(x=1)
    try:
        assert arrived.wait(5)  # the futures lane's only worker is blocked in the poll
        ran = threading.Event()
        assert client.meta.scheduler.submit(ran.set) is not None
        assert ran.wait(5)  # the client's own worker still runs at once
        assert not future.done()
    finally:
        release.set()
    assert future.result(timeout=10).value == 1
    client.close()
    assert plugin_threads() == []
